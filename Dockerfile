# nemo/invoker: NEMO's invoker as a drop-in image for OpenWhisk's `invoker` service
# (openwhisk-devtools docker-compose, see deployments/docker-compose/).
#
# Build it with scripts/build-invoker-image.sh, not with `docker build .` in the repository: no registry is
# reachable, so the image starts FROM scratch and the script prepares the build context in a temporary
# directory:
#
#   Dockerfile              this file
#   rootfs/usr/bin/nemo     static nemo binary (CGO_ENABLED=0, -trimpath, -ldflags "-s -w -X main.version=…")
#   rootfs/usr/bin/nemo-classic  the same, built with -tags classiconly: the classic invoker only (less memory);
#                           it hands a configuration for OpenWhisk's new scheduler to /usr/bin/nemo
#   rootfs/init.sh          deployments/image/init.sh: execs `/usr/bin/nemo-classic invoker "$@"`
#   rootfs/bin/busybox      Debian's busybox-static, with applet symlinks (sh, cat, grep, sed, ps, wget, …)
#   rootfs/bin/bash         deployments/image/bash: execs busybox ash (Helm runs /bin/bash -c "…")
#   rootfs/tmp              mode 1777; rootfs/logs, rootfs/etc/nemo, rootfs/var/lib/nemo: empty mount points
#
# What OpenWhisk's compose file needs from the image (docs/protocol.md#devtools): /bin/sh for its command
# `/bin/sh -c "exec /init.sh --id 0 >> /logs/invoker-local_logs.log 2>&1"` (Helm: /bin/bash -c, sourcing a
# DNS script that uses grep and sed, then `/init.sh --uniqueName <node>`), an /init.sh taking --id N, and a
# working directory of /, where OpenWhisk reads container logs from the relative path containers/<id>/
# (/var/lib/docker/containers mounted at /containers, docs/protocol.md#logs). NEMO itself reads the LogPath
# Docker reports (/var/lib/docker/containers/<id>/…, mounted by the compose override too) or falls back to
# the logs API. Docker is reached through /var/run/docker.sock; no docker CLI, runc or CA certificates: for
# CouchDB over https (or a Kafka without a trust store) mount a CA bundle and set SSL_CERT_FILE (or
# SSL_CERT_DIR), which the invoker honours (docs/deployments.md).
FROM scratch

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z

LABEL org.opencontainers.image.title="nemo-invoker" \
      org.opencontainers.image.description="NEMO: drop-in Go replacement for the Apache OpenWhisk invoker on edge servers running network functions" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="scratch"

COPY rootfs/ /

ENV PATH=/usr/bin:/bin
WORKDIR /

# OpenWhisk's invoker port when PORT is unset; devtools sets PORT=8085 and publishes it itself.
EXPOSE 8080

# nemo drains in-flight activations and restores NIC coalescing on SIGTERM; give it time (the compose
# override sets stop_grace_period).
STOPSIGNAL SIGTERM

# /ping answers once the invoker has started (the HTTP port is bound last, docs/protocol.md#start-up-order). Docker's
# --timeout bounds the check: Debian busybox-static's `wget -T` segfaults (measured with 1.35), so no -T.
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
    CMD ["/bin/sh", "-c", "wget -q -O /dev/null http://127.0.0.1:${PORT:-8080}/ping"]

CMD ["/init.sh", "--id", "0"]
