"""Kernel "float" in the spirit of the Python Performance Benchmark Suite. TEST EQUIPMENT for the paper
evaluation.

/init prepares the inputs: 300 000 seeded angles, and a reference run of the kernel over the first 100 000 of
them whose result is kept as a self-check.
/run creates one Point object per angle (x = sin, y = cos * 3, z = x * x / 2), normalises each to unit length
and reduces them to the component-wise maximum, as the suite's float benchmark does; {"points": N} changes N.
"""
import math
import random
import time

_T0 = time.perf_counter()


class Point:
    __slots__ = ("x", "y", "z")

    def __init__(self, i):
        self.x = x = math.sin(i)
        self.y = math.cos(i) * 3
        self.z = (x * x) / 2

    def normalize(self):
        norm = math.sqrt(self.x * self.x + self.y * self.y + self.z * self.z)
        self.x /= norm
        self.y /= norm
        self.z /= norm

    def maximize(self, other):
        self.x = self.x if self.x > other.x else other.x
        self.y = self.y if self.y > other.y else other.y
        self.z = self.z if self.z > other.z else other.z
        return self


def kernel(angles):
    points = [Point(a) for a in angles]
    for p in points:
        p.normalize()
    best = points[0]
    for p in points[1:]:
        best = best.maximize(p)
    return best


_rng = random.Random(17)
ANGLES = [_rng.uniform(0, 2 * math.pi) for _ in range(300000)]
REFERENCE = kernel(ANGLES[:100000])
INIT_SECONDS = time.perf_counter() - _T0


def main(args):
    t0 = time.perf_counter()
    n = min(int(args.get("points", 120000)), len(ANGLES))
    best = kernel(ANGLES[:n])
    assert best.x >= REFERENCE.x - 1e-12
    return {"function": "float", "max": [round(best.x, 6), round(best.y, 6), round(best.z, 6)],
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
