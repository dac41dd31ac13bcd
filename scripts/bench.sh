#!/usr/bin/env bash
# Runs NEMO's invoker benchmarks against their floors, prints the table and writes docs/benchmarks.md.
#
#   1. invoker overhead per warm activation on real Kafka (time, CPU, RSS) vs NEMO's sarama loop
#      (bench.BareLoop) and an echo process running the invoker's own Kafka feed and producer
#   2. warm activation end to end (p50, p99) vs Kafka round trip (echo) + a /run sent straight to a warm
#      container started by NEMO's Docker backend                                    goal <= 1.2x
#   3. cold start through the invoker vs NEMO's Docker backend alone
#      (bench.ColdStart over pool/docker's Backend: create+start+/init)              goal <= 1.1x
# The floors are NEMO's own parts without the invoker around them (not the Docker CLI or another client).
#   4. invoker RSS idle and with 8 warm containers; idle CPU (pings on) over 20 s
#   5. cgroup freeze+thaw vs docker pause+unpause (pool/docker BenchmarkFreezeThawVsPause)
#
# Usage: scripts/bench.sh [--quick] [--no-write] [--no-perf] [-n N] [--reps R] [--warm W]
#   --quick     a smoke run (N=100, 1 repetition, 30 warm calls); implies --no-write
#   --no-write  print the table only; leave docs/benchmarks.md alone
#   --no-perf   skip the perf profile of the invoker (taken during one extra, unreported batch when perf exists)
#
# Assumes the services are up (scripts/services.sh up): Kafka on 127.0.0.1:9092, pouchdb-server on
# 127.0.0.1:5984 (nemo/nemo), Docker, and the image nemo/action-go:latest (scripts/build-images.sh).
# Exits 2 when they are not. Stops by itself within about 12 minutes (typically 2-3).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=500 REPS=3 WARM=200 WRITE=1 PERF=1 IDLE=20s
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) N=100 REPS=1 WARM=30 WRITE=0 IDLE=5s ;;
	--no-write) WRITE=0 ;;
	--no-perf) PERF=0 ;;
	-n) N=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--warm) WARM=$2; shift ;;
	-h | --help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "bench: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

KAFKA=${NEMO_KAFKA:-127.0.0.1:9092}
COUCH=${NEMO_COUCHDB:-http://nemo:nemo@127.0.0.1:5984}
IMAGE=nemo/action-go:latest
say() { echo "bench: $*" >&2; }

# ---- services
missing=()
(exec 3<>"/dev/tcp/${KAFKA%:*}/${KAFKA##*:}") 2>/dev/null || missing+=("Kafka at $KAFKA")
curl -sf -m 5 -o /dev/null "$COUCH/" || missing+=("pouchdb-server/CouchDB at ${COUCH#*@}")
docker info >/dev/null 2>&1 || missing+=("Docker engine")
if [ ${#missing[@]} -eq 0 ] && ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
	missing+=("image $IMAGE (scripts/build-images.sh)")
fi
if [ ${#missing[@]} -gt 0 ]; then
	say "services not up: ${missing[*]}"
	say "start them with: scripts/services.sh up && scripts/build-images.sh"
	exit 2
fi

TMP=$(mktemp -d /tmp/nemo-bench.XXXXXX)
keep_tmp=0
trap '[ "$keep_tmp" = 1 ] || rm -rf "$TMP"' EXIT
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); work directory $TMP"

# ---- build
# The classic-only build: what the image's /init.sh starts for a classic invoker.
go build -tags classiconly -o "$TMP/nemo" ./invoker/cmd/nemo
go build -tags integration -o "$TMP/nemobench" ./integration/bench/cmd/nemobench

# ---- row 5: pool/docker's freeze benchmark (its own container; about 20 s)
FREEZE_CMD="NEMO_DOCKER=1 go test -tags integration -run NONE -bench FreezeThawVsPause -count 3 ./pool/docker/"
say "running: $FREEZE_CMD"
if ! NEMO_DOCKER=1 timeout --kill-after=30 150 go test -tags integration -run NONE -bench FreezeThawVsPause -count 3 \
	./pool/docker/ >"$TMP/freeze.txt" 2>&1; then
	say "the freeze benchmark failed; row 5 will be missing:"
	tail -20 "$TMP/freeze.txt" >&2
fi

# ---- rows 1-4
RUN_CMD="go build -tags classiconly -o /tmp/nemo ./invoker/cmd/nemo && go run -tags integration ./integration/bench/cmd/nemobench -nemo /tmp/nemo -n $N -reps $REPS -warm $WARM -idle $IDLE"
extra=()
[ "$WRITE" = 1 ] && extra+=(-out "$ROOT/docs/benchmarks.md")
if [ "$PERF" = 1 ] && command -v perf >/dev/null 2>&1; then extra+=(-perf); fi
say "running the invoker benchmarks (N=$N, $REPS repetitions, $WARM warm calls each)"
mkdir -p "$TMP/work"
if ! timeout --kill-after=90 420 "$TMP/nemobench" -brokers "$KAFKA" -couchdb "$COUCH" -image "$IMAGE" -nemo "$TMP/nemo" \
	-n "$N" -reps "$REPS" -warm "$WARM" -idle "$IDLE" -timeout 6m -workdir "$TMP/work" \
	-freeze-out "$TMP/freeze.txt" -freeze-cmd "$FREEZE_CMD" -run-cmd "$RUN_CMD" "${extra[@]}"; then
	keep_tmp=1
	say "failed; invoker and echo logs kept in $TMP/work"
	exit 1
fi
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
