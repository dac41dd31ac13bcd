"""Kernel "nbody" in the spirit of the Python Performance Benchmark Suite. TEST EQUIPMENT for the paper
evaluation.

/init prepares the system: the Sun and the four giant planets (positions in AU, velocities in AU/year,
masses in solar masses), the momentum correction that puts the system's centre of mass at rest, the list of
body pairs, and a self-check that a reference integration of 50 000 steps conserves energy to 0.1 %.
/run integrates the system with a symplectic Euler step (dt = 0.01) for 40 000 steps and returns the energy
before and after; {"steps": N} changes N.
"""
import math
import time

_T0 = time.perf_counter()
PI = math.pi
DAYS = 365.24
SOLAR = 4 * PI * PI
BODIES0 = {
    "sun": ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], SOLAR),
    "jupiter": ([4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01],
                [1.66007664274403694e-03 * DAYS, 7.69901118419740425e-03 * DAYS, -6.90460016972063023e-05 * DAYS],
                9.54791938424326609e-04 * SOLAR),
    "saturn": ([8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01],
               [-2.76742510726862411e-03 * DAYS, 4.99852801234917238e-03 * DAYS, 2.30417297573763929e-05 * DAYS],
               2.85885980666130812e-04 * SOLAR),
    "uranus": ([1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01],
               [2.96460137564761618e-03 * DAYS, 2.37847173959480950e-03 * DAYS, -2.96589568540237556e-05 * DAYS],
               4.36624404335156298e-05 * SOLAR),
    "neptune": ([1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01],
                [2.68067772490389322e-03 * DAYS, 1.62824170038242295e-03 * DAYS, -9.51592254519715870e-05 * DAYS],
                5.15138902046611451e-05 * SOLAR),
}


def fresh_system():
    bodies = [([*p], [*v], m) for p, v, m in BODIES0.values()]
    px = py = pz = 0.0
    for _, (vx, vy, vz), m in bodies:
        px -= vx * m
        py -= vy * m
        pz -= vz * m
    v, m = bodies[0][1], bodies[0][2]
    v[0], v[1], v[2] = px / m, py / m, pz / m
    pairs = [(bodies[i], bodies[j]) for i in range(len(bodies)) for j in range(i + 1, len(bodies))]
    return bodies, pairs


def energy(bodies, pairs):
    e = 0.0
    for ((x1, y1, z1), _, m1), ((x2, y2, z2), _, m2) in pairs:
        e -= (m1 * m2) / math.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2 + (z1 - z2) ** 2)
    for _, (vx, vy, vz), m in bodies:
        e += m * (vx * vx + vy * vy + vz * vz) / 2.0
    return e


def advance(bodies, pairs, dt, steps):
    for _ in range(steps):
        for ((x1, y1, z1), v1, m1), ((x2, y2, z2), v2, m2) in pairs:
            dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** -1.5)
            b1, b2 = m1 * mag, m2 * mag
            v1[0] -= dx * b2
            v1[1] -= dy * b2
            v1[2] -= dz * b2
            v2[0] += dx * b1
            v2[1] += dy * b1
            v2[2] += dz * b1
        for r, (vx, vy, vz), _ in bodies:
            r[0] += dt * vx
            r[1] += dt * vy
            r[2] += dt * vz


_b, _p = fresh_system()
_e0 = energy(_b, _p)
advance(_b, _p, 0.01, 50000)
assert abs(energy(_b, _p) - _e0) < 1e-3 * abs(_e0)
INIT_SECONDS = time.perf_counter() - _T0


def main(args):
    t0 = time.perf_counter()
    bodies, pairs = fresh_system()
    e0 = energy(bodies, pairs)
    advance(bodies, pairs, 0.01, int(args.get("steps", 40000)))
    return {"function": "nbody", "energy_before": round(e0, 9), "energy_after": round(energy(bodies, pairs), 9),
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
