"""clean: text -> cleaned text, the glossary set apart, and what was removed and why.

Rules are data: flows/vocab/debris.csv holds one regex per line-level debris pattern with its
reason. Cleaning works on whole lines so a body sentence is never cut.
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources

from .model import Cleaned

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

    The input should already be normalised (flows/core/normalise.py); blank lines are kept so paragraph
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
