"""Stage 3: what the run staged (the bronze items of the sources it read, their reports,
mentions and panel rows) against the Great Expectations suites of expectations/. Nothing is
published unless every expectation holds.

The run's rows are read back from its staging area table by table, at most CHECK_ROWS rows and about
CHECK_BYTES at a time (memory stays flat however large the run), and each batch is validated; the results are
merged into one report for the run. GX's cost is mostly per expectation, not per row (about a
second for the four suites), so batches are large. Only NEW rows are checked: the rows the lake
already holds passed when they were published, and every key of a table starts with its
source_name, so keys unique per source are unique in the table.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from . import memory
from .lake import Lake
from .schemas import TABLES as SCHEMAS

CHECK_ROWS = int(os.environ.get("GWR_CHECK_ROWS") or 100_000)
CHECK_BYTES = int(os.environ.get("GWR_CHECK_BYTES") or 32 * 1024 * 1024)   # in memory, per batch
TABLES = ("source_items", "reports", "indicator_mentions", "indicator_panel")


def _suites_dir(expectations: str | None) -> Path:
    from .validate import SUITES_DIR

    return Path(expectations) if expectations else SUITES_DIR


def _batches(lk: Lake, run_id: str, table: str, sources: list[tuple[str, str]],
             versions: dict | None = None):
    """The run's rows of `table`, in batches of about CHECK_ROWS rows. Bronze rows are named as
    the run found their file (one file's bytes may have landed under another name before)."""
    if table == "source_items":
        parts, n = [], 0
        for name, sha in sources:
            t = lk.read_bronze(sha)
            t = t.set_column(t.schema.get_field_index("source_name"), "source_name",
                             pa.array([name] * t.num_rows, pa.string()))
            parts.append(t)
            n += t.num_rows
            if n >= CHECK_ROWS or sum(x.nbytes for x in parts) >= CHECK_BYTES:
                yield pa.concat_tables(parts)
                parts, n = [], 0
        if parts or not sources:
            yield pa.concat_tables(parts) if parts else SCHEMAS[table][1].empty_table()
        return
    yield from lk.iter_staged(run_id, table, CHECK_ROWS, CHECK_BYTES,
                              versions=None if versions is None else versions.get(table, []))


def _check(lake: str, run_id: str, sources: list[tuple[str, str]], expectations: str | None,
           versions: dict | None = None):
    import time

    from .validate import merge_reports, validate_tables

    lk = Lake(lake)
    reports = []
    logger = get_run_logger()
    for table in TABLES:
        t0, n, rows = time.perf_counter(), 0, 0
        for batch in _batches(lk, run_id, table, sources, versions):
            reports.append(validate_tables({table: batch}, expectations))
            n, rows = n + 1, rows + batch.num_rows
            del batch
            memory.release()
        logger.info("%s: %d row(s) in %d batch(es), %.2f s", table, rows, n, time.perf_counter() - t0)
    report = merge_reports(reports)
    (logger.info if report.success else logger.error)(report.summary())
    return report


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def check(lake: str, run_id: str, sources: list[tuple[str, str]], expectations: str | None = None):
    """Run the suites on every row the run staged -> one ValidationReport."""
    return _check(lake, run_id, sources, expectations)


@task(name="validate", task_run_name="validate part {index}", cache_policy=NO_CACHE,
      persist_result=False)
def check_part(lake: str, run_id: str, sources: list[tuple[str, str]], versions: dict,
               expectations: str | None = None, index: int = 1):
    """The suites on some chunks' staged segments (`versions`: table -> [segment]) and their
    bronze items: with a distributed task runner the run is validated in one part per worker,
    in parallel (a part costs GX's fixed second or two, so not one per chunk; with threads, which
    share one GIL, the run is checked whole)."""
    return _check(lake, run_id, sources, expectations, versions)


def merge(reports: list):
    from .validate import merge_reports

    return merge_reports(reports)


@task(name="record-validation", cache_policy=NO_CACHE, persist_result=False)
def record(report, lake: str, run_id: str) -> dict:
    """The run's validation report -> <lake>/validation/<run_id>.json and .md."""
    lk = Lake(lake)
    json_path = lk.write_text("validation", f"{run_id}.json",
                              json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    md_path = lk.write_text("validation", f"{run_id}.md", report.to_markdown(run_id))
    return {"success": report.success, "summary": report.summary(), "tables": report.tables,
            "json": str(json_path), "markdown": str(md_path)}
