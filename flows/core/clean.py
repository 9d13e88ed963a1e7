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
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS), None)
# A number broken by a wrap or a space: "1 2.5", "39.8 万亿元", "增长6.\n8%", "达到 287.9亿元".
# One pass over the whitespace that touches a digit; the context decides in _join_number_gap.
# ("[c][c]*" rather than "[c]+": re scans for a leading class only when it is not a repeat)
_GAP = re.compile(r"[ \u00a0\u3000\n][ \u00a0\u3000\n]*(?=[\d.%万亿千元美人吨斤个])")
_UNIT_AFTER = re.compile(r"(?:万亿|千亿|亿|万|千)?(?:元|美元|人|吨|斤|%|个百分点)")
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


# stable characters too common in reports to be swept into the class by a merge
_COMMON_STABLE = set("“”‘’—–…、。《》「」『』〔〕【】·")


@lru_cache(maxsize=1)
def _nfkc_unstable() -> re.Pattern:
    """The characters NFKC changes (full-width forms, ideographic space, compatibility
    ideographs, Roman numerals, circled digits...) as a short character class: exact ranges,
    merged across small gaps of stable characters, except the common punctuation of reports.
    Small classes scan fast; the CJK blocks are stable and stay out."""
    ranges: list[list[int]] = []
    for cp in range(0x80, 0x30000):
        ch = chr(cp)
        if unicodedata.normalize("NFKC", ch) == ch:
            continue
        if ranges and cp - ranges[-1][1] <= 16 and not any(
                chr(x) in _COMMON_STABLE for x in range(ranges[-1][1] + 1, cp)):
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    cls = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{cls}]+")


@lru_cache(maxsize=1)
def _nfkc_scan() -> re.Pattern:
    """A superset of _nfkc_unstable's class and of _COMBINING for one scan: the BMP ranges and
    the whole of the planes above. re keeps ranges above the BMP as a list it walks for every
    character, which makes the exact class scan twice as slow; the rare runs this finds are cut
    to the exact class again, so the result is the same."""
    exact = _nfkc_unstable().pattern
    bmp = re.sub(r"(?:\\?[\U00010000-\U0010ffff])(?:-\\?[\U00010000-\U0010ffff])?", "", exact[1:-2])
    cls = f"{bmp}{_COMBINING.pattern[1:-1]}\U00010000-\U0010ffff"
    return re.compile(f"[{cls}][{cls}]*")


def _nfkc_run(m: re.Match) -> str:
    return unicodedata.normalize("NFKC", m.group(0))


_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\u3099\u309a\ufe20-\ufe2f]")


def _nfkc(text: str) -> str:
    """NFKC on the runs that need it only: most of a report is already stable and the full
    normalisation costs more than everything else in cleaning."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    marks = []

    def runs(m: re.Match) -> str:
        s = m.group(0)
        if _COMBINING.search(s):
            marks.append(s)
        return _nfkc_unstable().sub(_nfkc_run, s)

    out = _nfkc_scan().sub(runs, text)
    if marks:   # a mark composes with the character before it: the full way
        return unicodedata.normalize("NFKC", text)
    return out


def _join_number_gap(m: re.Match) -> str:
    text, i, j, gap = m.string, m.start(), m.end(), m.group(0)
    wrap = gap == "\n"
    if i == 0 or ("\n" in gap and not wrap):
        return gap
    left, right = text[i - 1], text[j]
    if left.isdigit() and (right.isdigit() or right == "." or _UNIT_AFTER.match(text, j)):
        return ""                      # 39.8 万亿元, 1 2.5, 6.\n8%
    if left == "." and right.isdigit() and i >= 2 and text[i - 2].isdigit():
        return ""                      # 6. 8
    if not wrap and "\u4e00" <= left <= "\u9fa5" and right.isdigit():
        return ""                      # 达到 287.9亿元
    return gap


def normalize(text: str) -> str:
    """Full-width forms to half-width (NFKC), invisible characters out, Traditional to Simplified."""
    if any(ch in text for ch in _INVISIBLE_CHARS):
        text = text.translate(_INVISIBLE)
    text = _nfkc(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _GAP.sub(_join_number_gap, text)
    if looks_traditional(text):
        text = _t2s().convert(text)
    return text


def _anchored(rx: re.Pattern) -> bool:
    """rx can only match at the start of a string: it opens with ^ and has no top-level |."""
    if rx.flags & (re.MULTILINE | re.VERBOSE) or not rx.pattern.startswith("^") \
            or re.search(r"\\\d|\(\?P=|\(\?[a-zA-Z]", rx.pattern):
        return False   # (backreferences and inline flags would change meaning once joined)
    try:
        from re import _constants, _parser
        first = _parser.parse(rx.pattern, rx.flags).data[0]
        return first[0] is _constants.AT and first[1] is _constants.AT_BEGINNING
    except Exception:
        return False


@lru_cache(maxsize=1)
def _debris_screen() -> tuple[re.Pattern | None, tuple[re.Pattern, ...]]:
    """A quick test of a line against every debris rule: the rules anchored at the line's start
    joined into one pattern (tried once, with match), and the other rules. A line none of them
    matches is a body line; any other line is classified rule by rule, in order, as before."""
    anchored = [rx for _reason, rx, _scope in debris_rules() if _anchored(rx)]
    loose = tuple(rx for _reason, rx, _scope in debris_rules() if not _anchored(rx))
    try:
        screen = re.compile("|".join(f"(?:{rx.pattern})" for rx in anchored)) if anchored else None
    except re.error:
        return None, tuple(rx for _reason, rx, _scope in debris_rules())
    return screen, loose


def classify_line(line: str) -> tuple[str, str] | None:
    """(reason, scope) of a debris line, or None for a body line."""
    s = line.strip()
    if not s:
        return None
    screen, loose = _debris_screen()
    if (screen is None or not screen.match(s)) and not any(rx.search(s) for rx in loose):
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


def body_has(text: str, pattern: re.Pattern) -> bool:
    """pattern.search(clean(text).text) is not None, for a pattern that matches within one line,
    without building the cleaned text: the lines are classified as clean() does, and the first
    body line that matches ends the scan (a report's first lines already hold a number, so
    screening a file no longer costs a whole clean())."""
    lines = text.split("\n")
    body = False        # clean()'s `body` list is non-empty (blank lines count)
    for line in lines:
        hit = classify_line(line)
        if hit:
            if hit[1] == "to_end":
                return False
            continue
        if body and is_glossary_head(line):
            return False   # the rest is glossary, not text
        body = True
        if pattern.search(line.rstrip()):
            return True
    return False


def _squeeze(text: str) -> str:
    return re.sub(r"\n\s*\n+", "\n\n", text).strip("\n")
