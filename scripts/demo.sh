#!/usr/bin/env bash
# The main job on embedded defaults: starts the Docker engine if needed (installing Debian's docker.io
# on a fresh machine), builds the test action image, then runs `nemo demo` — the NEMO invoker with an
# in-process Kafka, a file-backed store seeded with a sample action and real containers — playing the
# controller for a few activations. Stops the Docker engine again if it started it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  scripts/services.sh up docker
  trap 'scripts/services.sh down' EXIT
fi
scripts/build-images.sh
go run ./invoker/cmd/nemo demo "$@"
