"""Kernel "pidigits" in the spirit of the Python Performance Benchmark Suite. TEST EQUIPMENT for the paper
evaluation.

/init prepares the big-integer state: it runs the unbounded spigot (Gibbons' streaming algorithm with
linear fractional transformations) for 3 000 digits, checks them against the digits of pi computed
independently by Machin's formula, and keeps the spigot's state after those digits.
/run streams the next 600 digits from the kept state (copied, so every call does the same work) and
returns their count and the last ten; {"digits": N} changes N.
"""
import time

_T0 = time.perf_counter()


def spigot(state, count):
    q, r, t, k, n, l = state
    out = []
    while len(out) < count:
        if 4 * q + r - t < n * t:
            out.append(n)
            q, r, n = 10 * q, 10 * (r - n * t), (10 * (3 * q + r)) // t - 10 * n
        else:
            q, r, t, k, n, l = q * k, (2 * q + r) * l, t * l, k + 1, (q * (7 * k + 2) + r * l) // (t * l), l + 2
    return out, (q, r, t, k, n, l)


def machin(digits):
    scale = 10 ** (digits + 10)

    def arctan_inv(x):
        total = term = scale // x
        x2, k, sign = x * x, 1, -1
        while term:
            term //= x2
            total += sign * (term // (2 * k + 1))
            sign, k = -sign, k + 1
        return total
    pi = 4 * (4 * arctan_inv(5) - arctan_inv(239))
    return [int(c) for c in str(pi // 10 ** 10)[:digits]]


PREFIX, STATE = spigot((1, 0, 1, 1, 3, 3), 3000)
assert PREFIX == machin(3000)
INIT_SECONDS = time.perf_counter() - _T0


def main(args):
    t0 = time.perf_counter()
    digits, _ = spigot(STATE, int(args.get("digits", 600)))
    return {"function": "pidigits", "digits": len(digits), "last": "".join(map(str, digits[-10:])),
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
