#!/usr/bin/env bash
# nf-bench.sh — NF CPU vs packet size, burst off/on (TEST EQUIPMENT; docs/nf-burst.md).
#
# Creates (if missing) two network namespaces and a veth pair between them,
# builds refnf, trafficgen, nfbench and plot, runs the sweep (one refnf per NF
# mode; burst switched at run time through clickshm), writes docs/nf-burst.csv
# and docs/img/nf-burst*.png, prints the Markdown tables, and removes every
# namespace it created. Traffic never leaves the veth pair: frames carry
# 10.77.0.0/24 addresses, no IP is configured on either end, and trafficgen
# refuses any other address.
#
# Needs root and iproute2. Bounded: about 4-6 minutes with the defaults on
# 2 cores; nfbench itself gives up after 15 minutes.
#
# Knobs (environment): NF_NETNS TG_NETNS NF_IF TG_IF DURATION REPS PPS MBPS
# BURST TRAIN SIZES TRAIN_SIZES MODES RT_PRIO (0 = normal scheduling; N = run
# the NF packet thread and the generator thread SCHED_FIFO at N) NF_CPU GEN_CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

NF_NETNS=${NF_NETNS:-nemo-nf}
TG_NETNS=${TG_NETNS:-nemo-tg}
NF_IF=${NF_IF:-nfin0}
TG_IF=${TG_IF:-nfout0}
NF_MAC=02:77:00:00:00:02
TG_MAC=02:77:00:00:00:01
DURATION=${DURATION:-1500ms}
REPS=${REPS:-2}
PPS=${PPS:-10000}
MBPS=${MBPS:-120}
BURST=${BURST:-32}
TRAIN=${TRAIN:-16}
SIZES=${SIZES:-64,128,256,512,1024,1500}
TRAIN_SIZES=${TRAIN_SIZES:-1024,1500}
MODES=${MODES:-firewall,nat,lb}
RT_PRIO=${RT_PRIO:-0}
NF_CPU=${NF_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
CSV=docs/nf-burst.csv
IMG=docs/img

if [ "$(id -u)" != 0 ]; then
  echo "nf-bench: needs root (network namespaces, AF_PACKET sockets)" >&2
  exit 1
fi
command -v ip >/dev/null || { echo "nf-bench: needs iproute2 (ip)" >&2; exit 1; }

BIN=$(mktemp -d /tmp/nf-bench.XXXXXX)
created=()
cleanup() {
  local rc=$?
  for ns in "${created[@]}"; do
    ip netns del "$ns" 2>/dev/null || echo "nf-bench: could not delete netns $ns" >&2
  done
  rm -rf "$BIN"
  exit $rc
}
trap cleanup EXIT INT TERM

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# --- topology (idempotent) ---
for ns in "$NF_NETNS" "$TG_NETNS"; do
  if ! ns_exists "$ns"; then
    ip netns add "$ns"
    created+=("$ns")
    ip -n "$ns" link set lo up
  fi
done
nf_there=0; tg_there=0
ip -n "$NF_NETNS" link show dev "$NF_IF" >/dev/null 2>&1 && nf_there=1
ip -n "$TG_NETNS" link show dev "$TG_IF" >/dev/null 2>&1 && tg_there=1
if [ $nf_there != $tg_there ]; then
  echo "nf-bench: half a veth pair exists ($NF_IF in $NF_NETNS: $nf_there, $TG_IF in $TG_NETNS: $tg_there)" >&2
  exit 1
fi
if [ $nf_there = 0 ]; then
  ip -n "$NF_NETNS" link add "$NF_IF" type veth peer name "$TG_IF"
  ip -n "$NF_NETNS" link set "$TG_IF" netns "$TG_NETNS"
fi
ip -n "$NF_NETNS" link set dev "$NF_IF" address "$NF_MAC" addrgenmode none up
ip -n "$TG_NETNS" link set dev "$TG_IF" address "$TG_MAC" addrgenmode none up

# --- build ---
go build -o "$BIN/refnf" ./integration/refnf/cmd/refnf
go build -o "$BIN/nfbench" ./integration/refnf/cmd/nfbench
go build -o "$BIN/plot" ./integration/refnf/cmd/plot
go build -o "$BIN/trafficgen" ./integration/trafficgen/cmd/trafficgen

# --- machine ---
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: sizes=$SIZES pps=$PPS mbps=$MBPS burst=$BURST train=$TRAIN duration=$DURATION reps=$REPS rt_prio=$RT_PRIO nf_cpu=$NF_CPU gen_cpu=$GEN_CPU"

# --- run ---
mkdir -p "$(dirname "$CSV")" "$IMG"
start=$(date +%s)
"$BIN/nfbench" -refnf "$BIN/refnf" -trafficgen "$BIN/trafficgen" \
  -netns "$NF_NETNS" -if "$NF_IF" -peer-netns "$TG_NETNS" -peer-if "$TG_IF" -nf-mac "$NF_MAC" \
  -modes "$MODES" -sizes "$SIZES" -train-sizes "$TRAIN_SIZES" -pps "$PPS" -mbps "$MBPS" \
  -burst "$BURST" -train "$TRAIN" -duration "$DURATION" -reps "$REPS" -rt-prio "$RT_PRIO" \
  -nf-cpu "$NF_CPU" -gen-cpu "$GEN_CPU" -shm "/dev/shm/nemo-nfbench-$$" -out "$CSV"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); sweep took $(( $(date +%s) - start )) s"
"$BIN/plot" -csv "$CSV" -img "$IMG"
echo "wrote $CSV $IMG/nf-burst.png $IMG/nf-burst-train.png"
