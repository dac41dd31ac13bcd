#!/usr/bin/env bash
# The main job on embedded defaults: starts the Docker engine if needed (installing Debian's docker.io
# on a fresh machine), builds the test action image, then builds and runs `nemo demo` — the NEMO invoker
# with an in-process Kafka, a file-backed store seeded with a sample action and real containers — playing
# the controller for a few activations. Stops the Docker engine again if it started it.
#
# usage: scripts/demo.sh [nemo demo flags]     (scripts/demo.sh --help lists them)
# stdout is the demo's own output (its shape is documented by `nemo demo --help` and invoker/cmd/nemo);
# the image build reports on stderr. The exit status is nemo's: 0 done, 2 bad flags, 1 a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
if ! docker info >/dev/null 2>&1; then
  scripts/services.sh up docker
  trap 'rm -rf "$bin"; scripts/services.sh down' EXIT
fi
scripts/build-images.sh >&2
go build -o "$bin/nemo" ./invoker/cmd/nemo
"$bin/nemo" demo "$@"
