"""Stage 3, validate: every row a run is about to publish against its table's Great Expectations
suite (expectations/<table>.json): the bronze items of the sources it read, and the reports,
mentions and panel rows it staged. Nothing is published unless every expectation holds.

Only a run's NEW rows are checked: the rows the lake holds passed when they were published, and
every key of a table starts with its source_name, so keys unique per source are unique in the
table. Rows are read back in batches of Settings.check_rows; the columns a suite only checks for
nulls (whole texts) are compacted as they are read, so memory stays flat however large the run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ..runtime.faults import crashpoint

CHECKED = ("source_items", "reports", "indicator_mentions", "indicator_panel")
BRONZE_FILES = 64      # bronze files read at once


@dataclass
class TableCheck:
    table: str
    reports: list          # quality.validate.ValidationReport per batch
    rows: int
    seconds: float


def _named_bronze(lake, group: list[tuple[str, str]]) -> pa.Table:
    """The bronze items of (source_name, sha256) pairs, each row named as this run found its
    file (the bytes may have landed under another name before; two files of one run with the
    same bytes give their rows once per name)."""
    shas = list(dict.fromkeys(sha for _, sha in group))
    t = lake.bronze.read(shas)
    first: dict[str, str] = {}
    for name, sha in group:
        first.setdefault(sha, name)
    col = t.schema.get_field_index("source_name")
    owner = pc.index_in(t["sha256"], value_set=pa.array(shas, pa.string()))
    named = t.set_column(col, "source_name", pc.take(pa.array([first[s] for s in shas], pa.string()), owner))
    parts = [named]
    for name, sha in group:
        if first[sha] != name:
            rows = named.filter(pc.equal(named["sha256"], sha))
            parts.append(rows.set_column(col, "source_name", pa.array([name] * rows.num_rows, pa.string())))
    return pa.concat_tables(parts)


def _pieces(lake, run_id: str, table: str, sources: list[tuple[str, str]], max_rows: int):
    if table == "source_items":
        for i in range(0, len(sources), BRONZE_FILES):
            yield _named_bronze(lake, sources[i:i + BRONZE_FILES])
        return
    yield from lake.staging.batches(run_id, table, max_rows)


def check_table(lake_url: str, run_id: str, table: str, sources: list[tuple[str, str]],
                suites_dir: str | None, max_rows: int) -> TableCheck:
    """One table's new rows against its suite, in batches of about max_rows."""
    from ..lake import Lake
    from ..schemas import TABLES
    from ..quality.suites import compact, load_suite, null_only_columns
    from ..quality.validate import validate_tables

    lake = Lake(lake_url)
    t0 = time.perf_counter()
    only_nulls = null_only_columns(load_suite(table, suites_dir))
    reports, pending, rows = [], [], 0

    def flush():
        nonlocal rows
        batch = pa.concat_tables(pending)
        pending.clear()
        reports.append(validate_tables({table: batch}, suites_dir))
        rows += batch.num_rows

    for piece in _pieces(lake, run_id, table, sources, max_rows):
        pending.append(compact(piece, only_nulls))
        if sum(t.num_rows for t in pending) >= max_rows:
            flush()
    if pending or not reports:
        pending = pending or [TABLES[table][1].empty_table()]
        flush()
    return TableCheck(table, reports, rows, round(time.perf_counter() - t0, 3))


def merge(checks: list[TableCheck]):
    """The tables' checks -> one ValidationReport for the run."""
    from ..quality.validate import merge_reports

    return merge_reports([r for c in checks for r in c.reports])


def record(lake, run_id: str, report, name: str | None = None) -> dict:
    """A validation report -> <lake>/validation/<name>.json and .md; a summary dict."""
    import json

    name = name or run_id
    json_path = lake.records.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str),
                                        "validation", f"{name}.json")
    crashpoint("validation:written")
    md_path = lake.records.write_text(report.to_markdown(name), "validation", f"{name}.md")
    return {"success": report.success, "summary": report.summary(), "tables": report.tables,
            "json": json_path, "markdown": md_path}
