"""normalise: decoded text -> the text every later stage reads. Pure and idempotent
(normalise(normalise(t)) == normalise(t), a property test holds it).

What it undoes, in order:
- export debris: literal escape sequences (backslash-r-backslash-n, backslash-n, backslash-t)
  where line breaks were, and HTML entities (&nbsp; &emsp; &amp;nbsp; &#12290;);
- full-width forms (digits, ％, letters) to half-width (NFKC), invisible characters out;
- runs of "?" where an export lost characters ("区长?? 程?? 杰"): a gap, not content;
- numbers and units broken by a wrap or a space ("500 亿元", "增长6.\\n8%", "1 2.5");
- Traditional characters to Simplified (OpenCC), when the text is Traditional.
"""
from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

# Zero-width and wrap characters that break numbers and words apart.
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS), None)
# A number broken by a wrap or a space: "1 2.5", "39.8 万亿元", "增长6.\n8%", "达到 287.9亿元".
# One pass over the whitespace that touches a digit; the context decides in _join_number_gap.
# ("[c][c]*" rather than "[c]+": re scans for a leading class only when it is not a repeat)
_GAP = re.compile(r"[ \u00a0\u3000\n][ \u00a0\u3000\n]*(?=[\d.%万亿千元美人吨斤个])")
_UNIT_AFTER = re.compile(r"(?:万亿|千亿|亿|万|千)?(?:元|美元|人|吨|斤|%|个百分点)")
_TRAD_PROBE = re.compile("[國會們這個與產業經濟發區業對實現開關東車長門]")
# backslash-r-backslash-n, backslash-n, backslash-r, backslash-t written out as two characters
_ESCAPE = re.compile(r"\\r\\n|\\[rnt]")
_ESCAPED = {"\\r\\n": "\n", "\\n": "\n", "\\r": "\n", "\\t": "\t"}
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
# a run of "?" standing for lost characters: two or more, or one opening a line
_LOST = re.compile(r"\?\?+|^[ \t]*\?(?=[^\x00-\x7f])", re.M)


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


def _unescape(text: str) -> tuple[str, bool]:
    """Literal escapes and HTML entities out, until none is left ("&amp;nbsp;" is a space):
    each pass makes the text shorter, so this ends."""
    changed = False
    while True:
        out = text
        if "\\" in out:
            out = _ESCAPE.sub(lambda m: _ESCAPED[m.group(0)], out)
        if "&" in out:
            out = _ENTITY.sub(lambda m: html.unescape(m.group(0)), out)
        if out == text:
            return out, changed
        text, changed = out, True


def _lost(m: re.Match) -> str:
    return " " if m.group(0).startswith("??") else m.group(0)[:-1]


def _pass(text: str) -> tuple[str, bool]:
    if any(ch in text for ch in _INVISIBLE_CHARS):
        text = text.translate(_INVISIBLE)
    text = _nfkc(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text, unescaped = _unescape(text)
    if unescaped:
        text = _nfkc(text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " "))
        if any(ch in text for ch in _INVISIBLE_CHARS):
            text = text.translate(_INVISIBLE)
    if "?" in text:
        text = _LOST.sub(_lost, text)
    text = _GAP.sub(_join_number_gap, text)
    if looks_traditional(text):
        text = _t2s().convert(text)
    return text, unescaped


def normalise(text: str) -> str:
    """Full-width forms to half-width (NFKC), invisible characters out, export debris undone,
    numbers re-joined, Traditional to Simplified. A text that held escapes or entities is
    passed again until it no longer changes (an entity may stand for a full-width character)."""
    text, again = _pass(text)
    for _ in range(4):
        if not again:
            break
        out, _u = _pass(text)
        again = out != text
        text = out
    return text
