#!/usr/bin/env bash
# bench-allocs.sh — allocations and CPU per activation, in-process against fakes, before and after a change.
#
#   scripts/bench-allocs.sh [-count N] [BASE]
#
# Builds the activation-path benchmark (invoker/activation/bench_test.go) at BASE (a git revision, default
# main) and at the working tree, runs the two binaries in turn N times (default 5) on this machine, and
# compares them with benchstat (golang.org/x/perf, through the Go module proxy), or prints the medians when
# benchstat cannot be fetched. A BASE older than the benchmark gets the working tree's bench_test.go.
# Figures and their reading: docs/allocations.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

COUNT=5
while [ $# -gt 0 ]; do
	case "$1" in
	-count) COUNT=$2; shift 2 ;;
	-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
BASE=${1:-main}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
say() { echo "[bench-allocs] $*" >&2; }

say "building the benchmark at $BASE ($(git rev-parse --short "$BASE")) and at the working tree"
mkdir -p "$TMP/base"
git archive "$BASE" | tar -x -C "$TMP/base"
if [ ! -f "$TMP/base/invoker/activation/bench_test.go" ]; then
	cp invoker/activation/bench_test.go "$TMP/base/invoker/activation/"
fi
(cd "$TMP/base" && go test -c -o "$TMP/base.test" ./invoker/activation/)
go test -c -o "$TMP/head.test" ./invoker/activation/

say "running both $COUNT times in turn (load average $(cut -d' ' -f1-3 /proc/loadavg))"
cd "$ROOT/invoker/activation"
for _ in $(seq "$COUNT"); do
	"$TMP/base.test" -test.run NONE -test.bench Process -test.benchmem >>"$TMP/base.txt"
	"$TMP/head.test" -test.run NONE -test.bench Process -test.benchmem >>"$TMP/head.txt"
done
cd "$ROOT"
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

cp "$TMP/base.txt" "$TMP/before.txt"
cp "$TMP/head.txt" "$TMP/after.txt"
if (cd "$TMP" && timeout 300 go run golang.org/x/perf/cmd/benchstat@latest before.txt after.txt) 2>/dev/null; then
	exit 0
fi
say "benchstat unavailable; medians over $COUNT runs (before → after)"
awk '
	FNR == 1 { file++ }
	/^Benchmark/ {
		for (i = 3; i < NF; i += 2) { key = $1 " " $(i + 1); n[file, key]++; v[file, key, n[file, key]] = $i; keys[key] = 1 }
	}
	function median(f, k,    m, a, i, j, t) {
		m = n[f, k]
		for (i = 1; i <= m; i++) a[i] = v[f, k, i]
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	END {
		for (k in keys) if (n[1, k] && n[2, k]) {
			b = median(1, k); h = median(2, k)
			printf "%-60s %12.1f → %12.1f  (%+.1f%%)\n", k, b, h, b ? 100 * (h - b) / b : 0
		}
	}' "$TMP/before.txt" "$TMP/after.txt" | sort
