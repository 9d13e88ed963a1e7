"""Stage 3: what the run staged (the bronze items of the sources it read, their reports,
mentions and panel rows) against the Great Expectations suites of expectations/. Nothing is
published unless every expectation holds.

Each table is checked by flows/work.py check_table (no Prefect: with a large input it runs in
the worker processes of flows/pool.py, the tables side by side). The run's rows are read back from
its staging area about CHECK_BYTES at a time (memory stays flat however large the run); the columns
a suite only checks for nulls (report texts, sentences: most of the bytes) are compacted as they
are read (quality.compact), and the rows are validated in batches of about CHECK_ROWS; the
results are merged into one report for the run. GX's cost is mostly per expectation, not per row
(about a second for the four suites), so batches are large. Only NEW rows are checked: the rows the lake
already holds passed when they were published, and every key of a table starts with its
source_name, so keys unique per source are unique in the table.
"""
from __future__ import annotations

import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from . import pool, work
from .lake import Lake

from .work import CHECK_BYTES, CHECK_ROWS, CHECKED as TABLES  # noqa: F401

# the tables' checks in order of their usual cost (GX's cost grows with the rows: a run has
# ~28 mentions and ~18 panel rows per report), so that spread over workers the longest start first
LONGEST_FIRST = ("indicator_mentions", "indicator_panel", "source_items", "reports")


def _suites_dir(expectations: str | None) -> Path:
    return work.suites_dir(expectations)


def _check(lake: str, run_id: str, sources: list[tuple[str, str]], expectations: str | None,
           in_pool: bool = False):
    """The four tables' checks (work.check_table): one after the other in this thread, or side
    by side in the worker processes of flows/pool.py (GX is CPU-bound Python: one GIL)."""
    jobs = [(work.check_table, (lake, run_id, table, sources, expectations))
            for table in TABLES]
    done = pool.run_all(jobs) if in_pool else [fn(*args) for fn, args in jobs]
    logger = get_run_logger()
    for table, d in zip(TABLES, done):
        logger.info("%s: %d row(s) in %d batch(es), %.2f s%s", table, d["rows"], d["batches"],
                    d["seconds"], " (in a worker process)" if in_pool else "")
    return merge(done)


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def check(lake: str, run_id: str, sources: list[tuple[str, str]], expectations: str | None = None,
          in_pool: bool = False):
    """Run the suites on every row the run staged -> one ValidationReport (in_pool: the tables
    side by side in worker processes, flows/pool.py)."""
    return _check(lake, run_id, sources, expectations, in_pool=in_pool)


@task(name="validate", task_run_name="validate {table}", cache_policy=NO_CACHE,
      persist_result=False)
def check_one(lake: str, run_id: str, table: str, sources: list[tuple[str, str]],
              expectations: str | None = None) -> dict:
    """One table's suite on every row the run staged of it (work.check_table): with a
    distributed task runner, the four tables are four task runs spread over the workers, as the
    thread runner spreads them over its worker processes. -> check_table's dict"""
    d = work.check_table(lake, run_id, table, sources, expectations)
    get_run_logger().info("%s: %d row(s) in %d batch(es), %.2f s", table, d["rows"], d["batches"],
                          d["seconds"])
    return d


def merge(done: list[dict]):
    """check_one's results -> one ValidationReport for the run."""
    from .quality import merge_reports

    report = merge_reports([r for d in done for r in d["reports"]])
    (get_run_logger().info if report.success else get_run_logger().error)(report.summary())
    return report


@task(name="record-validation", cache_policy=NO_CACHE, persist_result=False)
def record(report, lake: str, run_id: str) -> dict:
    """The run's validation report -> <lake>/validation/<run_id>.json and .md."""
    lk = Lake(lake)
    json_path = lk.write_text("validation", f"{run_id}.json",
                              json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    md_path = lk.write_text("validation", f"{run_id}.md", report.to_markdown(run_id))
    return {"success": report.success, "summary": report.summary(), "tables": report.tables,
            "json": str(json_path), "markdown": str(md_path)}
