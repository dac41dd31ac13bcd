"""Edge function "ocr-img": find the text in an image by OCR (paper Table 1). TEST EQUIPMENT for the paper
evaluation.

/init does what starting an OCR engine does: it loads its glyph models. A 5x7 bitmap font of 36 characters
is scaled to 15x21 templates, each template is augmented with 100 seeded noisy variants, and a per-character
mean image plus a pixel-weight map are learnt from them.
/run renders a seeded 48-character line of text into a noisy 2-D image (what a camera would send), segments
it into glyph boxes by column projection, classifies every box against the models by weighted distance and
returns the recognised text and its accuracy; {"chars": N} changes the line length.
"""
import random
import time

_T0 = time.perf_counter()
FONT = {  # 5x7, one string of 7 rows of 5 bits per character
    "A": "01110100011000111111100011000110001", "B": "11110100011000111110100011000111110",
    "C": "01110100011000010000100001000101110", "D": "11110100011000110001100011000111110",
    "E": "11111100001000011110100001000011111", "F": "11111100001000011110100001000010000",
    "G": "01110100011000010111100011000101111", "H": "10001100011000111111100011000110001",
    "I": "01110001000010000100001000010001110", "J": "00111000100001000010000101001001100",
    "K": "10001100101010011000101001001010001", "L": "10000100001000010000100001000011111",
    "M": "10001110111010110101100011000110001", "N": "10001100011100110101100111000110001",
    "O": "01110100011000110001100011000101110", "P": "11110100011000111110100001000010000",
    "Q": "01110100011000110001101011001001101", "R": "11110100011000111110101001001010001",
    "S": "01111100001000001110000010000111110", "T": "11111001000010000100001000010000100",
    "U": "10001100011000110001100011000101110", "V": "10001100011000110001100010101000100",
    "W": "10001100011000110101101011010101010", "X": "10001100010101000100010101000110001",
    "Y": "10001100010101000100001000010000100", "Z": "11111000010001000100010001000011111",
    "0": "01110100011001110101110011000101110", "1": "00100011000010000100001000010001110",
    "2": "01110100010000100010001000100011111", "3": "11111000100010000010000011000101110",
    "4": "00010001100101010010111110001000010", "5": "11111100001111000001000011000101110",
    "6": "00110010001000011110100011000101110", "7": "11111000010001000100010000100001000",
    "8": "01110100011000101110100011000101110", "9": "01110100011000101111000010001001100",
}
SCALE, GW, GH, GAP, VARIANTS = 3, 15, 21, 6, 100


def _glyph(ch):
    bits = FONT[ch]
    return [[int(bits[(y // SCALE) * 5 + x // SCALE]) for x in range(GW)] for y in range(GH)]


def _noisy(img, rng, p):
    return [[(1 - v) if rng.random() < p else v for v in row] for row in img]


def _learn(rng):
    means, weights = {}, [[0.0] * GW for _ in range(GH)]
    for ch in FONT:
        base = _glyph(ch)
        acc = [[0.0] * GW for _ in range(GH)]
        for _ in range(VARIANTS):
            v = _noisy(base, rng, 0.08)
            for y in range(GH):
                for x in range(GW):
                    acc[y][x] += v[y][x]
        means[ch] = [[a / VARIANTS for a in row] for row in acc]
    # pixels that differ between characters matter more
    for y in range(GH):
        for x in range(GW):
            col = [means[c][y][x] for c in FONT]
            m = sum(col) / len(col)
            weights[y][x] = 0.2 + sum((c - m) ** 2 for c in col) / len(col)
    return means, weights


MEANS, WEIGHTS = _learn(random.Random(5))
INIT_SECONDS = time.perf_counter() - _T0


def _render(text, rng):
    width = len(text) * (GW + GAP) + GAP
    img = [[0] * width for _ in range(GH + 4)]
    for i, ch in enumerate(text):
        g = _glyph(ch)
        ox = GAP + i * (GW + GAP)
        for y in range(GH):
            for x in range(GW):
                img[y + 2][ox + x] = g[y][x]
    return _noisy(img, rng, 0.04)


def _segment(img):
    """Glyph boxes of a fixed-pitch line: column ink projection finds where each glyph starts."""
    width = len(img[0])
    ink = [sum(row[x] for row in img) for x in range(width)]
    boxes, x = [], 0
    while x < width - GW // 2:
        if ink[x] >= 5 and ink[x + 1] >= 5:
            # the best start within a few columns: most ink inside the box, least in the gap before it
            start = max(range(max(0, x - 2), min(width - GW, x + 3)),
                        key=lambda s: sum(ink[s:s + GW]) - 3 * sum(ink[max(0, s - 3):s]))
            boxes.append(start)
            x = start + GW + GAP // 2
        else:
            x += 1
    return boxes


def _classify(img, ox):
    best, best_d = "?", float("inf")
    for ch, mean in MEANS.items():
        d = 0.0
        for y in range(GH):
            row, mrow, wrow = img[y + 2], mean[y], WEIGHTS[y]
            for x in range(GW):
                xx = ox + x
                v = row[xx] if xx < len(row) else 0
                d += wrow[x] * (v - mrow[x]) ** 2
        if d < best_d:
            best, best_d = ch, d
    return best


def main(args):
    t0 = time.perf_counter()
    rng = random.Random(int(args.get("seed", 9)))
    text = "".join(rng.choice(sorted(FONT)) for _ in range(int(args.get("chars", 48))))
    img = _render(text, rng)
    found = "".join(_classify(img, ox) for ox in _segment(img))
    right = sum(a == b for a, b in zip(found, text))
    return {"function": "ocr-img", "text": found, "accuracy": round(right / len(text), 3),
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
