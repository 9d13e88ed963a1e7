"""Plain data passed between the pure stages. No Prefect, no files, no GX.

Every dataclass here maps 1:1 onto a table in flows/schemas.py (same field names, same order).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


class SourceError(ValueError):
    """Raised by a pure stage for input it cannot use. The message is meant for a person:
    it says what is wrong and what would fix it. The shell turns it into a quarantine record."""

    def __init__(self, reason: str, code: str = "bad_input"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class SourceItem:
    """One item of a source file: the whole file for a document (txt, html, pdf, docx, doc), one
    row of a table (csv, xlsx, xls), one record of JSON Lines."""
    source_name: str          # path of the file relative to the source root (posix)
    item_index: int           # 1-based position of the item inside its file
    container: str            # txt | html | csv | jsonl | xlsx | xls | pdf | docx | doc
    encoding: str             # detected encoding of the file bytes (the format for binary ones)
    text: str                 # decoded text (for html: the main content)
    title: str | None = None  # metadata the container carried, if any
    year: int | None = None
    url: str | None = None
    publish_date: str | None = None
    place: str | None = None        # a table row's place column (区县名称, 地区)
    city: str | None = None         # its city column (所属城市)
    province: str | None = None     # its province column (所属省份)
    region_code: str | None = None  # its administrative code column (行政区划代码)


@dataclass
class Cleaned:
    text: str                                     # cleaned body (glossary removed)
    glossary: str = ""                            # 名词解释 / 附件 part, set apart
    removed: dict = field(default_factory=dict)   # reason -> number of lines removed


@dataclass
class Report:
    source_name: str
    doc_index: int            # 1-based order among the REPORTS of that source
    item_index: int
    is_report: bool           # False for e.g. an NPC resolution approving a report
    region: str | None
    region_code: str | None   # administrative code (today's, for a renamed county)
    tier: str | None          # national | province | city | county | district | zone
    province: str | None
    review_year: int | None
    plan_year: int | None
    delivered_date: str | None   # ISO date when the text (or its page) gives one
    title: str | None
    metadata_conflicts: str | None   # where the record's columns disagree with the text
    text: str                 # cleaned text: mention offsets point into this
    glossary: str
    removed_lines: int
    removed_detail: str       # JSON {reason: count}


@dataclass
class Mention:
    source_name: str
    doc_index: int
    region: str | None
    indicator: str
    kind: str                 # actual | target
    measure: str              # level | growth_pct
    period: str               # annual | partial_year | multi_year
    year: int | None
    value: float | None       # None only for status == 'no_target'
    value_high: float | None
    unit: str                 # yuan | usd | percent | person | tonne
    qualifier: str | None     # about | at_least | at_most | range | None
    estimate: bool
    strength: str | None      # 确保 | 力争 | 争取 | plain (targets only)
    value_text: str           # the number and unit as written
    quote: str                # the clause the value came from
    sentence: str
    start: int                # offsets of the value span in Report.text
    end: int
    sentence_start: int
    sentence_end: int
    status: str = "reported"  # reported | no_target (the report says it sets no target)
    rule: str = "direct"      # the reading that produced the value (flows/vocab/rules.csv)
    subject: str = "explicit"     # explicit | list | implied: how the indicator was named
    confidence: str = "high"      # high | medium | low (flows/vocab/rules.csv says when)


@dataclass
class PanelRow:
    source_name: str
    doc_index: int
    region: str | None
    region_code: str | None
    tier: str | None
    province: str | None
    indicator: str
    kind: str
    measure: str
    year: int | None
    value: float | None       # None only for status == 'no_target'
    value_high: float | None
    unit: str | None
    qualifier: str | None
    estimate: bool
    strength: str | None
    status: str               # reported | no_target
    value_text: str
    quote: str
    start: int
    end: int
    rule: str = "direct"
    subject: str = "explicit"
    confidence: str = "high"
    correction: str | None = None   # an analyst's correction of this row (flows/core/corrections.py)


def column_names(cls) -> list[str]:
    return [f.name for f in fields(cls)]


def as_dicts(rows) -> list[dict]:
    """Shallow: our rows hold only scalars (dataclasses.asdict deep-copies and is 10x slower)."""
    if not rows:
        return []
    names = column_names(type(rows[0]))
    return [{n: getattr(r, n) for n in names} for r in rows]


@dataclass
class AttainmentRow:
    """A target of year Y (from the report that planned Y) beside the actual of Y (from the report
    that reviewed Y), for one region, indicator and measure."""
    region: str
    indicator: str
    measure: str
    year: int
    target: float | None
    target_high: float | None
    target_qualifier: str | None
    target_status: str            # reported | no_target
    actual: float | None
    actual_estimate: bool | None
    unit: str | None
    status: str                   # met | missed | unknown
    gap: float | None             # actual - target (the upper end for at_most targets)
    target_source: str            # doc id "<source>#<doc_index>" of the planning report
    actual_source: str | None     # doc id of the reviewing report, None when not found
    target_quote: str
    actual_quote: str | None
