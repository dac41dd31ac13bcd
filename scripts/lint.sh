#!/usr/bin/env bash
# lint.sh — runs golangci-lint with the repository's .golangci.yml (part of the test command).
# Installs the pinned version from the Go module proxy into $NEMO_CACHE/bin the first time (about 1.5 minutes
# on 2 cores); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v2.15.0
cache=${NEMO_CACHE:-/var/cache/nemo}
bin="$cache/bin/golangci-lint-$version"
if [ ! -x "$bin" ]; then
  echo "[lint] installing golangci-lint $version" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOFLAGS= GOBIN="$tmp" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
  mkdir -p "$cache/bin"
  mv "$tmp/golangci-lint" "$bin"
fi
exec "$bin" run "$@" ./...
