#!/usr/bin/env bash
# Builds the invoker image nemo/invoker (Dockerfile at the repository root) and says what it did.
#
#   nemo/invoker:<version>  and  nemo/invoker:latest
#   FROM scratch: static nemo binary at /usr/bin/nemo, /init.sh (deployments/image/init.sh), a static
#   busybox at /bin/busybox with the applets below (sh first: OpenWhisk's compose command is /bin/sh -c …)
#   and /bin/bash (deployments/image/bash: ash under that name, for Helm's /bin/bash -c … command).
#
# Usage: scripts/build-invoker-image.sh [--force]
#   --force   rebuild even when the image is up to date
# Environment:
#   NEMO_BUSYBOX         static busybox to copy (default /bin/busybox; Debian: apt-get install -y busybox-static)
#   NEMO_INVOKER_IMAGE   image repository (default nemo/invoker)
#
# <version> is `git describe --tags --always` plus "-dirty" when tracked files are modified; it is stamped
# into the binary (-X main.version, printed by `nemo version`) and the label org.opencontainers.image.version.
# Idempotent: the context (binary, busybox, init.sh, Dockerfile) is hashed into the label nemo.src; when
# <version> already carries that hash nothing is rebuilt (latest is re-pointed if needed). Git is only
# read, without taking the index lock (GIT_OPTIONAL_LOCKS=0; the Go build does not stamp VCS data).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${NEMO_INVOKER_IMAGE:-nemo/invoker}
BUSYBOX=${NEMO_BUSYBOX:-/bin/busybox}
# Applets linked to busybox: sh for the compose command, wget for the HEALTHCHECK, cat, grep and sed for
# Helm's configureDNS.sh, the rest for an operator who runs `docker exec -it <invoker> sh` to look around.
APPLETS=(sh ash cat echo env false grep head kill ls mkdir ps rm sed sleep tail test true '[' wget)
FORCE=0

while [ $# -gt 0 ]; do
	case "$1" in
	--force) FORCE=1 ;;
	-h | --help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "build-invoker-image: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

export DOCKER_BUILDKIT=0 # buildx is not installed; the legacy builder is enough for a FROM scratch image
export GIT_OPTIONAL_LOCKS=0
say() { echo "build-invoker-image: $*"; }
die() { echo "build-invoker-image: $*" >&2; exit 1; }
t0=$SECONDS

# is_static FILE: no program interpreter (ldd says "not a dynamic executable" and fails).
is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }

command -v go >/dev/null || die "go is not on PATH"
docker version -f '{{.Server.Version}}' >/dev/null 2>&1 || die "the Docker engine is not reachable"
[ -f "$BUSYBOX" ] || die "$BUSYBOX not found: apt-get install -y busybox-static (or set NEMO_BUSYBOX)"
is_static "$BUSYBOX" || die "$BUSYBOX is dynamically linked: apt-get install -y busybox-static (or set NEMO_BUSYBOX)"

# Version, revision and creation time come from git, so rebuilding the same tree gives the same image.
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	VERSION=$(git -C "$ROOT" describe --tags --always)
	if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
		VERSION=$VERSION-dirty
	fi
	REVISION=$(git -C "$ROOT" rev-parse HEAD)
	CREATED=$(git -C "$ROOT" log -1 --format=%cI HEAD)
else
	VERSION=dev REVISION=unknown CREATED=1970-01-01T00:00:00Z
fi
# A Docker tag allows [A-Za-z0-9_.-], at most 128 characters, not starting with '.' or '-'.
TAG=$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9_.-' '-' | sed 's/^[.-]*//' | cut -c1-128)
[ -n "$TAG" ] || TAG=dev

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CTX=$WORK/ctx
ROOTFS=$CTX/rootfs
mkdir -p "$ROOTFS/usr/bin" "$ROOTFS/bin" "$ROOTFS/tmp" "$ROOTFS/logs" "$ROOTFS/etc/nemo" "$ROOTFS/var/lib/nemo"
chmod 1777 "$ROOTFS/tmp"

# Two builds of the same source: /usr/bin/nemo-classic (-tags classiconly: the classic invoker only, which
# /init.sh starts; about 40 % less resident memory) and /usr/bin/nemo (every command and both scheduler
# protocols; nemo-classic hands it a configuration that needs OpenWhisk's new scheduler).
for b in nemo:"" nemo-classic:classiconly; do
	name=${b%%:*} tags=${b#*:}
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags "$tags" \
		-ldflags "-s -w -X main.version=$VERSION" -o "$ROOTFS/usr/bin/$name" ./invoker/cmd/nemo) ||
		die "go build ./invoker/cmd/nemo ($name) failed"
	is_static "$ROOTFS/usr/bin/$name" || die "the $name binary is not static"
	say "compiled $name $VERSION ($(du -h "$ROOTFS/usr/bin/$name" | cut -f1), static)"
done

cp "$BUSYBOX" "$ROOTFS/bin/busybox"
chmod 755 "$ROOTFS/bin/busybox"
for a in "${APPLETS[@]}"; do
	ln -s busybox "$ROOTFS/bin/$a"
done
install -m 755 "$ROOT/deployments/image/init.sh" "$ROOTFS/init.sh"
install -m 755 "$ROOT/deployments/image/bash" "$ROOTFS/bin/bash"
cp "$ROOT/Dockerfile" "$CTX/Dockerfile"

# One hash over the context (names, modes, symlinks, contents) and the build arguments.
HASH=$( (
	cd "$CTX"
	printf '%s\n' "$VERSION" "$REVISION" "$CREATED"
	find . -printf '%p %m %y %l\n' | LC_ALL=C sort
	find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
) | sha256sum | cut -c1-16)

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
label() { docker image inspect -f '{{index .Config.Labels "nemo.src"}}' "$1" 2>/dev/null || true; }

if [ "$FORCE" = 0 ] && [ "$(label "$IMAGE:$TAG")" = "$HASH" ]; then
	if [ "$(image_id "$IMAGE:latest")" != "$(image_id "$IMAGE:$TAG")" ]; then
		docker tag "$IMAGE:$TAG" "$IMAGE:latest"
		say "skip build of $IMAGE:$TAG (up to date, nemo.src=$HASH); tagged it $IMAGE:latest"
	else
		say "skip $IMAGE:$TAG = $IMAGE:latest (up to date, nemo.src=$HASH)"
	fi
else
	docker build -q \
		--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED" \
		--label "nemo.src=$HASH" -t "$IMAGE:$TAG" -t "$IMAGE:latest" "$CTX" >"$WORK/build.log" 2>&1 ||
		{ cat "$WORK/build.log" >&2; die "docker build failed"; }
	say "built $IMAGE:$TAG and $IMAGE:latest (nemo.src=$HASH)"
	# An earlier build of the same (dirty) version lost its tags; drop it.
	docker image prune -f --filter "label=org.opencontainers.image.title=nemo-invoker" >/dev/null 2>&1 || true
fi

say "image $(image_id "$IMAGE:latest" | cut -c1-19), $(docker image inspect -f '{{.Size}}' "$IMAGE:latest") bytes," \
	"applets: ${APPLETS[*]}; $((SECONDS - t0)) s"
