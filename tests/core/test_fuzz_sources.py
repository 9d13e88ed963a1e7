"""Fuzzing the source decoder (flows/core/sources.py): >= 10,000 generated inputs (random bytes,
real text in mutated encodings, mutated CSV / JSON Lines / JSON / HTML) through
read_items_with_errors and screen_items. The only exception allowed is SourceError, with a
reason for a person; whatever is read can be stored (valid UTF-8 everywhere, sane indices)."""
from __future__ import annotations

import codecs
import json
import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.core.model import SourceError, SourceItem
from flows.core.read import read_items_with_errors, screen_items
from helpers import SEEDS

TEXT = (SEEDS / "001_9eeac6bb57bd8a70.txt").read_text(encoding="utf-8")[:4000]
TRAD_ONLY = "政府工作報告各位代表現在我代表市人民政府向大會報告工作請予審議全市地區生產總值增長"
NAMES = ["r.txt", "r.text", "r.html", "r.htm", "r.csv", "r.tsv", "r.jsonl", "r.ndjson", "r.json",
         "r", "dir/-r.txt", "报告 2023.TXT"]
CODECS = ["utf-8", "utf-8-sig", "gbk", "gb18030", "gb2312", "big5", "cp950", "utf-16", "utf-16-le",
          "utf-16-be", "utf-32", "latin-1", "cp1252", "shift_jis", "euc-kr", "koi8-r"]
BOMS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
        b"\x84\x31\x95\x33", b"%PDF-", b"PK\x03\x04", b"\x1f\x8b", b"{\\rtf"]
JUNK = ['"', ",", "\t", ";", "|", "\n", "\r", "\r\n", "{", "}", "[", "]", ":", "\\", "\\u", "\\ud800",
        "\\udfff", "<", ">", "</p>", "<script>", "<!--", "&#0;", "&#xD800;", "&amp", "\x00", "\x1b",
        "\ufeff", "\u2028", "\ufffd", "\ue000", "\U0010ffff", "1e999", "NaN", "-", "é", "增长", "%"]


def check(name: str, data: bytes) -> str:
    """One input through the decoder and the screen; returns what happened."""
    try:
        items, errors = read_items_with_errors(name, data)
    except SourceError as e:
        assert isinstance(e.reason, str) and len(e.reason) > 20 and e.code, (name, data[:80], e)
        return "rejected"
    assert isinstance(items, list) and isinstance(errors, list)
    for it in items:
        assert isinstance(it, SourceItem) and it.source_name == name
        assert isinstance(it.item_index, int) and it.item_index >= 1
        assert it.container in ("txt", "html", "csv", "jsonl")
        for v in (it.text, it.title, it.url, it.publish_date, it.encoding):
            if v is not None:
                assert isinstance(v, str)
                v.encode("utf-8")   # storable: no lone surrogate
        assert it.year is None or 1900 <= it.year <= 2100
        assert "\r" not in it.text
    for e in errors:
        assert isinstance(e, SourceError) and e.reason and e.code
        assert isinstance(getattr(e, "item_index", None), int)
    kept, errs = screen_items(items, errors)
    assert len(kept) + len(errs) == len(items) + len(errors)
    return "items" if kept else "screened" if items else "errors"


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice([0, 0, 1, 2, 3, 8, 30])):
        op = rng.random()
        i = rng.randrange(len(b) + 1)
        if op < 0.35 and b:
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op < 0.55:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op < 0.75 and b:
            del b[i:i + rng.randint(1, 8)]
        elif op < 0.85:
            b[i:i] = rng.choice(BOMS)
        else:
            b[i:i] = rng.choice(JUNK).encode("utf-8", "surrogatepass")
    if rng.random() < 0.2:  # truncated
        b = b[:rng.randrange(len(b) + 1)]
    return bytes(b)


def mutate_text(rng: random.Random, s: str) -> str:
    chars = list(s)
    for _ in range(rng.randint(0, 10)):
        i = rng.randrange(len(chars) + 1)
        if rng.random() < 0.6:
            chars.insert(i, rng.choice(JUNK))
        elif chars:
            del chars[min(i, len(chars) - 1)]
    return "".join(chars)


def snippet(rng: random.Random) -> str:
    start = rng.randrange(len(TEXT))
    return (TEXT + TRAD_ONLY)[start:start + rng.choice([1, 5, 40, 300, 1500])]


def gen_csv(rng: random.Random) -> tuple[str, str]:
    cols = rng.sample(["title", "year", "content", "full_text", "text", "正文", "url", "publish_date",
                       "x", "", "Content "], rng.randint(1, 5))
    delim = rng.choice([",", "\t", ";", "|"])
    rows = [delim.join(cols)]
    for _ in range(rng.randint(0, 4)):
        cells = []
        for c in cols:
            v = snippet(rng) if "t" in c or "正" in c else rng.choice(["2023", "2023年", "x", "", "1e9"])
            if rng.random() < 0.7:
                v = '"' + v.replace('"', '""') + '"'
            cells.append(v)
        rows.append(delim.join(cells))
    return rng.choice(["r.csv", "r.tsv", "r.txt"]), mutate_text(rng, "\n".join(rows) + "\n")


def gen_json(rng: random.Random) -> tuple[str, str]:
    objs = []
    for _ in range(rng.randint(0, 4)):
        o = {rng.choice(["content", "text", "body", "full_text", "title", "Content", "x"]): snippet(rng)}
        if rng.random() < 0.5:
            o["year"] = rng.choice([2023, "2023", 2023.0, 10 ** 30, -1, None, True, [2023], "二〇二三"])
        if rng.random() < 0.3:
            o["url"] = rng.choice(["../../etc/passwd", "/etc/shadow", "file:///x", 7, None])
        objs.append(o if rng.random() < 0.9 else rng.choice([[o], 42, "s", None]))
    if rng.random() < 0.3:
        text = json.dumps(objs if rng.random() < 0.5 else (objs[0] if objs else {}), ensure_ascii=rng.random() < 0.5)
    else:
        text = "\n".join(json.dumps(o, ensure_ascii=rng.random() < 0.5) for o in objs) + "\n"
    if rng.random() < 0.05:
        text = "[" * rng.randint(100, 5000) + text
    return rng.choice(["r.jsonl", "r.json", "r.ndjson"]), mutate_text(rng, text)


def gen_html(rng: random.Random) -> tuple[str, str]:
    parts = ["<!DOCTYPE html>" if rng.random() < 0.5 else "", "<html><head>"]
    if rng.random() < 0.4:
        parts.append(f"<meta charset='{rng.choice(['gbk', 'utf-8', 'big5', 'x-nonsense', 'utf-16', ''])}'>")
    parts.append(f"<title>{snippet(rng)[:30]}</title></head><body>")
    for _ in range(rng.randint(0, 6)):
        tag = rng.choice(["p", "div", "td", "script", "nav", "pre", "span", "article", "footer"])
        parts.append(f"<{tag}>{snippet(rng)}</{tag}>" if rng.random() < 0.8 else f"<{tag}>")
    parts.append("</body></html>")
    return rng.choice(["r.html", "r.htm", "r.txt"]), mutate_text(rng, "".join(parts))


def test_ten_thousand_generated_sources():
    rng = random.Random(20261124)
    seen: dict[str, int] = {}
    t0 = time.monotonic()
    n = 0
    for n in range(1, 10_001):
        kind = rng.random()
        if kind < 0.15:      # random bytes
            name = rng.choice(NAMES)
            data = bytes(rng.randrange(rng.choice([32, 128, 256])) for _ in range(rng.randrange(0, 600)))
        elif kind < 0.50:    # real text in some encoding, mutated
            name = rng.choice(NAMES)
            codec = rng.choice(CODECS)
            data = mutate_bytes(rng, snippet(rng).encode(codec, errors="replace"))
        else:                # a container, mutated as text then as bytes
            name, text = rng.choice([gen_csv, gen_json, gen_html])(rng)
            data = text.encode(rng.choice(["utf-8", "gb18030", "utf-16", "big5"]), errors="replace")
            if rng.random() < 0.3:
                data = mutate_bytes(rng, data)
        outcome = check(name, data)
        seen[outcome] = seen.get(outcome, 0) + 1
    assert n == 10_000
    # the generator reaches every outcome, each many times: the checks above did run
    assert all(seen.get(k, 0) > 300 for k in ("rejected", "items", "screened")), seen
    print(f"\nsource fuzz: {n} inputs in {time.monotonic() - t0:.1f} s: {seen}")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NAMES), st.binary(max_size=800))
def test_random_bytes_raise_only_source_error(name, data):
    check(name, data)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NAMES), st.text(max_size=300), st.sampled_from(["utf-8", "gb18030", "utf-16", "utf-32"]))
def test_random_text_in_any_encoding(name, text, codec):
    check(name, text.encode(codec, errors="surrogatepass") if codec.startswith("utf") else
          text.encode(codec, errors="replace"))
