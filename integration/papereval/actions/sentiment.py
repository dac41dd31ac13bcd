"""Edge function "sentiment": sentiment analysis of text (paper Table 1). TEST EQUIPMENT for the paper
evaluation.

/init does what loading a sentiment model does: it builds the model. A seeded generator writes a labelled
corpus of 12 000 reviews from a 6 000-word vocabulary (each word with a hidden polarity), and a multinomial
naive Bayes classifier with bigram features and Laplace smoothing is trained on it and checked on a held-out
set. /run tokenises and scores a handful of sentences (the request's "sentences", or five built-in ones) and
returns each label with its log-odds, so a warm call is tiny next to the cold one, as in the paper.
"""
import collections
import math
import random
import re
import time

_T0 = time.perf_counter()
TOKEN = re.compile(r"[a-z]+")
CONS, VOW = "bcdfghjklmnprstvz", "aeiou"


def _vocabulary(n, rng):
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(CONS) + rng.choice(VOW) for _ in range(rng.randint(2, 4))))
    words = sorted(words)
    polarity = {w: rng.gauss(0, 1) for w in words}
    return words, polarity


def _corpus(n, words, polarity, rng):
    docs = []
    for _ in range(n):
        label = rng.random() < 0.5
        text = []
        for _ in range(rng.randint(12, 40)):
            w = rng.choice(words)
            # reviews lean on words of their own polarity
            while (polarity[w] > 0) != label and rng.random() < 0.35:
                w = rng.choice(words)
            text.append(w)
        docs.append((" ".join(text), label))
    return docs


def _features(text):
    toks = TOKEN.findall(text.lower())
    return toks + [a + "_" + b for a, b in zip(toks, toks[1:])]


class NaiveBayes:
    def __init__(self, docs):
        self.counts = {True: collections.Counter(), False: collections.Counter()}
        self.docs = collections.Counter()
        for text, label in docs:
            self.counts[label].update(_features(text))
            self.docs[label] += 1
        self.vocab = len(set(self.counts[True]) | set(self.counts[False]))
        self.totals = {k: sum(c.values()) for k, c in self.counts.items()}
        self.prior = math.log(self.docs[True] / self.docs[False])

    def log_odds(self, text):
        s = self.prior
        for f in _features(text):
            p = (self.counts[True][f] + 1) / (self.totals[True] + self.vocab)
            q = (self.counts[False][f] + 1) / (self.totals[False] + self.vocab)
            s += math.log(p / q)
        return s


_rng = random.Random(11)
WORDS, POLARITY = _vocabulary(6000, _rng)
_docs = _corpus(13000, WORDS, POLARITY, _rng)
MODEL = NaiveBayes(_docs[:12000])
ACCURACY = sum((MODEL.log_odds(t) > 0) == y for t, y in _docs[12000:]) / 1000
assert ACCURACY > 0.7, ACCURACY
DEFAULT = [" ".join(_rng.choice(WORDS) for _ in range(25)) for _ in range(5)]
INIT_SECONDS = time.perf_counter() - _T0


def main(args):
    t0 = time.perf_counter()
    out = []
    for s in args.get("sentences", DEFAULT):
        lo = MODEL.log_odds(str(s))
        out.append({"label": "positive" if lo > 0 else "negative", "log_odds": round(lo, 3)})
    return {"function": "sentiment", "results": out, "model_accuracy": ACCURACY,
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
