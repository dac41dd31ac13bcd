"""Edge function "img-resize": resize an image to icons (paper Table 1). TEST EQUIPMENT for the paper evaluation.

/init does what opening an image library and reading the source image does: it draws a seeded 480x360 RGB
picture (gradients, discs, stripes), encodes it as a real PNG (zlib, filter bytes, CRCs), decodes that PNG
back into rows of pixels and precomputes the area-averaging weights for every icon size.
/run makes the icons (128, 64, 32 and 16 px squares, area averaging in pure Python) from the decoded pixels
and returns their sizes and a checksum of the 16-px icon; {"sizes": [..]} changes the set.
"""
import hashlib
import math
import random
import struct
import time
import zlib

_T0 = time.perf_counter()
W, H = 480, 360


def _draw(seed):
    rng = random.Random(seed)
    discs = [(rng.randrange(W), rng.randrange(H), rng.randint(10, 80), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
             for _ in range(12)]
    rows = []
    for y in range(H):
        row = bytearray(3 * W)
        for x in range(W):
            r, g, b = (x * 255) // W, (y * 255) // H, ((x + y) * 3) & 255
            if (x // 24 + y // 24) & 1:
                b = 255 - b
            for cx, cy, cr, col in discs:
                if (x - cx) ** 2 + (y - cy) ** 2 < cr * cr:
                    r, g, b = col
                    break
            row[3 * x:3 * x + 3] = bytes((r, g, b))
        rows.append(bytes(row))
    return rows


def _png(rows):
    raw = b"".join(b"\x00" + r for r in rows)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _unpng(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        t, d = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if zlib.crc32(t + d) & 0xFFFFFFFF != struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError("bad CRC")
        if t == b"IHDR":
            w, h = struct.unpack(">II", d[:8])
        elif t == b"IDAT":
            idat += d
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 3 * w + 1
    return [list(raw[i * stride + 1:(i + 1) * stride]) for i in range(len(raw) // stride)]


def _weights(src, dst):
    """For each destination index, the (source index, weight) pairs of area averaging."""
    scale = src / dst
    out = []
    for d in range(dst):
        lo, hi = d * scale, (d + 1) * scale
        ws = []
        for s in range(int(math.floor(lo)), min(src, int(math.ceil(hi)))):
            ws.append((s, (min(hi, s + 1) - max(lo, s)) / scale))
        out.append(ws)
    return out


PIXELS = _unpng(_png(_draw(3)))
SIZES = (128, 64, 32, 16)
WEIGHTS = {s: (_weights(W, s), _weights(H, s)) for s in range(8, 257)}
INIT_SECONDS = time.perf_counter() - _T0


def resize(pixels, size):
    wx, wy = WEIGHTS[size]
    # horizontal pass: every source row to `size` columns
    tmp = []
    for row in pixels:
        out = []
        for ws in wx:
            r = g = b = 0.0
            for s, w in ws:
                i = 3 * s
                r += row[i] * w
                g += row[i + 1] * w
                b += row[i + 2] * w
            out.append((r, g, b))
        tmp.append(out)
    # vertical pass
    icon = []
    for ws in wy:
        out = bytearray()
        for x in range(size):
            r = g = b = 0.0
            for s, w in ws:
                p = tmp[s][x]
                r += p[0] * w
                g += p[1] * w
                b += p[2] * w
            out += bytes((min(255, int(r + 0.5)), min(255, int(g + 0.5)), min(255, int(b + 0.5))))
        icon.append(bytes(out))
    return icon


def main(args):
    t0 = time.perf_counter()
    sizes = [int(s) for s in args.get("sizes", SIZES)]
    icons = {s: resize(PIXELS, s) for s in sizes}
    smallest = icons[min(sizes)]
    return {"function": "img-resize", "icons": sizes, "sha1": hashlib.sha1(b"".join(smallest)).hexdigest()[:12],
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
