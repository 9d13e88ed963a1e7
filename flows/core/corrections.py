"""Analysts' corrections: a CSV that fixes a number the day someone finds it, without waiting for
a rule, and survives every re-run.

    doc_id,indicator,kind,measure,action,value,unit,qualifier,reason,author
    hailar_2012#1,fiscal_revenue,actual,level,value,16,亿元,,the headline is 地方财政总收入,li
    prov2026_hainan#1,cpi,actual,growth_pct,value,-0.1,%,,微降 is a fall,wang
    2025年广东省政府工作报告#1,gdp,target,level,drop,,,,a five-year figure,li

`action` is value (the row gets this value, or is added when the extractor missed it) or drop
(the row goes). A corrected row keeps its evidence and says in `correction` who changed what and
why; the panel is validated with its corrections like any row. A correction that no longer
matches anything (its document is gone, a drop with nothing to drop, a value the extractor now
reads itself) is reported, so the file can be cleaned. Pure: text in, rows out.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from .model import PanelRow, Report, SourceError
from .units import normalize, same_value

COLUMNS = ("doc_id", "indicator", "kind", "measure", "action", "value", "unit", "qualifier", "reason", "author")


@dataclass(frozen=True)
class Correction:
    line: int
    doc_id: str
    indicator: str
    kind: str
    measure: str
    action: str                  # value | drop
    value: float | None          # normalized (yuan, percent, ...)
    unit: str | None             # normalized unit
    value_text: str
    qualifier: str | None
    reason: str
    author: str

    @property
    def key(self) -> tuple:
        return (self.doc_id, self.indicator, self.kind, self.measure)

    def note(self) -> str:
        return f"{self.action} by {self.author}: {self.reason} (corrections.csv line {self.line})"


def parse(text: str, indicators: set[str] | None = None) -> list[Correction]:
    """The corrections of a CSV text; a bad row raises SourceError naming its line."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    out = []
    for i, r in enumerate(rows, 2):
        def bad(why: str):
            return SourceError(f"corrections.csv line {i}: {why}", "bad_correction")

        missing = [c for c in ("doc_id", "indicator", "kind", "measure", "action", "reason", "author")
                   if not (r.get(c) or "").strip()]
        if missing:
            raise bad(f"{', '.join(missing)} missing (every correction says what, why and who)")
        action, kind = r["action"].strip(), r["kind"].strip()
        if action not in ("value", "drop") or kind not in ("actual", "target"):
            raise bad("action must be value or drop, kind actual or target")
        if indicators is not None and r["indicator"].strip() not in indicators:
            raise bad(f"unknown indicator {r['indicator']!r}")
        value = unit = None
        if action == "value":
            try:
                value, unit = normalize(float(r["value"]), (r.get("unit") or "").strip())
            except (ValueError, TypeError) as exc:
                raise bad(f"value and unit must read as a number and a unit of units.py ({exc})") from None
        out.append(Correction(i, r["doc_id"].strip(), r["indicator"].strip(), kind, r["measure"].strip(), action,
                              value, unit, f"{r.get('value', '')}{r.get('unit', '')}".strip(),
                              (r.get("qualifier") or "").strip() or None, r["reason"].strip(), r["author"].strip()))
    return out


def stem_of(source_name: str) -> str:
    return PurePosixPath(source_name).stem


def names_of(source_name: str) -> tuple[str, str]:
    """The two ways a doc id names a source: by its file stem, as the reference labels do
    (2023/a.txt -> a), or with its folder, as the BI tables do (2023/a)."""
    folder, _, _ = source_name.rpartition("/")
    stem = stem_of(source_name)
    return stem, (f"{folder}/{stem}" if folder else stem)


def for_source(corrections: list[Correction], source_name: str) -> list[Correction]:
    """The corrections of a source's documents."""
    names = names_of(source_name)
    return [c for c in corrections if c.doc_id.rpartition("#")[0] in names]


def digest(corrections: list[Correction]) -> str:
    """A short hash of corrections, part of a source's version: a change re-reads the source."""
    if not corrections:
        return ""
    h = hashlib.sha256()
    for c in sorted(corrections, key=lambda c: c.line):
        h.update(repr((c.key, c.action, c.value, c.unit, c.qualifier, c.reason, c.author)).encode())
    return h.hexdigest()[:8]


def apply(rows: list[PanelRow], reports: list[Report], corrections: list[Correction]
          ) -> tuple[list[PanelRow], list[str], list[str]]:
    """The panel rows of one source with its corrections applied -> (rows, applied, unmatched):
    what was done and what no longer matches, one line each."""
    by_key = {(f"{stem_of(r.source_name)}#{r.doc_index}", r.indicator, r.kind, r.measure): r for r in rows}
    docs = {f"{name}#{r.doc_index}": r for r in reports if r.is_report for name in names_of(r.source_name)}
    applied, unmatched, dropped, added = [], [], set(), []
    for c in corrections:
        if c.doc_id in docs:        # the stem form, whichever form the analyst wrote
            c = replace(c, doc_id=f"{stem_of(docs[c.doc_id].source_name)}#{docs[c.doc_id].doc_index}")
        row = by_key.get(c.key)
        if c.doc_id not in docs:
            unmatched.append(f"line {c.line}: {c.doc_id} is not a report of this source")
        elif c.action == "drop":
            if row is None:
                unmatched.append(f"line {c.line}: nothing to drop at {'/'.join(c.key[1:])} of {c.doc_id}")
            else:
                dropped.add(c.key)
                applied.append(f"{'/'.join(c.key)} dropped ({c.note()})")
        elif row is not None and same_value(row.value, c.value) and row.unit == c.unit:
            unmatched.append(f"line {c.line}: {c.doc_id} {'/'.join(c.key[1:])} is read as {c.value_text} already")
        elif row is not None:
            by_key[c.key] = replace(row, value=c.value, unit=c.unit, value_high=None,
                                    qualifier=c.qualifier, correction=f"was {row.value_text}; {c.note()}")
            applied.append(f"{'/'.join(c.key)} = {c.value_text} ({c.note()})")
        else:
            added.append(_new_row(docs[c.doc_id], c))
            applied.append(f"{'/'.join(c.key)} = {c.value_text} added ({c.note()})")
    out = [r for k, r in by_key.items() if k not in dropped] + added
    return out, applied, unmatched


def _new_row(report: Report, c: Correction) -> PanelRow:
    year = report.review_year if c.kind == "actual" else report.plan_year
    return PanelRow(source_name=report.source_name, doc_index=report.doc_index, region=report.region,
                    region_code=report.region_code, tier=report.tier, province=report.province,
                    indicator=c.indicator, kind=c.kind, measure=c.measure, year=year, value=c.value,
                    value_high=None, unit=c.unit, qualifier=c.qualifier, estimate=False, strength=None,
                    status="reported", value_text=c.value_text, quote=f"(analyst: {c.reason})", start=0,
                    end=0, correction=f"added; {c.note()}")
