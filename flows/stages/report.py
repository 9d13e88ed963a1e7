"""Stage 6, report: what a person reads after a run.

    reports/index.html          the HTML report of the lake as it is now (flows/outputs/report_html)
    reports/data_docs/          Great Expectations Data Docs of the last runs' validations
    lake.duckdb                 DuckDB views over the live files of the current set (a local lake)

Written by every run that changed something, and by a failed run (the report says what
failed); a run with nothing new writes none of them.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..runtime.faults import crashpoint

DATA_DOCS_RUNS = 10


@dataclass
class ReportResult:
    report: str | None          # where the page is (a file:// URL for a local lake)
    data_docs: str | None
    duckdb: str | None


def data_docs(lake, suites_dir: str | None) -> str:
    """GX Data Docs of the last DATA_DOCS_RUNS runs' validations, built in a temporary folder and
    published into the lake's reports/data_docs/."""
    from ..quality.data_docs import build_data_docs

    names = [n[:-len(".json")] for n in lake.storage.list("validation", suffix=".json")]
    results = []
    for name in names[-2 * DATA_DOCS_RUNS:]:      # <run_id>.json and <run_id>-bi.json per run
        got = lake.records.read_json("validation", name + ".json") or {}
        rid = name.removesuffix("-bi")
        for table, raw in (got.get("gx_results") or {}).items():
            results.append((rid, table, raw))
    with tempfile.TemporaryDirectory(prefix="gwr-data-docs-") as tmp:
        site = Path(tmp) / "site"
        keep = lake.storage.path("reports", "data_docs") if not lake.storage.url else None
        build_data_docs(results, str(site), suites_dir, keep if keep and Path(keep).is_dir() else None)
        lake.storage.put_tree(str(site), "reports", "data_docs")
    return lake.storage.link("reports", "data_docs", "index.html")


def page(lake, run: dict, focus: set[str]) -> str:
    """reports/index.html of the lake as it is now."""
    from ..outputs.report_html import render_report
    from ..lake.versions import resolve

    run_id = run["run_id"]
    versions = resolve(lake, None)
    batch = lake.records.read_json("validation", f"{run_id}.json")
    bi = lake.records.read_json("validation", f"{run_id}-bi.json")
    links = {"Great Expectations Data Docs": "data_docs/index.html"}
    if batch:
        links["this run's validation (batch)"] = f"../validation/{run_id}.md"
    if bi:
        links["this run's validation (BI tables)"] = f"../validation/{run_id}-bi.md"
    earlier = [m for m in lake.records.manifests() if m.get("run_id") != run_id]
    return render_report(
        lake.read("indicator_panel", versions), lake.read("target_attainment", versions), run=run,
        checks=[("batch: this run's new rows", batch), ("BI tables: indicator_wide, target_attainment", bi)],
        runs=earlier + [run], links=links, lake=lake.location(), focus=focus)


def write_report(lake_url: str, run: dict, suites_dir: str | None, focus: list[str]) -> ReportResult:
    """The page, the Data Docs and the DuckDB file of the lake as it is now."""
    from ..lake import Lake
    from ..outputs.sql import write_duckdb

    lake = Lake(lake_url)
    docs = data_docs(lake, suites_dir)
    crashpoint("data_docs:written")
    lake.records.write_text(page(lake, run, set(focus)), "reports", "index.html")
    crashpoint("report:written")
    db = write_duckdb(lake)
    crashpoint("duckdb:written")
    return ReportResult(lake.storage.link("reports", "index.html"), docs, db)


def validation_summary(report) -> dict:
    return json.loads(json.dumps({"success": report.success, "summary": report.summary(),
                                  "tables": report.tables}, default=str))
