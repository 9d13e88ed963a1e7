"""One pyarrow schema per lake table: the contract of each layer.

Every table that mirrors a dataclass of flows/core/model.py has the same field names in the same
order (tests/test_schemas.py checks it); shell-only columns (sha256, fetched_at, ...) follow.
Each field carries a description in its metadata (b"description"), the source of the data
dictionary (`python -m flows.schemas` prints it as Markdown).
"""
from __future__ import annotations

import pyarrow as pa


def _f(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def _schema(description: str, *fields: pa.Field) -> pa.Schema:
    return pa.schema(list(fields), metadata={"description": description})


STR, I32, I64, F64, BOOL = pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_()
TS = pa.timestamp("us", tz="UTC")

SOURCE_ITEMS = _schema(
    "bronze: one row per item of a fetched source file (the whole file for txt/html, one row "
    "for csv/jsonl), decoded but otherwise as found. Append-only, keyed by sha256.",
    _f("source_name", STR, "path of the file relative to the source root (posix)", False),
    _f("item_index", I32, "1-based position of the item inside its file", False),
    _f("container", STR, "txt | html | csv | jsonl", False),
    _f("encoding", STR, "encoding detected for the file bytes", False),
    _f("text", STR, "decoded text of the item (for html: the visible text)", False),
    _f("title", STR, "title carried by the container, if any"),
    _f("year", I32, "year carried by the container, if any"),
    _f("url", STR, "url carried by the container, if any"),
    _f("publish_date", STR, "publish date carried by the container, if any"),
    _f("sha256", STR, "sha256 of the whole source file's bytes (hex)", False),
    _f("byte_size", I64, "size of the source file in bytes", False),
    _f("fetched_at", TS, "when the file was first fetched into bronze (UTC)", False),
)

REPORTS = _schema(
    "silver: one row per report split out of a source item, with its cleaned text and metadata.",
    _f("source_name", STR, "source file the report came from (relative path)", False),
    _f("doc_index", I32, "1-based order among the reports of the source; 0 for non-reports", False),
    _f("item_index", I32, "item of the source file the report came from", False),
    _f("is_report", BOOL, "false for e.g. an NPC resolution approving a report", False),
    _f("region", STR, "region the report is about (全国 for the State Council)"),
    _f("tier", STR, "national | province | city | county | district | zone"),
    _f("province", STR, "province the region belongs to"),
    _f("review_year", I32, "calendar year the report reviews"),
    _f("plan_year", I32, "calendar year the report plans"),
    _f("delivered_date", STR, "ISO date the report was delivered, when the text gives one"),
    _f("title", STR, "title line of the report"),
    _f("text", STR, "cleaned text; mention offsets point into it", False),
    _f("glossary", STR, "名词解释 / 附件 part, set apart from the text", False),
    _f("removed_lines", I32, "number of debris lines removed by cleaning", False),
    _f("removed_detail", STR, "JSON {reason: count} of the removed lines", False),
    _f("sha256", STR, "sha256 of the source file the report came from", False),
)

INDICATOR_MENTIONS = _schema(
    "gold: every indicator value found in a report, with its evidence. Partitioned by year.",
    _f("source_name", STR, "source file (relative path)", False),
    _f("doc_index", I32, "report within the source (1-based)", False),
    _f("region", STR, "region of the report"),
    _f("indicator", STR, "indicator code (flows/vocab/indicators.csv)", False),
    _f("kind", STR, "actual | target", False),
    _f("measure", STR, "level | growth_pct", False),
    _f("period", STR, "annual | partial_year | multi_year", False),
    _f("year", I32, "calendar year the figure is about"),
    _f("value", F64, "value normalized to unit; null only when status is no_target"),
    _f("value_high", F64, "upper end of a range, else null"),
    _f("unit", STR, "yuan | usd | percent | person | tonne"),
    _f("qualifier", STR, "about | at_least | at_most | range, or null"),
    _f("estimate", BOOL, "true where the figure is an estimate (预计)", False),
    _f("strength", STR, "确保 | 力争 | 争取 | plain (targets only)"),
    _f("value_text", STR, "the number and unit as written", False),
    _f("quote", STR, "the clause the value came from", False),
    _f("sentence", STR, "the sentence the value came from", False),
    _f("start", I32, "offset of the value span in the report's cleaned text", False),
    _f("end", I32, "end offset of the value span", False),
    _f("sentence_start", I32, "offset of the sentence in the report's cleaned text", False),
    _f("sentence_end", I32, "end offset of the sentence", False),
    _f("status", STR, "reported | no_target (the report says it sets no target)", False),
)

INDICATOR_PANEL = _schema(
    "gold: one headline value per (source_name, doc_index, indicator, kind, measure): the "
    "region x year x indicator table. Partitioned by year.",
    _f("source_name", STR, "source file (relative path)", False),
    _f("doc_index", I32, "report within the source (1-based)", False),
    _f("region", STR, "region of the report"),
    _f("tier", STR, "national | province | city | county | district | zone"),
    _f("province", STR, "province the region belongs to"),
    _f("indicator", STR, "indicator code (flows/vocab/indicators.csv)", False),
    _f("kind", STR, "actual | target", False),
    _f("measure", STR, "level | growth_pct", False),
    _f("year", I32, "calendar year the figure is about (actual: reviewed, target: plan year)"),
    _f("value", F64, "headline value normalized to unit; null only when status is no_target"),
    _f("value_high", F64, "upper end of a range, else null"),
    _f("unit", STR, "yuan | usd | percent | person | tonne"),
    _f("qualifier", STR, "about | at_least | at_most | range, or null"),
    _f("estimate", BOOL, "true where the figure is an estimate (预计)", False),
    _f("strength", STR, "确保 | 力争 | 争取 | plain (targets only)"),
    _f("status", STR, "reported | no_target", False),
    _f("value_text", STR, "the number and unit as written", False),
    _f("quote", STR, "the clause the value came from", False),
    _f("start", I32, "offset of the value span in the report's cleaned text", False),
    _f("end", I32, "end offset of the value span", False),
)

TARGET_ATTAINMENT = _schema(
    "gold: the target a report set for year Y beside the actual reported for Y by the report "
    "that reviewed Y, per region, indicator and measure. Partitioned by year.",
    _f("region", STR, "region", False),
    _f("indicator", STR, "indicator code", False),
    _f("measure", STR, "level | growth_pct", False),
    _f("year", I32, "the year targeted and reviewed", False),
    _f("target", F64, "target value (normalized unit); null when no target was set"),
    _f("target_high", F64, "upper end of a target range"),
    _f("target_qualifier", STR, "about | at_least | at_most | range, or null"),
    _f("target_status", STR, "reported | no_target", False),
    _f("actual", F64, "actual value reported for the year, null when not in the lake"),
    _f("actual_estimate", BOOL, "the actual is an estimate (预计)"),
    _f("unit", STR, "yuan | usd | percent | person | tonne"),
    _f("status", STR, "met | missed | unknown", False),
    _f("gap", F64, "actual - target (the cap for at_most targets, the low end of ranges)"),
    _f("target_source", STR, "doc id <source stem>#<doc_index> of the planning report", False),
    _f("actual_source", STR, "doc id of the reviewing report"),
    _f("target_quote", STR, "evidence of the target", False),
    _f("actual_quote", STR, "evidence of the actual"),
)

QUARANTINE = _schema(
    "quarantine: one row per input (file or item) a stage could not use, and why. Append-only.",
    _f("source_name", STR, "source file (relative path)", False),
    _f("item_index", I32, "item of the file, or null when the whole file was rejected"),
    _f("stage", STR, "fetch | clean_and_split | extract | build_panel", False),
    _f("reason", STR, "what went wrong, for a person", False),
    _f("error", STR, "error code or exception type", False),
    _f("sha256", STR, "sha256 of the source file", False),
    _f("run_id", STR, "run that quarantined it", False),
    _f("time", TS, "when (UTC)", False),
)

# table name -> (layer, schema, hive partition column or None)
TABLES: dict[str, tuple[str, pa.Schema, str | None]] = {
    "source_items": ("bronze", SOURCE_ITEMS, None),
    "reports": ("silver", REPORTS, None),
    "indicator_mentions": ("gold", INDICATOR_MENTIONS, "year"),
    "indicator_panel": ("gold", INDICATOR_PANEL, "year"),
    "target_attainment": ("gold", TARGET_ATTAINMENT, "year"),
    "quarantine": ("quarantine", QUARANTINE, None),
}

# the columns that identify a row of each table
KEYS: dict[str, tuple[str, ...]] = {
    "source_items": ("source_name", "item_index"),
    "reports": ("source_name", "item_index", "doc_index"),
    "indicator_mentions": ("source_name", "doc_index", "indicator", "kind", "measure", "start"),
    "indicator_panel": ("source_name", "doc_index", "indicator", "kind", "measure"),
    "target_attainment": ("region", "indicator", "measure", "year", "target_source"),
}


def schema(table: str) -> pa.Schema:
    return TABLES[table][1]


def to_table(table: str, rows: list[dict]) -> pa.Table:
    """Rows (dicts, extra keys ignored) -> an Arrow table of exactly the table's schema."""
    sch = schema(table)
    return pa.Table.from_pylist([{n: r.get(n) for n in sch.names} for r in rows], schema=sch)


def data_dictionary() -> str:
    """Markdown data dictionary generated from the schemas."""
    out = ["# gwr-lake data dictionary", ""]
    for name, (layer, sch, part) in TABLES.items():
        out += [f"## {layer}/{name}", "", sch.metadata[b"description"].decode(), ""]
        if part:
            out += [f"Partitioned hive-style by `{part}` (`{part}=2023/`).", ""]
        out += ["| column | type | null | description |", "|---|---|---|---|"]
        for f in sch:
            desc = f.metadata[b"description"].decode().replace("|", "\\|")
            out.append(f"| {f.name} | {f.type} | {'yes' if f.nullable else 'no'} | {desc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(data_dictionary())
