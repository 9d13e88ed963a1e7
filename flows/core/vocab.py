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
    alias_regex: re.Pattern       # the plain aliases as one trie-shaped regex (longest first)
    alias_codes: dict[str, tuple[str, ...]]    # alias as written -> indicator codes (2 for 城乡…)
    regex_aliases: tuple[tuple[re.Pattern, tuple[str, ...], str], ...]  # (pattern, codes, key)
    blocked_by: dict[tuple[str, ...], tuple[re.Pattern | None, re.Pattern | None]]  # an alias's
    #   codes -> the context before / after it that blocks it (the rules of its codes and of '*')
    needs_before: dict[str, re.Pattern]    # alias -> what the text before it must end with
    only_in: dict[str, tuple[str, frozenset, str]]  # alias -> (context, tiers, rule): an implied
    #   subject ("经济增长" in a plan's targets is GDP growth): where the alias holds and its rule tag
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
    only_in: dict[str, tuple[str, frozenset, str]] = {}
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
        if row.get("context") or row.get("tiers") or row.get("rule"):
            only_in[row["alias"]] = (row.get("context") or "",
                                     frozenset(filter(None, (row.get("tiers") or "").split("|"))),
                                     row.get("rule") or "direct")
    codes = {}
    for a, c in aliases.items():
        if a.startswith("re:"):
            continue
        codes[a] = c
        if any(ch.isascii() and ch.isalpha() for ch in a):
            codes.setdefault(a.lower(), c)   # GDP, gdp; R&D, r&d
    regex_aliases = tuple((re.compile(a[3:]), c, a) for a, c in aliases.items() if a.startswith("re:"))
    needs_before = {a: re.compile(p) for a, p in needs.items()}
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
    blocked_by = {}
    for alias_codes in set(aliases.values()):
        keys = (*alias_codes, "*")
        not_before = [p for k in keys for p in before.get(k, ())]
        not_after = [p for k in keys for p in after.get(k, ())]
        blocked_by[alias_codes] = (re.compile("(?:" + "|".join(not_before) + ")$") if not_before else None,
                                   re.compile("^(?:" + "|".join(not_after) + ")") if not_after else None)
    return Vocab(indicators, re.compile(trie_regex(codes)), codes, regex_aliases, blocked_by,
                 needs_before, only_in, frozenset(accumulates), frozenset(lower))


def trie_regex(words, group: int = 8) -> str:
    """One regex for many literal words, shaped as their prefix trie: "生产总值(?:增速)?"…
    Python's re walks a trie far faster than a flat alternation of 200 words, and the greedy
    branches make the longest word win at each position, like longest-first alternation.

    re tries a branch's alternatives one after another wherever the first character of some
    word stands (a good part of a report's characters), and a trie has as many at its root as
    there are first characters (dozens). So the root is read in steps that each try a few: the
    first character by a class, a lookahead for a second one (most places fail there), the
    second by one of a few classes, and a lookbehind on the two leads into the rest of their
    trie: "[…生…](?=[…产…])(?:[…产…](?:…|(?<=生产)总值(?:增速)?|…)|…)". One-character words
    come last."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return "(?:" + body + ")?" if len(branches) > 1 or len(body) > 1 else body + "?"
        return body

    def one_of(chars) -> str:
        return "[" + "".join(re.escape(ch) for ch in chars) + "]"

    pairs = sorted((a + b, child) for a, node in trie.items() if a for b, child in node.items() if b)
    seconds = sorted({pair[1] for pair, _child in pairs})
    branches = []
    for i in range(0, len(seconds), group):
        chars = seconds[i:i + group]
        inner = [f"(?<={re.escape(pair)})" + build(child) for pair, child in pairs if pair[1] in chars]
        branches.append(one_of(chars) + (inner[0] if len(inner) == 1 else "(?:" + "|".join(inner) + ")"))
    ones = [f"(?<={re.escape(a)})" for a, node in sorted(trie.items()) if a and "" in node]
    if not branches and not ones:
        return build(trie)
    rest = [f"(?={one_of(seconds)})(?:" + "|".join(branches) + ")"] if branches else []
    return one_of(sorted(a for a in trie if a)) + "(?:" + "|".join(rest + ones) + ")"


def find_aliases(v: Vocab, text: str):
    """Alias matches in reading order, leftmost first, the longest at a position (a pattern alias
    before a plain one): [(start, end, alias, codes)]."""
    codes = v.alias_codes
    plain = [(m.start(), m.end(), m.group(0)) for m in v.alias_regex.finditer(text)]
    extra = []
    for rx, _c, key in v.regex_aliases:   # read only around the word every match contains
        lit, seen = _literal_rx(key), set()
        at = lit.search(text)
        while at is not None:
            i = at.start()
            for m in rx.finditer(text, max(0, i - 24), i + 48):
                if m.start() <= i < m.end() and m.start() not in seen:
                    seen.add(m.start())
                    extra.append((m.start(), m.end(), key))
            at = lit.search(text, i + 1)
    if not extra:
        return [(s, e, a, codes[a]) for s, e, a in plain]
    found = sorted([(s, -(e - s), 0, e, a) for s, e, a in plain] + [(s, -(e - s), -1, e, a) for s, e, a in extra])
    out, last = [], -1
    for start, _neg, _prio, end, alias in found:
        if start < last:
            continue
        out.append((start, end, alias, codes.get(alias) or _regex_codes(v, alias)))
        last = end
    return out


@lru_cache(maxsize=None)
def _literal_of(key: str) -> str:
    """A word every match of a pattern alias contains (its longest Chinese run outside groups):
    a cheap test that skips the pattern on texts without it."""
    body = key[3:]
    while True:
        stripped = re.sub(r"\([^()]*\)[?*]?", " ", body)   # a group breaks the run
        if stripped == body:
            break
        body = stripped
    runs = re.findall(r"[\u4e00-\u9fa5]+", body)
    return max(runs, key=len) if runs else ""


@lru_cache(maxsize=None)
def _literal_rx(key: str) -> re.Pattern:
    """_literal_of as a pattern: re finds a literal in a long text faster than str.find."""
    return re.compile(re.escape(_literal_of(key)))


def _regex_codes(v: Vocab, key: str) -> tuple[str, ...]:
    return next(c for _rx, c, k in v.regex_aliases if k == key)
