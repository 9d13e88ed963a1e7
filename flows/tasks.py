"""The flow's tasks: each runs one stage (flows/stages/) and logs what it did in numbers, for the
Prefect UI. The CPU-bound work goes through flows/runtime/workers.py (the one place that
decides where it runs)."""
from __future__ import annotations

import logging

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from .runtime import workers
from .settings import Settings

TASK = dict(cache_policy=NO_CACHE, persist_result=False)


@task(name="plan", **TASK)
def plan(settings: Settings, code_version: str, parts: int):
    from .stages.fetch import plan_run

    return plan_run(settings, code_version, parts, get_run_logger())


def _log_landed(out: list) -> None:
    log = get_run_logger()
    ok = [f for f in out if f.ok]
    log.info("fetched %d file(s), %s bytes: %d new in bronze, %d already there, %d not modified, %d quarantined",
             len(out), f"{sum(f.byte_size for f in out):,}", sum(f.new for f in ok),
             sum(not f.new and not f.not_modified for f in ok), sum(f.not_modified for f in ok), len(out) - len(ok))
    for f in out:
        for r in f.rejects:   # a row of a file that landed (a vendor row without text) is a warning
            level = logging.WARNING if f.ok and r.get("item_index") is not None else logging.ERROR
            log.log(level, "QUARANTINED %s at fetch: %s", f.source_name, r["reason"])


@task(name="fetch", task_run_name="fetch chunk {index} ({n} files)", **TASK)
def fetch(settings: Settings, chunk: list, index: int, n: int) -> list:
    from .stages.fetch import fetch_chunk

    out = workers.run(fetch_chunk, settings.lake, chunk, settings.input_options())
    _log_landed(out)
    return out


@task(name="download", task_run_name="download {name}", **TASK)
def download(settings: Settings, src, known: dict | None, name: str) -> list:
    from .stages.fetch import download as get

    out = get(settings.lake, src, settings.input_options(), known)
    _log_landed(out)
    return out


@task(name="process", task_run_name="process chunk {index} ({n} files)", **TASK)
def process(settings: Settings, run_id: str, landed: list, planned, index: int, n: int):
    from .stages.process import ChunkResult, holds, process_chunk

    log = get_run_logger()
    held, versions = planned.index, planned.versions
    todo = [(f.source_name, f.sha256) for f in landed if f.ok and not f.not_modified and (
        f.location == "bronze" or not holds(held.get(f.source_name), f.sha256, versions(f.source_name)))]
    if not todo:
        return ChunkResult()
    hints = {n: versions.hint(n) for n, _ in todo if versions.hint(n)}
    res = workers.run(process_chunk, settings.lake, run_id, f"chunk-{index:04d}", todo, planned.corrections,
                      hints)
    log.info("processed %d source(s) in %.2f s: %d report(s), %d debris line(s) removed, %d mention(s), "
             "%d panel row(s)", len(todo), res.seconds, res.stat("reports"), res.stat("debris_lines_removed"),
             res.stat("mentions"), res.stat("panel_rows"))
    for r in res.rejects:
        log.error("QUARANTINED %s at %s: %s", r["source_name"], r["stage"], r["reason"])
    for c in res.conflicts:
        log.warning("metadata conflict (the text wins): %s", c)
    for c in res.corrected:
        log.info("corrected: %s", c)
    for c in res.unmatched:
        log.warning("a correction matches nothing: %s", c)
    return res


@task(name="validate", task_run_name="validate {table}", **TASK)
def validate(settings: Settings, run_id: str, table: str, sources: list):
    from .stages.validate import check_table

    out = workers.run(check_table, settings.lake, run_id, table, sources, settings.expectations,
                      settings.check_rows)
    get_run_logger().info("%s: %d row(s) in %d batch(es), %.2f s", table, out.rows, len(out.reports), out.seconds)
    return out


@task(name="record-validation", **TASK)
def record_validation(settings: Settings, run_id: str, checks: list) -> dict:
    from .lake import Lake
    from .stages.validate import merge, record

    report = merge(checks)
    (get_run_logger().info if report.success else get_run_logger().error)(report.summary())
    return record(Lake(settings.lake), run_id, report)


@task(name="bi", **TASK)
def bi(settings: Settings, run_id: str, replaced: list[str], whole: bool):
    from .lake import Lake
    from .stages.bi import build_bi
    from .stages.validate import record

    out = workers.run(build_bi, settings.lake, run_id, replaced, whole, settings.expectations,
                      settings.attainment_tolerance)
    log = get_run_logger()
    log.info("BI tables of %s: %s, %.2f s", "every region" if out.regions is None else f"{len(out.regions)} region(s)",
             ", ".join(f"{k} {v} row(s)" for k, v in out.rows.items()), out.seconds)
    (log.info if out.ok else log.error)("BI tables: %s", out.report.summary())
    out.record = record(Lake(settings.lake), run_id, out.report, f"{run_id}-bi")
    return out


@task(name="publish", **TASK)
def publish(settings: Settings, run_id: str, code_version: str, work, bi_result):
    from .stages.publish import publish as commit

    bi_ok = bi_result is not None and bi_result.ok
    extra = {"bi": {"tolerance": settings.attainment_tolerance,
                    "stale": bool(work.bi_wanted and not bi_ok)}}
    out = commit(settings.lake, run_id, code_version, work.processed, work.index_rows,
                 bi_result.regions if bi_ok else None, bi_ok, extra,
                 bi_result.panel_version if bi_result is not None else None,
                 work.replaced)
    get_run_logger().info("published: %s", ", ".join(f"{t} v{out.versions[t]}" for t in out.committed) or
                          "nothing changed")
    return out


@task(name="report", **TASK)
def report(settings: Settings, run: dict, focus: list[str]):
    from .stages.report import write_report

    out = workers.run(write_report, settings.lake, run, settings.expectations, focus)
    get_run_logger().info("report: %s", out.report)
    return out


@task(name="artifacts", **TASK)
def artifacts(summary: dict, settings: Settings) -> list[str]:
    """What the Prefect UI shows of the run: built from the summary, the run's panel rows (as
    published, or as staged when validation failed) and its recorded validation."""
    from .lake import Lake
    from .outputs.artifacts import PANEL_COLUMNS, publish_artifacts
    from .quality.suites import load_suite
    from .schemas import TABLES

    lake = Lake(settings.lake)
    run_id = summary["run_id"]
    names = sorted({i["source_name"] for i in summary.get("inputs") or []})
    panel = []
    if names:
        where = ("source_name", names)
        found = lake.staging.read(run_id, "indicator_panel", PANEL_COLUMNS, where) if \
            summary["status"] == "failed_validation" else lake.read("indicator_panel", columns=PANEL_COLUMNS, where=where)
        panel = found.to_pylist()
    validation = lake.records.read_json("validation", f"{run_id}.json") if summary.get("validation") else None
    suites = {}
    for table in TABLES:
        try:
            suites[table] = load_suite(table, settings.expectations).get("expectations", [])
        except FileNotFoundError:
            continue
    return publish_artifacts(summary, panel, validation, suites)
