#!/usr/bin/env bash
# usage: scripts/gotest.sh <label> <go test arguments…>
# Runs `go test -json <arguments>` and pipes it through integration/testrun: one line per package as plain
# go test prints it, the output of every failed test, then every skipped test with its message. Fails when
# a test fails, a package does not build, or a test skipped without an entry in scripts/test-skips.txt
# (each entry says why this machine cannot run that test). The test command (scripts/test.sh) runs every
# go test through it, so no skip goes unnoticed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 <label> <go test arguments…>" >&2; exit 2; }
label=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/testrun" ./integration/testrun/cmd/testrun
set +e
go test -json "$@" | "$tmp/testrun" -label "$label" -allow scripts/test-skips.txt
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[1]}" -ne 0 ]; then exit "${status[1]}"; fi
if [ "${status[0]}" -ne 0 ]; then
  echo "[$label] go test exited ${status[0]} although no test failed (see its output above)" >&2
  exit "${status[0]}"
fi
