"""Kernel "fannkuch" in the spirit of the Python Performance Benchmark Suite. TEST EQUIPMENT for the paper
evaluation.

/init prepares the search: every permutation of 0..7 in lexicographic order (40 320 tuples, the n = 8
problem) and, for a self-check, the maximum number of prefix reversals ("pancake flips") over all of them,
compared with the known value 22.
/run counts the flips of the 80 640 permutations of 0..8 (n = 9) that have 8 or 7 in front, built from
the prepared table, and returns the maximum and an alternating checksum; {"n": 8} returns the prepared n = 8
answer instead.
"""
import itertools
import time

_T0 = time.perf_counter()


def flips(perm):
    p = list(perm)
    n = 0
    k = p[0]
    while k:
        p[:k + 1] = p[k::-1]
        n += 1
        k = p[0]
    return n


PERMS8 = list(itertools.permutations(range(8)))
MAX8 = max(flips(p) for p in PERMS8)
assert MAX8 == 22, MAX8
INIT_SECONDS = time.perf_counter() - _T0


def main(args):
    t0 = time.perf_counter()
    if int(args.get("n", 9)) == 8:
        best, check = MAX8, 0
    else:
        best = check = 0
        for lead in (8, 7):
            relabel = [x if x < lead else x + 1 for x in range(8)]
            for i, tail in enumerate(PERMS8):
                f = flips((lead,) + tuple(relabel[x] for x in tail))
                best = max(best, f)
                check += f if i % 2 == 0 else -f
    return {"function": "fannkuch", "max_flips": best, "checksum": check,
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
