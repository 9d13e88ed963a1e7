"""The indicator vocabulary, loaded from data (flows/vocab/*.csv): names, aliases, measures,
units, and the contexts in which an alias does not name the indicator."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    measures: tuple[str, ...]
    level_unit: str           # yuan | percent | person | tonne | '' (growth only)


@dataclass(frozen=True)
class Vocab:
    indicators: dict[str, Indicator]
    alias_regex: re.Pattern       # one alternation, longest alias first; group name = a0, a1, ...
    alias_codes: tuple[tuple[str, ...], ...]   # group index -> indicator codes (2 for 城乡…)
    not_before: dict[str, re.Pattern]      # code ('*' = every indicator) -> context that blocks
    not_after: dict[str, re.Pattern]
    needs_before: dict[int, re.Pattern]    # alias group -> what must come earlier in the sentence
    accumulates: frozenset                 # flows summed over a period (new jobs, investment)
    lower_is_better: frozenset             # a target is a cap (unemployment, CPI)


def _read(name: str) -> list[dict]:
    text = resources.files("flows.vocab").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@lru_cache(maxsize=1)
def load() -> Vocab:
    indicators: dict[str, Indicator] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    needs: dict[str, str] = {}
    for row in _read("indicators.csv"):
        code = row["code"]
        indicators[code] = Indicator(code, row["name_zh"], tuple(row["measures"].split("|")),
                                     row["level_unit"] or "")
        for a in [row["name_zh"], *filter(None, row["aliases"].split("|"))]:
            aliases.setdefault(a, (code,))
    for row in _read("aliases_extra.csv"):
        aliases[row["alias"]] = tuple(row["code"].split("|"))
        if row.get("needs_before"):
            needs[row["alias"]] = row["needs_before"]
    plain = sorted((a for a in aliases if not a.startswith("re:")), key=len, reverse=True)
    regexes = [a for a in aliases if a.startswith("re:")]
    ordered = regexes + plain
    parts = []
    codes = []
    needs_before = {}
    for i, a in enumerate(ordered):
        if a in needs:
            needs_before[i] = re.compile(needs[a])
        body = a[3:] if a.startswith("re:") else re.escape(a)
        parts.append(f"(?P<a{i}>{body})")
        codes.append(aliases[a])
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    accumulates, lower = set(), set()
    for row in _read("indicator_rules.csv"):
        if (row.get("lower_is_better") or "").strip() == "1":
            lower.add(row["code"])
        if (row.get("accumulates") or "").strip() == "1":
            accumulates.add(row["code"])
        if row["not_before"]:
            before.setdefault(row["code"], []).append(row["not_before"])
        if row["not_after"]:
            after.setdefault(row["code"], []).append(row["not_after"])
    not_before = {k: re.compile("(?:" + "|".join(v) + ")$") for k, v in before.items()}
    not_after = {k: re.compile("^(?:" + "|".join(v) + ")") for k, v in after.items()}
    return Vocab(indicators, re.compile("|".join(parts), re.I), tuple(codes), not_before, not_after,
                 needs_before, frozenset(accumulates), frozenset(lower))
