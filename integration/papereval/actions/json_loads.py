"""Kernel "json_loads" in the spirit of the Python Performance Benchmark Suite. TEST EQUIPMENT for the paper
evaluation (the paper names json_loads: initialisation is 98.6 % of its latency).

/init prepares the inputs: a seeded generator builds a catalogue of 40 000 records, serialises it whole and
as 100 pages of 400 records with json.dumps, adds three small documents (empty, flat, nested) and checks a
round trip of the catalogue.
/run parses four pages and each small document 100 times with json.loads (what a request handler does with
its payloads) and returns the counts; {"pages": N, "repeat": M} change them.
"""
import json
import random
import time

_T0 = time.perf_counter()
_rng = random.Random(13)


def _record(i):
    return {"id": i, "name": "item-%06d" % i, "price": round(_rng.uniform(1, 999), 2),
            "tags": [_rng.choice(["edge", "nf", "fw", "nat", "lb", "cdn", "iot"]) for _ in range(_rng.randint(1, 4))],
            "stock": {"site": _rng.randrange(40), "count": _rng.randrange(1000), "reserved": _rng.random() < 0.1},
            "note": None if i % 3 else "".join(_rng.choice("abcdefghij ") for _ in range(40))}


EMPTY = json.dumps({})
FLAT = json.dumps({"key%d" % i: i * 1.5 for i in range(30)})
NESTED = json.dumps({"a": [{"b": {"c": [1, 2, {"d": "e" * 20}]}} for _ in range(20)]})
_RECORDS = [_record(i) for i in range(40000)]
CATALOGUE = json.dumps({"records": _RECORDS})
PAGES = [json.dumps({"page": k, "records": _RECORDS[k * 400:(k + 1) * 400]}) for k in range(100)]
assert json.loads(CATALOGUE)["records"][123]["id"] == 123
INIT_SECONDS = time.perf_counter() - _T0


def _count(v):
    if isinstance(v, dict):
        return 1 + sum(_count(x) for x in v.values())
    if isinstance(v, list):
        return 1 + sum(_count(x) for x in v)
    return 1


def main(args):
    t0 = time.perf_counter()
    n = int(args.get("repeat", 100))
    small = 0
    for _ in range(n):
        small += len(json.loads(EMPTY)) + len(json.loads(FLAT)) + len(json.loads(NESTED)["a"])
    records = sum(len(json.loads(PAGES[k])["records"]) for k in range(int(args.get("pages", 4))))
    return {"function": "json_loads", "small_values": small, "records": records,
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
