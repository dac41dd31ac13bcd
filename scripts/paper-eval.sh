#!/usr/bin/env bash
# The NEMO paper's evaluation (§5, Figs. 5, 6, 10-14) on this machine, end to end through the real
# invoker: a reference NF carrying traffic on one core, the edge functions pinned beside it, the invoker,
# Kafka, the store and the generator on the other core. Writes docs/paper-eval.csv (every run, invocation
# and NF sample), docs/paper-eval.md and docs/img/paper-eval-*.png (generated: never edit them by hand).
#
# Usage: scripts/paper-eval.sh [--quick | --report-only | --plan] [--only PART] [--no-report]
#   (none)         the full plan, resumable: runs already in the CSV are skipped, so an interrupted or
#                  sliced run continues where it stopped; then the report
#   --quick        the CI smoke test (about 3 minutes): one NF, one size; the NF alone, controlled runs
#                  under every condition and every mixed configuration once (15-s streams of three
#                  functions), into a temporary CSV; asserts every invocation answered, the NF forwarded
#                  packets, every run produced its numbers, harvesting switched on and off where the
#                  configuration harvests and never where it does not, NEMO's controller decided a state
#                  for every invocation (no ratio is judged); then renders a report from it
#   --report-only  regenerate docs/paper-eval.md and the figures from the CSV alone
#   --plan         list the runs the CSV still lacks and their estimated wall time
#   --only PART    one part of the plan: controlled (Figs. 5, 10-13), nf-alone (spare cycles, Fig. 6's
#                  baseline), head (the mixed stream at the headline gap: Figs. 14 and 6), sweep (the gap sweep)
#   --no-report    run, do not render the report
#
# Knobs (environment): NFS (firewall,nat,lb) SIZES (1024,1500) PRIOS (rt,normal) REPS (3) SEED (1)
#   CONFIGS (mixed configurations at HEAD_GAP, every NF, size, prio: native,native-warm,colocated,nemo)
#   DETAIL_CONFIGS (at HEAD_GAP, first NF and size: harvest,prewarm,nemo-no-tm) SWEEP_CONFIGS
#   (native,colocated,nemo) GAPS (5s,30s,2m,15m) SWEEP_REPS (1) HEAD_GAP (30s)
#   CTL_CONFIGS (controlled conditions: native,colocated,harvest)
#   MIN_DURATION (5m) SPAN_GAPS (3) WARM_CALLS (3) TRAIN_ON (0 = derived from the profile's rx-usecs)
#   WAKEUP_COST (20us: the NF's CPU per wake-up, the interrupt work a NIC would cost its core)
#   LOAD_1024 (0.70) LOAD_1500 (0.55) NF_CORE (1) SVC_CORE (0) CSV (docs/paper-eval.csv) WORKDIR (logs)
#   BUDGET: run in slices of at most this long (e.g. 13m), each under `flock $LOCK` when LOCK names a lock
#   file, so other users of the machine's services get their turn between slices; ALLOW_LONG=1 lets a
#   single run longer than BUDGET (the long gaps of the sweep) take a slice of its own.
#
# Needs root, iproute2, the services (scripts/services.sh up: Docker, Kafka on 127.0.0.1:9092,
# pouchdb-server on 127.0.0.1:5984) and the Python image (scripts/build-images.sh --python, built here if
# missing). The full plan takes many hours (`--plan` prints the estimate); --quick about 3 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODE=full ONLY="" REPORT=1
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MODE=quick ;;
	--report-only) MODE=report ;;
	--plan) MODE=plan ;;
	--only) ONLY=$2; shift ;;
	--no-report) REPORT=0 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
	*) echo "paper-eval: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

say() { echo "paper-eval: $*" >&2; }
KAFKA=${NEMO_KAFKA:-127.0.0.1:9092}
COUCH=${NEMO_COUCHDB:-http://nemo:nemo@127.0.0.1:5984}
CSV=${CSV:-docs/paper-eval.csv}
IMG=docs/img
OUT=docs/paper-eval.md

BIN=$(mktemp -d /tmp/paper-eval-bin.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/papereval" ./integration/papereval/cmd/papereval

if [ "$MODE" = report ]; then
	"$BIN/papereval" report -csv "$CSV" -out "$OUT" -img "$IMG"
	say "wrote $OUT and $IMG/paper-eval-*.png from $CSV"
	exit 0
fi

# ---- the plan's flags
plan=()
[ -n "${NFS:-}" ] && plan+=(-nfs "$NFS")
[ -n "${SIZES:-}" ] && plan+=(-sizes "$SIZES")
[ -n "${PRIOS:-}" ] && plan+=(-prios "$PRIOS")
[ -n "${REPS:-}" ] && plan+=(-reps "$REPS")
[ -n "${SEED:-}" ] && plan+=(-seed "$SEED")
[ -n "${CONFIGS:-}" ] && plan+=(-configs "$CONFIGS")
[ -n "${DETAIL_CONFIGS:-}" ] && plan+=(-detail-configs "$DETAIL_CONFIGS")
[ -n "${SWEEP_CONFIGS:-}" ] && plan+=(-sweep-configs "$SWEEP_CONFIGS")
[ -n "${SWEEP_REPS:-}" ] && plan+=(-sweep-reps "$SWEEP_REPS")
[ -n "${CTL_CONFIGS:-}" ] && plan+=(-ctl-configs "$CTL_CONFIGS")
[ -n "${GAPS:-}" ] && plan+=(-gaps "$GAPS")
[ -n "${HEAD_GAP:-}" ] && plan+=(-head-gap "$HEAD_GAP")
[ -n "${MIN_DURATION:-}" ] && plan+=(-min-duration "$MIN_DURATION")
[ -n "${SPAN_GAPS:-}" ] && plan+=(-span-gaps "$SPAN_GAPS")
case "$ONLY" in
"") ;;
controlled) plan+=(-configs none -detail-configs none -sweep-configs none -nf-alone false) ;;
nf-alone) plan+=(-configs none -detail-configs none -sweep-configs none -controlled false) ;;
head) plan+=(-sweep-configs none -controlled false -nf-alone false) ;;
sweep) plan+=(-configs none -detail-configs none -controlled false -nf-alone false) ;;
*) say "--only takes controlled, nf-alone, head or sweep"; exit 2 ;;
esac
machine=(-warm-calls "${WARM_CALLS:-3}" -train-on "${TRAIN_ON:-0}" -wakeup-cost "${WAKEUP_COST:-20us}" -load-1024 "${LOAD_1024:-0.70}"
	-load-1500 "${LOAD_1500:-0.55}" -nf-core "${NF_CORE:-1}" -svc-core "${SVC_CORE:-0}" -brokers "$KAFKA" -couchdb "$COUCH")

if [ "$MODE" = quick ]; then
	plan=(-quick "${plan[@]}")
	QDIR=$(mktemp -d /tmp/paper-eval-quick.XXXXXX)
	CSV=$QDIR/paper-eval.csv
	IMG=$QDIR/img
	OUT=$QDIR/paper-eval.md
fi
if [ "$MODE" = plan ]; then
	"$BIN/papereval" plan "${plan[@]}" "${machine[@]}" -csv "$CSV"
	exit 0
fi

# ---- machine and services
[ "$(id -u)" = 0 ] || { say "needs root (network namespaces, AF_PACKET, SCHED_FIFO, CPU affinity)"; exit 1; }
command -v ip >/dev/null || { say "needs iproute2 (ip)"; exit 1; }
[ "$(nproc)" -ge 2 ] || { say "needs two CPUs (the NF's core and the services' core)"; exit 1; }
missing=()
(exec 3<>"/dev/tcp/${KAFKA%:*}/${KAFKA##*:}") 2>/dev/null || missing+=("Kafka at $KAFKA")
curl -sf -m 5 -o /dev/null "$COUCH/" || missing+=("pouchdb-server/CouchDB at ${COUCH#*@}")
docker info >/dev/null 2>&1 || missing+=("Docker engine")
if [ ${#missing[@]} -gt 0 ]; then
	say "services not up: ${missing[*]} (scripts/services.sh up)"
	exit 2
fi
docker image inspect nemo/action-python:3.11 >/dev/null 2>&1 || scripts/build-images.sh --python

go build -o "$BIN/nemo" ./invoker/cmd/nemo
go build -o "$BIN/refnf" ./integration/refnf/cmd/refnf
go build -o "$BIN/trafficgen" ./integration/trafficgen/cmd/trafficgen
WORKDIR=${WORKDIR:-$(mktemp -d /tmp/paper-eval-work.XXXXXX)}
mkdir -p "$(dirname "$CSV")"
say "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
say "results $CSV, logs $WORKDIR"

slice=()
[ -n "${BUDGET:-}" ] && slice+=(-budget "$BUDGET")
[ "${ALLOW_LONG:-0}" = 1 ] && slice+=(-allow-long)
run_slice() {
	local cmd=("$BIN/papereval" run "${plan[@]}" "${machine[@]}" "${slice[@]}" -csv "$CSV" -workdir "$WORKDIR"
		-nemo "$BIN/nemo" -refnf "$BIN/refnf" -trafficgen "$BIN/trafficgen")
	if [ -n "${LOCK:-}" ]; then
		# -o: the lock's descriptor is not inherited, so nothing the run starts can keep the lock after it.
		flock -o "$LOCK" "${cmd[@]}"
	else
		"${cmd[@]}"
	fi
}
start=$SECONDS
while :; do
	rc=0
	run_slice || rc=$?
	case $rc in
	0) break ;;
	3) say "slice done after $(((SECONDS - start) / 60)) min; continuing" ;;
	*) say "papereval run failed (exit $rc); logs in $WORKDIR"; exit "$rc" ;;
	esac
done
say "runs done in $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s"

if [ "$MODE" = quick ]; then
	"$BIN/papereval" check -quick -csv "$CSV"
	"$BIN/papereval" report -csv "$CSV" -out "$OUT" -img "$IMG"
	say "quick: smoke test passed; report $OUT (not committed)"
	exit 0
fi
if [ "$REPORT" = 1 ]; then
	"$BIN/papereval" report -csv "$CSV" -out "$OUT" -img "$IMG"
	say "wrote $OUT and $IMG/paper-eval-*.png"
fi
