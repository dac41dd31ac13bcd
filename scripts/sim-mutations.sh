#!/usr/bin/env bash
# Mutation check of the simulator's baselines: each mutation removes one defining mechanism of a baseline
# (greedy-dual's clock aging or frequency, the hybrid histogram's pre-warm or keep-alive window, OpenWhisk's
# idle timeout) in a throw-away copy of the tree, then runs the simulator's tests; every mutation must turn
# at least one test red. The tree itself is never modified.
#
# Only the tests that pin the baselines run (TESTS below; the rest of the package replays whole traces and
# takes ~45 s per run): every mutation is killed by them, and the unmutated run must find them.
#
# Usage: scripts/sim-mutations.sh        (about 30 s; no services needed). It copies the files git
# tracks: commit (or stage) new tests first.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FILE=scheduler/sim/policies.go
TESTS='GreedyDual|HybridHistogram|OpenWhisk'

# name | sed expression applied to $FILE
MUTATIONS=(
	"greedy-dual: no clock aging (an eviction leaves the clock)|s/^\(\t*\)g\.clock = pr$/\1_ = pr/"
	"greedy-dual: a used container does not take the clock|s/g\.clockOf\[a\.C\] = g\.clock/g.clockOf[a.C] = 0/"
	"greedy-dual: no frequency (freq = 1)|s/float64(c\.FunctionUses)\*cost\/size/cost\/size/"
	"hybrid-hist: no pre-warm window (never unloaded)|s/^\(\t*\)pw := time\.Duration(.*$/\1pw := time.Duration(head) * 0/"
	"hybrid-hist: no keep-alive window (4 h)|s/^\(\t*\)ka := time\.Duration(.*$/\1ka := time.Duration(tail)*0 + histBins*histBinLen/"
	"openwhisk: no idle timeout|s/c\.IdleTimeout = 10 \* time\.Minute/c.IdleTimeout = -1/"
)

git -C "$ROOT" ls-files -z --cached | (cd "$ROOT" && xargs -0 tar -cf -) | tar -xf - -C "$WORK"
cd "$WORK"
cp "$FILE" "$FILE.orig"
echo "baseline: unmutated tree"
out=$(go test -count=1 -v -run "$TESTS" ./scheduler/sim/ 2>&1) || { echo "$out" >&2; echo "sim-mutations: the unmutated tests fail" >&2; exit 1; }
ran=$(echo "$out" | grep -c '^--- PASS' || true)
[ "$ran" -ge 4 ] || { echo "sim-mutations: -run '$TESTS' ran $ran tests; the baseline tests moved?" >&2; exit 1; }
survived=0
for m in "${MUTATIONS[@]}"; do
	name=${m%%|*}
	expr=${m#*|}
	cp "$FILE.orig" "$FILE"
	sed -i "$expr" "$FILE"
	if cmp -s "$FILE" "$FILE.orig"; then
		echo "sim-mutations: '$name' changed nothing (the code moved?)" >&2
		exit 1
	fi
	if out=$(go test -count=1 -run "$TESTS" ./scheduler/sim/ 2>&1); then
		echo "SURVIVED  $name"
		survived=$((survived + 1))
	else
		red=$(echo "$out" | grep -E '^\s*--- FAIL' | sed 's/.*--- FAIL: //; s/ (.*//' | tr '\n' ' ' || true)
		[ -n "$red" ] || red="(does not build: $(echo "$out" | grep -m1 -E '\.go:[0-9]+' || true))"
		echo "killed    $name: red $red"
	fi
done
cp "$FILE.orig" "$FILE"
if [ "$survived" -gt 0 ]; then
	echo "sim-mutations: $survived mutation(s) survived" >&2
	exit 1
fi
echo "sim-mutations: every mutation was killed"
