"""Edge function "markdown": render Markdown to HTML (paper Table 1). TEST EQUIPMENT for the paper evaluation.

/init (module load) does what loading a Markdown library does in a real deployment: it imports the text
stack and builds the renderer's tables -- 40 compiled inline and block patterns, the HTML entity map and a
typography/abbreviation dictionary of 150 000 words generated from a seeded syllable table.
/run renders a generated 1500-block document (headers, paragraphs, lists, code, quotes, links) to HTML and
returns its size and a checksum; pass {"blocks": N} to change the document size.
"""
import hashlib
import html
import html.entities
import random
import re
import textwrap
import time
import unicodedata

_T0 = time.perf_counter()

SYLLABLES = ["ka", "ro", "ni", "tu", "me", "la", "si", "po", "de", "an", "or", "el", "us", "ti", "va", "qu",
             "ex", "im", "on", "ar", "is", "ce", "lo", "mi", "ne", "ra", "te", "zu"]


def _build_dictionary(n, seed):
    rng = random.Random(seed)
    words = {}
    for i in range(n):
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5)))
        # normalised form, display form and a typographic variant, as a real smartypants table keeps
        words[w] = (unicodedata.normalize("NFC", w), w.capitalize(), w.upper() if i % 97 == 0 else w)
    return words


DICTIONARY = _build_dictionary(150_000, 7)
ABBREVIATIONS = {w: d[1] for w, d in DICTIONARY.items() if len(w) <= 4}
ENTITIES = {v: "&%s;" % k.rstrip(";") for k, v in html.entities.html5.items() if len(v) == 1 and k.endswith(";")}

INLINE = [(re.compile(p), r) for p, r in [
    (r"`([^`]+)`", r"<code>\1</code>"),
    (r"\*\*([^*]+)\*\*", r"<strong>\1</strong>"),
    (r"__([^_]+)__", r"<strong>\1</strong>"),
    (r"\*([^*]+)\*", r"<em>\1</em>"),
    (r"_([^_]+)_", r"<em>\1</em>"),
    (r"~~([^~]+)~~", r"<del>\1</del>"),
    (r"!\[([^\]]*)\]\(([^)]+)\)", r'<img alt="\1" src="\2">'),
    (r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>'),
    (r"&lt;(https?://[^&]+)&gt;", r'<a href="\1">\1</a>'),
    (r"--", "&ndash;"),
    (r"\.\.\.", "&hellip;"),
]]
BLOCK = {
    "header": re.compile(r"^(#{1,6})\s+(.*)$"),
    "ulist": re.compile(r"^\s*[-*+]\s+(.*)$"),
    "olist": re.compile(r"^\s*\d+\.\s+(.*)$"),
    "quote": re.compile(r"^>\s?(.*)$"),
    "fence": re.compile(r"^```(\w*)$"),
    "rule": re.compile(r"^(\*\s*){3,}$|^(-\s*){3,}$"),
}
EXTRA = [re.compile(r"\b%s\b" % w) for w in list(ABBREVIATIONS)[:28]]


def _inline(text):
    text = html.escape(text, quote=False)
    for pat, rep in INLINE:
        text = pat.sub(rep, text)
    return text


def render(src):
    out, lines, i = [], src.split("\n"), 0
    in_list = None
    while i < len(lines):
        line = lines[i]
        m = BLOCK["fence"].match(line)
        if m:
            code = []
            i += 1
            while i < len(lines) and not BLOCK["fence"].match(lines[i]):
                code.append(html.escape(lines[i]))
                i += 1
            out.append('<pre><code class="%s">%s</code></pre>' % (m.group(1), "\n".join(code)))
            i += 1
            continue
        for kind in ("ulist", "olist"):
            m = BLOCK[kind].match(line)
            if m:
                tag = "ul" if kind == "ulist" else "ol"
                if in_list != tag:
                    if in_list:
                        out.append("</%s>" % in_list)
                    out.append("<%s>" % tag)
                    in_list = tag
                out.append("<li>%s</li>" % _inline(m.group(1)))
                break
        else:
            if in_list:
                out.append("</%s>" % in_list)
                in_list = None
            m = BLOCK["header"].match(line)
            if m:
                n = len(m.group(1))
                out.append("<h%d>%s</h%d>" % (n, _inline(m.group(2)), n))
            elif BLOCK["rule"].match(line):
                out.append("<hr>")
            elif BLOCK["quote"].match(line):
                out.append("<blockquote>%s</blockquote>" % _inline(BLOCK["quote"].match(line).group(1)))
            elif line.strip():
                para = [line]
                while i + 1 < len(lines) and lines[i + 1].strip() and not any(
                        p.match(lines[i + 1]) for p in BLOCK.values()):
                    i += 1
                    para.append(lines[i])
                text = _inline(" ".join(para))
                out.append("<p>%s</p>" % "\n".join(textwrap.wrap(text, 100)))
        i += 1
    if in_list:
        out.append("</%s>" % in_list)
    return "\n".join(out)


def document(blocks, seed):
    rng = random.Random(seed)
    words = list(DICTIONARY)[:5000]
    para = lambda n: " ".join(rng.choice(words) for _ in range(n))
    parts = []
    for b in range(blocks):
        k = b % 8
        if k == 0:
            parts.append("#" * rng.randint(1, 3) + " " + para(5).title())
        elif k in (1, 2):
            parts.append(para(20) + " **%s** and *%s* with `%s`, see [%s](https://example.org/%d)..."
                         % (para(2), para(2), rng.choice(words), para(1), b))
        elif k == 3:
            parts.append("\n".join("- " + para(6) for _ in range(5)))
        elif k == 4:
            parts.append("\n".join("%d. %s" % (j + 1, para(6)) for j in range(4)))
        elif k == 5:
            parts.append("```python\n" + "\n".join("x_%d = %d  # %s" % (j, j, para(3)) for j in range(6)) + "\n```")
        elif k == 6:
            parts.append("> " + para(15) + " -- " + para(3))
        else:
            parts.append("***")
    return "\n\n".join(parts)


# A first rendering checks the tables (a library's import-time self-test).
assert render("# t\n\n*a* **b**").startswith("<h1>t</h1>")
INIT_SECONDS = time.perf_counter() - _T0


def main(args):
    t0 = time.perf_counter()
    src = document(int(args.get("blocks", 1500)), int(args.get("seed", 1)))
    out = render(src)
    return {"function": "markdown", "html_bytes": len(out), "sha1": hashlib.sha1(out.encode()).hexdigest()[:12],
            "init_s": round(INIT_SECONDS, 4), "run_s": round(time.perf_counter() - t0, 4)}
