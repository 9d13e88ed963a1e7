"""Stage 3: the run's batch (bronze items, reports, mentions, panel rows) against the Great
Expectations suites of expectations/. Nothing is published unless every expectation holds.

The check is cached like the per-source stages: its key is a digest of every table of the batch,
the suites' files and the validation code, so a re-run whose batch did not change does not run
GX again (the persisted report is reused). The report files are written for every run.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE, CachePolicy

from .lake import Lake, _digest


def _suites_dir(expectations: str | None) -> Path:
    from .validate import SUITES_DIR

    return Path(expectations) if expectations else SUITES_DIR


def _check_key(context, parameters: dict) -> str:
    h = hashlib.sha256()
    for name, table in sorted(parameters["tables"].items()):
        h.update(name.encode() + b"=" + _digest(table).encode() + b";")
    for p in sorted(_suites_dir(parameters.get("expectations")).glob("*.json")):
        h.update(p.name.encode() + p.read_bytes())
    h.update((Path(__file__).parent / "validate.py").read_bytes())
    return "check-" + h.hexdigest()[:32]


@task(name="validate", cache_policy=CachePolicy.from_cache_key_fn(_check_key), persist_result=True)
def check(tables: dict[str, pa.Table], expectations: str | None = None):
    """Run the suites on the batch -> a ValidationReport."""
    from .validate import validate_tables

    report = validate_tables(tables, expectations)
    (get_run_logger().info if report.success else get_run_logger().error)(report.summary())
    return report


def for_lake(lake: Lake):
    return check.with_options(result_storage=lake.results_dir())


@task(name="record-validation", cache_policy=NO_CACHE, persist_result=False)
def record(report, lake: str, run_id: str) -> dict:
    """The run's validation report -> <lake>/validation/<run_id>.json and .md."""
    lk = Lake(lake)
    json_path = lk.write_text("validation", f"{run_id}.json",
                              json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    md_path = lk.write_text("validation", f"{run_id}.md", report.to_markdown(run_id))
    return {"success": report.success, "summary": report.summary(), "tables": report.tables,
            "json": str(json_path), "markdown": str(md_path)}
