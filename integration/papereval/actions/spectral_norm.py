"""Kernel "spectral_norm" in the spirit of the Python Performance Benchmark Suite. TEST EQUIPMENT for the
paper evaluation.

/init prepares the operator: the 400 x 400 matrix A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1) is
tabulated row by row (and transposed), a reference power iteration at n = 100 checks the known norm
1.2742199912, and two iterations at n = 400 check the full table.
/run runs 6 power iterations of A^T A from the ones vector over the prepared table and returns the spectral
norm estimate sqrt(u.v / v.v); {"n": N} (<= 400) and {"iterations": K} change the size and the work.
"""
import math
import time

_T0 = time.perf_counter()
N = 400


def a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


ROWS = [[a(i, j) for j in range(N)] for i in range(N)]
COLS = [list(c) for c in zip(*ROWS)]


def mul(table, v, n):
    return [sum(x * y for x, y in zip(table[i][:n], v)) for i in range(n)]


def norm(n, iterations):
    u = [1.0] * n
    v = u
    for _ in range(iterations):
        v = mul(COLS, mul(ROWS, u, n), n)
        u = mul(COLS, mul(ROWS, v, n), n)
    vbv = sum(x * y for x, y in zip(u, v))
    vv = sum(x * x for x in v)
    return math.sqrt(vbv / vv)


assert abs(norm(100, 10) - 1.2742199912) < 1e-9
assert norm(N, 2) > 1.27
INIT_SECONDS = time.perf_counter() - _T0


def main(args):
    t0 = time.perf_counter()
    n = min(int(args.get("n", N)), N)
    value = norm(n, int(args.get("iterations", 6)))
    return {"function": "spectral_norm", "n": n, "norm": round(value, 10),
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
