"""places: the gazetteer and province names, as pure lookups.

flows/vocab/regions.csv holds China's divisions at province, prefecture and county level with
their codes (its source and date: flows/vocab/sources.csv; scripts/gazetteer.py regenerates it).
A county renamed since its source's date keeps its stem ("清苑县" became "清苑区" in 2015, "龙南县"
"龙南市"): a name not in the gazetteer is matched by its stem with another county-level suffix,
and keeps the name it was written with while taking the place's code.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

ZONE_WORDS = ("高新技术产业开发区", "经济技术开发区", "高新区", "开发区", "经开区", "新区", "园区")
_COUNTY_SUFFIXES = ("县", "区", "市", "旗")


@dataclass(frozen=True)
class Place:
    name: str            # as the region column shows it: 保定市清苑区, 高安市, 广西壮族自治区
    code: str | None     # administrative code (of today's name, for a renamed county)
    province: str | None
    city: str | None


@lru_cache(maxsize=1)
def provinces() -> list[dict]:
    text = resources.files("flows.vocab").joinpath("provinces.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def province_name(name: str | None) -> str | None:
    """The official name of a province-level division from its full or short name
    ("广西" -> "广西壮族自治区", "河北" -> "河北省"), or None."""
    if not name:
        return None
    name = name.strip()
    for p in provinces():
        if name in (p["name"], p["short"]):
            return p["name"]
    return None


@lru_cache(maxsize=1)
def regions() -> dict[str, list[dict]]:
    text = resources.files("flows.vocab").joinpath("regions.csv").read_text(encoding="utf-8")
    by_name: dict[str, list[dict]] = {}
    for row in csv.DictReader(text.splitlines()):
        by_name.setdefault(row["name"], []).append(row)
    return by_name


@lru_cache(maxsize=1)
def by_code() -> dict[str, dict]:
    return {row["adcode"]: row for rows in regions().values() for row in rows}


def candidates(name: str) -> tuple[list[dict], bool]:
    """Gazetteer rows of a name, and whether they were found by its stem (a renamed county)."""
    table = regions()
    if name in table:
        return table[name], False
    if len(name) >= 3 and name.endswith(_COUNTY_SUFFIXES):
        stem = name[:-1]
        found = [row for s in _COUNTY_SUFFIXES if s != name[-1] for row in table.get(stem + s, ())
                 if row["level"] == "county"]
        if found:
            return found, True
    return [], False


@lru_cache(maxsize=1)
def county_stems():
    """One pattern of the stems of every county-level name ("新安" of 新安县), longest first."""
    import re

    stems = {row["name"][:-1] for rows in regions().values() for row in rows
             if row["level"] == "county" and row["name"].endswith(_COUNTY_SUFFIXES) and len(row["name"]) >= 3}
    return re.compile("|".join(sorted(map(re.escape, stems), key=len, reverse=True)))


def tier_of(region: str | None) -> str | None:
    if not region:
        return None
    if region == "全国":
        return "national"
    if province_name(region):
        return "province"
    if region.endswith(ZONE_WORDS):
        return "zone"
    if region.endswith(("县", "旗", "自治县")):
        return "county"
    if region.endswith("区"):
        return "district"
    if region.endswith(("市", "州", "盟", "地区")):
        rows, _ = candidates(region)   # a county-level city (安国市, 乐昌市) is a county's tier
        return "county" if rows and all(r["level"] == "county" for r in rows) else "city"
    return None


def place(row: dict, written: str, prefix: str = "") -> Place:
    """The Place of a gazetteer row, named as written (a county with its city; a county-level
    city, a prefecture or a province alone)."""
    province = row["province"] or None
    city = row["city"] or None
    if row["level"] == "province":
        return Place(row["name"], row["adcode"], row["name"], None)
    if row["level"] == "county" and city and city != province and not written.endswith("市"):
        head = prefix if prefix.endswith(("市", "州", "盟")) else city
        return Place(head + written, row["adcode"], province, city)
    return Place((prefix + written) if prefix else written, row["adcode"], province, city)


def count(text: str, word: str) -> int:
    """text.count(word): re finds a word in a long text faster than str.count."""
    return len(_word(word).findall(text))


@lru_cache(maxsize=None)
def _word(word: str) -> re.Pattern:
    return re.compile(re.escape(word))


def lookup(region: str, text: str = "", city: str | None = None, province: str | None = None) -> Place | None:
    """'湖里区' -> 厦门市湖里区 (福建省); '江门市江海区' -> itself; '南宁市' -> 南宁市 (广西…);
    '清苑县' -> 保定市清苑县 (code of 清苑区). Names shared by several places are told apart by
    the city and province given, else by how often their city and province are named in text."""
    full = province_name(region)
    if full:
        row = regions().get(full, [None])[0]
        return Place(full, row["adcode"] if row else None, full, None)
    for cut in range(0, len(region) - 1):
        tail = region[cut:]
        cands, _renamed = candidates(tail)
        if not cands:
            continue
        prefix = region[:cut]
        if prefix:
            cands = [c for c in cands if c["city"].startswith(prefix) or c["province"].startswith(prefix)
                     or prefix.startswith(c["city"][:2] or "~")] or cands
        if city or province:
            cands = [c for c in cands if (not city or (c["city"] or c["name"]).startswith(city[:2]))
                     and (not province or c["province"].startswith(province[:2]))] or cands
        best = cands[0] if len(cands) == 1 else max(
            cands, key=lambda c: count(text, c["city"][:2]) * 2 + count(text, c["province"][:2])
            if c["city"] else count(text, c["province"][:2]))
        return place(best, tail, prefix)
    return None
