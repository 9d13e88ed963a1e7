"""panel: mentions -> one headline row per (source_name, doc_index, indicator, kind, measure).

The headline is the first annual mention about the report's own year (reviewed year for actuals,
plan year for targets) in reading order, among the mentions of the best rank of their rule
(flows/vocab/rules.csv): a figure stated for the year beats an end level read in a multi-year
review and a threshold passed (突破…), and a sub-level figure (区本级…) counts only when the
report gives nothing else for the key. Partial-year and multi-year figures never reach it.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from .sentence import rules
from .vocab import load
from .model import Mention, PanelRow, Report


@lru_cache(maxsize=1)
def plausible_ranges() -> dict[tuple[str, str], tuple[float, float]]:
    """(measure, unit) -> (min, max) from flows/vocab/plausible.csv; the GX suites check the same."""
    text = resources.files("flows.vocab").joinpath("plausible.csv").read_text(encoding="utf-8")
    return {(r["measure"], r["unit"]): (float(r["min"]), float(r["max"]))
            for r in csv.DictReader(text.splitlines())}


def plausible(m: Mention) -> bool:
    if m.value is None:
        return m.status == "no_target"
    lo, hi = plausible_ranges().get((m.measure, m.unit), (float("-inf"), float("inf")))
    return lo <= m.value <= hi and (m.value_high is None or m.value <= m.value_high <= hi)


def build_panel(reports: list[Report], mentions: list[Mention]) -> list[PanelRow]:
    meta = {(r.source_name, r.doc_index): r for r in reports if r.is_report}
    best: dict[tuple, Mention] = {}
    for m in mentions:
        if m.period != "annual" or not plausible(m):
            continue   # partial/multi-year figures and misread values never reach the panel
        r = meta.get((m.source_name, m.doc_index))
        if r is None:
            continue
        want = r.review_year if m.kind == "actual" else r.plan_year
        if want is not None and m.year != want:
            continue
        key = (m.source_name, m.doc_index, m.indicator, m.kind, m.measure)
        # a reported value beats an explicit absence; among values the best ranked rule, then
        # the first one read
        if key not in best or _rank(m) < _rank(best[key]):
            best[key] = m
    rows = []
    for key in sorted(best, key=lambda k: (k[0], k[1], best[k].start)):
        m = best[key]
        r = meta[(m.source_name, m.doc_index)]
        rows.append(PanelRow(
            source_name=m.source_name, doc_index=m.doc_index, region=r.region,
            region_code=r.region_code, tier=r.tier,
            province=r.province, indicator=m.indicator, kind=m.kind, measure=m.measure,
            year=m.year, value=m.value, value_high=m.value_high, unit=m.unit,
            qualifier=m.qualifier, estimate=m.estimate, strength=m.strength, status=m.status,
            value_text=m.value_text, quote=m.quote, start=m.start, end=m.end, rule=m.rule,
            subject=m.subject, confidence=m.confidence))
    return rows


def _rank(m: Mention) -> tuple:
    """A target is whatever the plan says, a threshold too ("生产总值突破3000亿元"): the ranks
    of rules.csv order actuals only. Within one sentence, a name that spells out the catalogue's
    comes first ("财政总收入完成29亿元…;地方财政总收入完成16亿元": 地方财政收入 is the catalogue's)."""
    row = rules().get(m.rule)
    rank = int(row["rank"]) if row and (m.kind == "actual" or m.rule == "sub_level") else 0
    return (m.status != "reported", rank, m.sentence_start, not _spells(m), m.start)


def _spells(m: Mention) -> bool:
    """The catalogue name of the indicator is in the value's clause, in order (gaps allowed)."""
    name = iter(m.quote)
    return all(ch in name for ch in load().indicators[m.indicator].name_zh)
