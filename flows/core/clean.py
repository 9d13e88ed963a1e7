"""clean: text -> cleaned text, the glossary set apart, and what was removed and why.

Rules are data: flows/vocab/debris.csv holds one regex per line-level debris pattern with its
reason. Cleaning works on whole lines so a body sentence is never cut.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from importlib import resources

from .model import Cleaned

# Zero-width and wrap characters that break numbers and words apart.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Spaces inside a run of digits ("1 2.5" wrapped by a site) are joined; CJK spacing kept elsewhere.
_DIGIT_GAP = re.compile(r"(?<=\d)[ \u00a0\u3000](?=[\d.])|(?<=\d\.)[ \u00a0\u3000](?=\d)")
# a number broken from its unit or its own digits by a wrap: "39.8 万亿元", "增长6.\n8%", "达到 287.9亿元"
_UNIT_GAP = re.compile(r"(?<=\d)[ \u00a0\u3000]+(?=(?:万亿|千亿|亿|万|千)?(?:元|美元|人|吨|斤|%|个百分点))")
_NUMBER_WRAP = re.compile(r"(?<=[\d.])\n(?=[\d.%])|(?<=\d)\n(?=(?:万亿|亿|万)?(?:元|美元|人|吨|斤|%))")
_LEAD_GAP = re.compile(r"(?<=[\u4e00-\u9fa5])[ \u00a0\u3000]+(?=\d)")
_TRAD_PROBE = re.compile("[國會們這個與產業經濟發區業對實現開關東車長門]")
_GLOSSARY_HEAD = re.compile(
    r"^\s*(?:附\s*件\s*\d?\s*[:：]?|注\s*释\s*[:：]?|.{0,24}名\s*词\s*(?:解\s*释|注\s*释|解\s*读).{0,12})\s*$")


def is_glossary_head(line: str) -> bool:
    return bool(_GLOSSARY_HEAD.match(line))


@lru_cache(maxsize=1)
def debris_rules() -> list[tuple[str, re.Pattern, str]]:
    """(reason, pattern, scope): scope 'line' removes the line, 'to_end' the rest of the text."""
    text = resources.files("flows.vocab").joinpath("debris.csv").read_text(encoding="utf-8")
    return [(row["reason"], re.compile(row["pattern"]), row.get("scope") or "line")
            for row in csv.DictReader(text.splitlines())]


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # loaded only when a text looks Traditional

    return opencc.OpenCC("t2s")


def looks_traditional(text: str, sample: int = 20000) -> bool:
    head = text[:sample]
    hits = len(_TRAD_PROBE.findall(head))
    return hits >= 5 and hits * 1000 >= len(head)


def normalize(text: str) -> str:
    """Full-width forms to half-width (NFKC), invisible characters out, Traditional to Simplified."""
    text = text.translate(_INVISIBLE)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _NUMBER_WRAP.sub("", text)
    text = _DIGIT_GAP.sub("", text)
    text = _UNIT_GAP.sub("", text)
    text = _LEAD_GAP.sub("", text)
    if looks_traditional(text):
        text = _t2s().convert(text)
    return text


def classify_line(line: str) -> tuple[str, str] | None:
    """(reason, scope) of a debris line, or None for a body line."""
    s = line.strip()
    if not s:
        return None
    for reason, rx, scope in debris_rules():
        if rx.search(s):
            return reason, scope
    return None


def clean(text: str) -> Cleaned:
    """Remove site debris line by line and set the glossary / annex apart from the body.

    The input should already be normalised (see normalize); blank lines are kept so paragraph
    structure survives, runs of blank lines are collapsed to one.
    """
    removed: dict[str, int] = {}
    body: list[str] = []
    glossary: list[str] = []
    in_glossary = False
    lines = text.split("\n")
    for i, line in enumerate(lines):
        hit = classify_line(line)
        if hit:
            reason, scope = hit
            n = 1 if scope == "line" else sum(1 for rest in lines[i:] if rest.strip())
            removed[reason] = removed.get(reason, 0) + n
            if scope == "to_end":
                break
            continue
        if not in_glossary and body and is_glossary_head(line):
            in_glossary = True
        (glossary if in_glossary else body).append(line.rstrip())
    if glossary:
        removed["glossary"] = sum(1 for g in glossary if g.strip())
    return Cleaned(text=_squeeze("\n".join(body)), glossary=_squeeze("\n".join(glossary)), removed=removed)


def _squeeze(text: str) -> str:
    return re.sub(r"\n\s*\n+", "\n\n", text).strip("\n")
