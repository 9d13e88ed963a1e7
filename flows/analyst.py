"""Stage 5, for the analyst: BI tables, the HTML report and GX Data Docs.

    prepare_bi   indicator_wide and target_attainment (flows/bi.py) from the panel as the run's
                 publish will leave it (every source in the lake: a target of 2012 is in
                 hailar_2012.txt, its actual in hailar_2013.txt), beside the validation of the
                 run's rows: the rows of the regions the run changed are rebuilt, the others kept
                 (a row needs only its region's panel rows), checked with their GX suites
                 (expectations/indicator_wide.json, target_attainment.json) and, when they
                 pass, staged where they were built (stage_bi), to be published WITH the run's
                 rows (one exchange: a reader never sees the new panel beside older BI tables)
    publish_bi   after the publish: the report; and for a run with nothing new, BI tables the
                 live panel has no current ones of (built from the live panel, published alone)
    the report   <lake>/reports/index.html (flows/report.py) and <lake>/reports/data_docs/ (GX
                 Data Docs of this run's validations and of the runs before), written by every
                 run, failed or not, and linked from the Prefect run (markdown artifact
                 gwr-lake-report: links and paths)
"""
from __future__ import annotations

import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from . import memory, runners, work
from .bi import BI_TABLES
from .lake import Lake

class BIValidationFailed(RuntimeError):
    pass


@task(name="prepare-bi", cache_policy=NO_CACHE, persist_result=False)
def prepare_bi(lake: str, run_id: str, replaced: list[str], expectations: str | None = None,
               where: str = "here") -> dict:
    """The BI tables as they will be once the run's rows are published, checked with their
    suites: run beside the validation of the run's own rows, staged here when they pass
    (stage_bi: the tables never travel back to the flow's process) and published with the run's
    rows, in the same publish, so a reader never sees the new panel beside older BI tables.

    The panel to be = the live panel without the rows of the sources the run re-read
    (`replaced`), plus the rows the run staged (Lake.publish replaces exactly those). When the
    live BI tables were built from the live panel, only the regions of the staged rows and of
    the rows they replace are rebuilt (bi.bi_update); otherwise the tables are built whole,
    in region groups side by side (`where`: runners.spread; under Dask this task runs on a
    worker, beside the validation's task runs, and sends its region groups and the two suites
    to all the workers, its own thread seceding while it waits).
    -> stage_bi's dict, with regions_rebuilt (None: all)"""
    from .bi import GROUP_ROWS, bi_update, concat_bi, region_counts, region_groups
    from .quality import merge_reports, validate_tables

    lk = Lake(lake)
    bi_suites = _bi_suites(expectations)
    width = runners.width(where)

    if bi_is_current(lk):
        regions = sorted(_regions(lk.read_staged(run_id, "indicator_panel", columns=["region"]))
                         | _regions(lk.read_table("indicator_panel", columns=["region"],
                                                  where=("source_name", replaced))))
        rebuilt, tables = bi_update({t: lk.read_table(t) for t in BI_TABLES},
                                    work.panel_to_be(lake, run_id, replaced, ("region", regions)),
                                    regions)
        done = sorted(set(regions))
    else:   # whole tables, in groups of regions: each job reads its regions' panel rows
        counts = region_counts(work.panel_to_be(lake, run_id, replaced,
                                                columns=["source_name", "region"]))
        groups = region_groups(counts, max(width, -(-sum(counts.values()) // GROUP_ROWS)))
        rebuilt = tables = concat_bi(runners.spread(
            [(work.bi_of_regions, (lake, run_id, replaced, g)) for g in groups], where))
        done = None
    memory.release()
    # the rows kept passed before
    report = merge_reports(runners.spread(
        [(validate_tables, ({t: rebuilt[t]}, bi_suites)) for t in BI_TABLES], where))
    get_run_logger().log(20 if report.success else 40, "BI tables (%s): %s",
                         "all regions rebuilt" if done is None else
                         f"{len(done)} region(s) rebuilt, the others kept", report.summary())
    return dict(stage_bi(lk, run_id, tables, report), regions_rebuilt=done)


def bi_is_current(lk: Lake) -> bool:
    """Whether the live BI tables were built from the live panel (then a run rebuilds only the
    regions it changes; otherwise the whole tables)."""
    live_panel = lk.table_version("indicator_panel")
    return bool(live_panel) and all(lk.has_table(t) for t in BI_TABLES) \
        and lk.layer_meta("indicator_wide").get("bi_from") == live_panel


def _regions(table) -> set[str]:
    return {r for r in table.column("region").to_pylist() if r}


def stage_bi(lk: Lake, run_id: str, tables: dict, report) -> dict:
    """The BI tables into the run's staging area (published with the run's rows), when their
    suites passed (`report`); the report into <lake>/validation/<run_id>-bi.json and .md.
    -> what summary["bi"] says of them"""
    check = report.to_dict()
    json_path = lk.write_text("validation", f"{run_id}-bi.json",
                              json.dumps(check, ensure_ascii=False, indent=2, default=str))
    md_path = lk.write_text("validation", f"{run_id}-bi.md", report.to_markdown(f"{run_id} (BI tables)"))
    out = {"validation": {"success": report.success, "summary": report.summary(),
                          "json": str(json_path), "markdown": str(md_path)}, "check": check}
    if report.success:
        out["staged"] = [name for name, table in tables.items()
                         if lk.stage(run_id, name, table) is not None]
        out["rows"] = {n: t.num_rows for n, t in tables.items()}
    return out


def _bi_suites(expectations: str | None) -> str | None:
    if expectations and not all((Path(expectations) / f"{t}.json").is_file() for t in BI_TABLES):
        get_run_logger().warning("%s has no suite for %s: using the repository's", expectations,
                                 " and ".join(BI_TABLES))
        return None
    return expectations


@task(name="publish-bi", cache_policy=NO_CACHE, persist_result=False)
def publish_bi(lake: str, run_id: str, summary: dict, expectations: str | None = None,
               publish: bool = True, focus: list[str] | None = None, in_pool: bool = False,
               prepared: dict | None = None, published: list[str] | None = None) -> dict:
    """The report and the Data Docs (always), after the publish. Raises BIValidationFailed, after
    writing the report, when a BI suite failed: the previous BI tables stay.

    prepared: the BI tables were prepared beside the run's validation and published with its
    rows (prepare_bi's dict; `published`: the tables that publish rewrote). Without them (a run
    with nothing new), when `publish` and the live BI tables were not built from the live
    panel, they are prepared here (prepare_bi, from the live panel) and published alone.

    in_pool: the GX work (the BI suites, side by side; Data Docs) runs in the worker processes of
    flows/pool.py, as the run's own validation did; with a Dask runner, the region groups and the
    BI suites run on its workers (runners.spread)."""
    logger = get_run_logger()
    lk = Lake(lake)
    out: dict = {}
    check = None
    try:
        if prepared is None and publish and not bi_is_current(lk):
            # this task runs in the flow's process: its jobs may go to the Dask workers
            prepared = prepare_bi.fn(lake, run_id, [], expectations, runners.where(in_pool))
            published = []
            if prepared["validation"]["success"]:
                try:
                    published = lk.publish(run_id, versions_of={"bi_from": "indicator_panel"})
                finally:
                    lk.discard(run_id)
        if prepared is not None:
            check = prepared["check"]
            out["validation"] = prepared["validation"]
            if check["success"]:
                out.update(rows=prepared["rows"],
                           rewritten=[t for t in BI_TABLES if t in (published or ())])
                logger.info("BI tables published: %s; rewritten: %s",
                            ", ".join(f"{k}={v}" for k, v in out["rows"].items()),
                            ", ".join(out["rewritten"]) or "none (no table changed)")
    finally:
        try:
            out["report"] = write_report(lk, run_id, summary, check, expectations, focus, in_pool)
        except Exception as exc:  # noqa: BLE001 - the tables are published: say it, go on
            logger.error("report not written: %s: %s", type(exc).__name__, exc, exc_info=True)
            out["report"] = None
        logger.info("report: %s", out["report"])
    if check is not None and not check["success"]:
        raise BIValidationFailed(f"BI tables: {out['validation']['summary']} -- the previous BI "
                                 f"tables stay; full report: {out['validation']['markdown']}")
    return out


def write_report(lk: Lake, run_id: str, summary: dict, bi_check: dict | None,
                 expectations: str | None = None, focus: list[str] | None = None,
                 in_pool: bool = False) -> str:
    """Data Docs and reports/index.html of the lake as it is now; a link artifact to them.
    Returns the report's URL. The Data Docs (work.data_docs) are built where the run's GX work
    runs -- a worker process of flows/pool.py, a Dask worker -- while the page renders here."""
    docs = runners.start(work.data_docs, lk.location(), run_id, expectations,
                         where=runners.where(in_pool))
    try:
        page = _page(lk, run_id, summary, bi_check, focus)
    except BaseException:
        try:   # the job writes into the lake this run holds: let it end before the run does
            docs.result()
        except Exception:  # noqa: BLE001 - the page's error is the one to raise
            pass
        raise
    docs.result()
    lk.write_report("index.html", page)
    url, docs_url = lk.report_url("index.html"), lk.report_url("data_docs/index.html")
    status = _status(summary, bi_check)
    create_markdown_artifact(
        key="gwr-lake-report", description=f"run {run_id}: the HTML report and the GX Data Docs",
        markdown=(f"## gwr-lake report, run {run_id}: {status}\n\n"
                  f"- [HTML report]({url}): actual vs target charts per region, every value with "
                  f"its evidence, what validation said\n"
                  f"- [Great Expectations Data Docs]({docs_url})\n\n"
                  f"Open in a browser (a browser may not follow file:// links from this page: "
                  f"copy the address):\n\n    {url}\n"))
    return url


def _status(summary: dict, bi_check: dict | None) -> str:
    status = summary.get("status", "")
    if status == "running":   # the run is being published
        status = "published" if summary.get("published") is not None else "running"
        if bi_check is not None and not bi_check["success"]:
            status = "failed_validation (BI tables)"
    return status


def _page(lk: Lake, run_id: str, summary: dict, bi_check: dict | None,
          focus: list[str] | None) -> str:
    """reports/index.html of the lake as it is now (the Data Docs it links to are being built)."""
    from .report import render_report

    batch_text = lk.read_text("validation", f"{run_id}.json")
    status = _status(summary, bi_check)
    links = {"Great Expectations Data Docs": "data_docs/index.html"}
    if batch_text:
        links["this run's validation (batch)"] = f"../validation/{run_id}.md"
    if bi_check is not None:
        links["this run's validation (BI tables)"] = f"../validation/{run_id}-bi.md"
    earlier = [m for m in lk.manifests() if m.get("run_id") != run_id]
    return render_report(
        lk.read_table("indicator_panel"), lk.read_table("target_attainment"),
        run=dict(summary, status=status),
        checks=[("batch: this run's new rows", json.loads(batch_text) if batch_text else None),
                ("BI tables: indicator_wide, target_attainment", bi_check)],
        runs=earlier + [dict(summary, status=status)], links=links, lake=lk.location(),
        focus=set(focus or ()))
