#!/usr/bin/env bash
# Builds NEMO's local action images (no registry is reachable) and says what it did.
#
#   nemo/action-go:latest     FROM scratch: static Go action proxy + test action (blackbox default)
#   nemo/pybase:bookworm      debootstrap bookworm minbase + python3, slimmed, docker import (cached tarball)
#   nemo/action-python:3.11   nemo/pybase + the proxy + the Python launcher
#
# Usage: scripts/build-images.sh [--python] [--force] [--cache DIR]
#   --python   also build the Python images (debootstrap takes about a minute the first time; the rootfs
#              tarball is cached, so later runs only `docker import` it)
#   --force    rebuild even when an image is up to date
#   --cache    tarball cache directory (default /var/cache/nemo/images, or $NEMO_IMAGE_CACHE)
#
# Idempotent: an image is rebuilt only when the hash of its sources (label nemo.src) changed or it is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${NEMO_IMAGE_CACHE:-/var/cache/nemo/images}
GO_IMAGE=nemo/action-go:latest
PY_BASE=nemo/pybase:bookworm
PY_IMAGE=nemo/action-python:3.11
MIRROR=${NEMO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PYTHON=0
FORCE=0

while [ $# -gt 0 ]; do
	case "$1" in
	--python) PYTHON=1 ;;
	--force) FORCE=1 ;;
	--cache) CACHE=$2; shift ;;
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "build-images: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

export DOCKER_BUILDKIT=0 # buildx is not installed; the legacy builder is enough for these images
say() { echo "build-images: $*"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# src_hash FILE... : one hash over the named files' contents and the Go version.
src_hash() {
	{
		go version
		for f in "$@"; do
			echo "== $f"
			cat "$f"
		done
	} | sha256sum | cut -c1-16
}

image_label() { docker image inspect -f '{{index .Config.Labels "nemo.src"}}' "$1" 2>/dev/null || true; }
# docker_build ARGS... : legacy-builder build; its output (and deprecation notice) is shown only on failure.
docker_build() {
	docker build -q "$@" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
}
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_bins() {
	[ -x "$WORK/bin/actionproxy" ] && return
	mkdir -p "$WORK/bin"
	(cd "$ROOT" &&
		CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/bin/actionproxy" ./integration/actionproxy/cmd/actionproxy &&
		CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/bin/testaction" ./integration/actionproxy/testaction)
	say "compiled actionproxy ($(du -h "$WORK/bin/actionproxy" | cut -f1)) and testaction ($(du -h "$WORK/bin/testaction" | cut -f1))"
}

go_sources() {
	(cd "$ROOT" && find integration/actionproxy -name '*.go' ! -name '*_test.go' | sort | sed "s|^|$ROOT/|")
	echo "$ROOT/go.mod"
}

build_go_image() {
	local hash
	# shellcheck disable=SC2046
	hash=$(src_hash $(go_sources) "$ROOT/integration/images/go/Dockerfile")
	if [ "$FORCE" = 0 ] && [ "$(image_label "$GO_IMAGE")" = "$hash" ]; then
		say "skip $GO_IMAGE (up to date, nemo.src=$hash)"
		return
	fi
	build_bins
	local ctx="$WORK/go-ctx"
	mkdir -p "$ctx"
	cp "$WORK/bin/actionproxy" "$WORK/bin/testaction" "$ROOT/integration/images/go/Dockerfile" "$ctx/"
	docker_build --label "nemo.src=$hash" -t "$GO_IMAGE" "$ctx"
	say "built $GO_IMAGE (nemo.src=$hash, $(docker image inspect -f '{{.Size}}' "$GO_IMAGE") bytes)"
}

build_pybase() {
	if [ "$FORCE" = 0 ] && image_exists "$PY_BASE"; then
		say "skip $PY_BASE (exists)"
		return
	fi
	local tarball="$CACHE/pybase-bookworm.tar.gz"
	if [ "$FORCE" = 1 ] || [ ! -s "$tarball" ]; then
		command -v debootstrap >/dev/null || { echo "build-images: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
		local rootfs="$WORK/rootfs" t0=$SECONDS
		say "debootstrap bookworm minbase from $MIRROR (about a minute)"
		debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
			{ tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
		chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 \
			>"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log" >&2; exit 1; }
		chroot "$rootfs" apt-get clean
		rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/* \
			"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/info/*
		chroot "$rootfs" python3 -c 'import json, zipfile, base64, importlib' # the launcher's needs
		mkdir -p "$CACHE"
		tar -C "$rootfs" -c . | gzip -1 >"$tarball.tmp"
		mv "$tarball.tmp" "$tarball"
		say "cached rootfs $tarball ($(du -h "$tarball" | cut -f1), $((SECONDS - t0)) s)"
	else
		say "using cached rootfs $tarball"
	fi
	docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-c 'ENV LANG=C.UTF-8' "$tarball" "$PY_BASE" >/dev/null
	say "imported $PY_BASE ($(docker image inspect -f '{{.Size}}' "$PY_BASE") bytes)"
}

build_py_image() {
	local hash base_id
	base_id=$(docker image inspect -f '{{.Id}}' "$PY_BASE")
	# shellcheck disable=SC2046
	hash=$( (echo "$base_id"; src_hash $(go_sources) "$ROOT/integration/images/python/Dockerfile" \
		"$ROOT/integration/images/python/launcher.py") | sha256sum | cut -c1-16)
	if [ "$FORCE" = 0 ] && [ "$(image_label "$PY_IMAGE")" = "$hash" ]; then
		say "skip $PY_IMAGE (up to date, nemo.src=$hash)"
		return
	fi
	build_bins
	local ctx="$WORK/py-ctx"
	mkdir -p "$ctx"
	cp "$WORK/bin/actionproxy" "$ROOT/integration/images/python/Dockerfile" "$ROOT/integration/images/python/launcher.py" "$ctx/"
	docker_build --build-arg "BASE=$PY_BASE" --label "nemo.src=$hash" -t "$PY_IMAGE" "$ctx"
	say "built $PY_IMAGE (nemo.src=$hash, $(docker image inspect -f '{{.Size}}' "$PY_IMAGE") bytes)"
}

docker version -f '{{.Server.Version}}' >/dev/null 2>&1 || { echo "build-images: the Docker engine is not reachable" >&2; exit 1; }
build_go_image
if [ "$PYTHON" = 1 ]; then
	build_pybase
	build_py_image
else
	say "python images not requested (pass --python)"
fi
# Dangling layers from rebuilt images would pile up across runs.
docker image prune -f --filter label=nemo.src >/dev/null 2>&1 || true
