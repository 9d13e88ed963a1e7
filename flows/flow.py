"""The Prefect flow: it only wires the stages, each in its own module.

    plan      (flows/fetch.py)    which sources the lake does not hold from the same bytes and code
    fetch     (flows/fetch.py)    one task run per chunk of files (or per URL): bytes -> sha256 -> bronze
    process   (flows/process.py)  one task run per chunk: clean -> split -> extract -> panel, the
                                  rows staged as one segment per table (memory stays per chunk)
              (the work of fetch and process is flows/work.py; with the thread runner and a
               large input it runs in worker processes, flows/pool.py: one chunk per core)
    validate  (flows/check.py)    every staged row against the GX suites, in large batches (under
                                  Dask: one task run per table, spread over the workers)
    prepare-bi (flows/analyst.py) beside validate: the BI tables of the panel to be, and their suites
    publish   (flows/publish.py)  replace the rows of the sources read, keep every other segment;
                                  the BI tables go live in the same exchange
    publish-bi (flows/analyst.py) the HTML report and Data Docs
    artifacts (flows/artifacts.py) what the Prefect UI shows of the run, published by every run

An input a stage cannot use becomes a quarantine record and the run goes on. Nothing reaches
silver or gold unless the whole batch passes validation. One run writes to a lake at a time: a
second one waits for the lake's lock (flows/publish.py says why a lock).
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# a first start on a fresh machine migrates the ephemeral server's database: allow for it
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from prefect import flow, get_run_logger, unmapped  # noqa: E402

from . import analyst, artifacts, check, fetch, memory, pool, process, runners  # noqa: E402
from .core import pipeline  # noqa: E402,F401  (tests patch the core through flows.flow.pipeline)
from .faults import crashpoint  # noqa: E402
from .lake import Lake  # noqa: E402
from .publish import PUBLISHED_TABLES, publish, writer_lock  # noqa: E402,F401


class ValidationFailed(RuntimeError):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _run_id() -> str:
    from prefect.runtime import flow_run

    tail = (flow_run.id or uuid.uuid4().hex).replace("-", "")[:8]
    return _now().strftime("%Y%m%dT%H%M%SZ") + "-" + tail


@flow(name="gwr-lake", persist_result=False, task_runner=runners.from_env())
def gwr_lake(source: str = "seeds", lake: str = "lake", expectations: str | None = None) -> dict:
    """Government work reports under `source` (a folder, a file or an http(s) URL) -> bronze,
    silver and gold tables in `lake` (a folder or an fsspec URL such as s3://bucket/prefix)."""
    run_id = _run_id()
    memory.settle()   # Prefect and the flow's modules are loaded: out of the collector's way
    lk = Lake(lake)
    summary = {"run_id": run_id, "source": _where(source), "lake": lk.location(),
               "started_at": _now().isoformat(), "status": "running"}
    get_run_logger().info("run %s: %s -> %s", run_id, summary["source"], summary["lake"])
    shown = {"panel": [], "report": None}
    try:
        with writer_lock(lk):
            try:
                _run(source, lake, run_id, expectations, summary, shown)
            except Exception as exc:
                if summary["status"] == "running":
                    summary.update(status="failed", error=f"{type(exc).__name__}: {exc}")
                summary["finished_at"] = _now().isoformat()
                if not isinstance(exc, analyst.BIValidationFailed):  # it wrote the report
                    # a failed run writes the report too, saying what failed (flows/analyst.py)
                    try:
                        summary["report"] = analyst.publish_bi(lake, run_id, summary, expectations,
                                                               publish=False)["report"]
                    except Exception as rexc:  # noqa: BLE001 - never hide the run's own error
                        get_run_logger().error("report not written: %s: %s", type(rexc).__name__, rexc)
                lk.write_manifest(run_id, summary)
                raise
            summary.update(status="published", finished_at=_now().isoformat())
            summary["manifest"] = str(lk.write_manifest(run_id, summary))
    finally:  # a failed run shows what it got too (its validation above all)
        memory.unsettle()
        artifacts.publish_artifacts(summary, shown["panel"], shown["report"], {},
                                    format_summary(summary), _suites(expectations))
    return summary


def _run(source: str, lake: str, run_id: str, expectations: str | None, summary: dict,
         shown: dict) -> None:
    """The stages in order; fills `summary` (and `shown`, for the artifacts) as it goes."""
    logger = get_run_logger()
    lk = Lake(lake)
    version = process.code_version()
    workers = runners.distributed()   # Dask worker processes (0: threads here)
    parts = max(os.cpu_count() or 2, workers)   # chunks: work for every worker

    # plan + fetch: the sources the lake does not hold from these bytes and this code, read in
    # chunks (an http(s) source is one download, retried with backoff)
    sources = fetch.list_sources(source)
    if not sources:
        raise FileNotFoundError(f"no files under {source}")
    unchanged: list[str] = []
    index = lk.source_index()
    pfutures = None
    if fetch.remote.is_url(source):
        futures = fetch.download_task().map([n for n, _ in sources], [loc for _, loc in sources],
                                            unmapped(lake))
        fetched = []
        for (name, loc), fut in zip(sources, futures):
            fut.wait()
            fetched.extend(fut.result() if fut.state.is_completed() else
                           fetch.failed_fetch(name, loc, fut.state.result(raise_on_failure=False)))
    else:
        planned = fetch.plan(sources, lake, version)
        unchanged = planned["unchanged"]
        chunks = fetch.chunks(planned["todo"], parts)
        in_pool = use_pool(sum(p.size for p in planned["todo"]), len(chunks))
        futures = [fetch.fetch_chunk.submit(c, lake, i + 1, len(c), in_pool)
                   for i, c in enumerate(chunks)]
        # each chunk goes on to process as soon as its fetch is done
        pfutures = [process.process_fetched.submit(
            fut, {p.source_name: index.get(p.source_name) for p in c}, run_id, version, lake,
            i + 1, len(c), in_pool) for i, (fut, c) in enumerate(zip(futures, chunks))]
        fetched = [f for fut in futures for f in fut.result()]
    good = [f for f in fetched if f.ok]
    crashpoint("flow:fetched")

    def entry(f) -> dict:
        return {"sha256": f.sha256, "code_version": version, "size": f.size, "mtime_ns": f.mtime_ns}

    def held(f) -> bool:   # the lake holds this source's rows from these bytes and this code
        return process.holds(index.get(f.source_name), f.sha256, version)

    todo = [f for f in good if not held(f)]
    touched = {f.source_name: entry(f) for f in good if held(f)}
    logger.info("fetch: %d file(s) read, %d usable, %d new in bronze, %d quarantined; %d unchanged "
                "in the lake (%d not read)", len(fetched), len(good), sum(f.new for f in good),
                len(fetched) - len(good), len(unchanged) + len(touched), len(unchanged))

    # process: one task run per chunk, its rows staged as one segment per table (a local source's
    # chunks were submitted with their fetch; downloads are chunked once all are in)
    if pfutures is None:
        pchunks = fetch.chunks(todo, parts)
        in_pool = use_pool(sum(f.byte_size for f in todo), len(pchunks))
        pfutures = [process.process_chunk.submit([(f.source_name, f.sha256) for f in c], run_id,
                                                 version, lake, i + 1, len(c), in_pool)
                    for i, c in enumerate(pchunks)]

    # submitted now, to start as soon as the last chunk is staged (submitting a task run costs
    # the flow ~0.1 s under Dask): validate -- every row the run stages -- and beside it the BI
    # tables as they will be once those rows are published (nothing new: nothing to check)
    srcs = [(f.source_name, f.sha256) for f in todo]
    replaced = [f.source_name for f in todo]
    bi_future, vfutures = None, None

    def prepare_bi(**kw):
        return analyst.prepare_bi.submit(lake, run_id, replaced, expectations,
                                         runners.where(in_pool), **kw)

    # with the thread runner, a rebuild of the whole BI tables (a first run, or BI tables not of
    # the live panel) waits for the validation: both hold a large part of the panel in memory
    bi_early = bool(todo) and (bool(workers) or analyst.bi_is_current(lk))
    if bi_early:
        bi_future = prepare_bi(wait_for=pfutures)
    if todo and workers:   # Dask: the four tables are four task runs, spread over its workers
        # source_items is the bronze the fetches landed (all done by now): its check waits for no
        # chunk, and runs on the first worker to run out of chunks (the others' last chunks
        # still running) instead of after them all
        vfutures = [check.check_one.submit(lake, run_id, table, srcs, expectations,
                                           wait_for=None if table == "source_items" else pfutures)
                    for table in check.LONGEST_FIRST]
    results = [r for r in (fut.result() for fut in pfutures) if r.sources]
    crashpoint("flow:processed")
    keys = ("reports", "non_reports", "debris_lines_removed", "mentions", "panel_rows")
    totals = {k: sum(r.stats.get(k, 0) for r in results) for k in keys}
    logger.info("process (code version %s): %d source(s) in %d chunk(s); %d report(s), %d debris "
                "line(s) removed, %d mention(s), %d panel row(s)", version, len(todo), len(results),
                totals["reports"], totals["debris_lines_removed"], totals["mentions"],
                totals["panel_rows"])

    # quarantine: what this run found unusable
    now = _now()
    new_rejects = [r for f in fetched for r in f.rejects] + [r for res in results for r in res.rejects]
    new_rejects = [dict(r, run_id=run_id, time=now) for r in new_rejects]
    q_files = 0
    for stage in ("fetch", "clean_and_split", "extract", "build_panel"):
        rows = [r for r in new_rejects if r["stage"] == stage]
        q_files += lk.write_quarantine(run_id, stage, rows) is not None
    for r in new_rejects:
        if r["stage"] != "fetch":
            logger.error("QUARANTINED %s at %s: %s", r["source_name"], r["stage"], r["reason"])

    batch = {"source_items": sum(f.items for f in todo)}
    batch.update({t: sum(r.rows.get(t, 0) for r in results)
                  for t in ("reports", "indicator_mentions", "indicator_panel")})
    # an Arrow table, not rows: Prefect walks a task's parameters, a table is one object to it
    shown["panel"] = lk.read_staged(run_id, "indicator_panel", columns=artifacts.PANEL_COLUMNS,
                                    where=("indicator", artifacts.key_indicators()))
    summary.update(
        inputs=[{"source_name": f.source_name, "sha256": f.sha256, "bytes": f.byte_size,
                 "items": f.items, "new_in_bronze": f.new} for f in good],
        batch=batch,
        new_in_bronze=sum(f.new for f in good),
        quarantined=[{k: v for k, v in q.items() if k != "time"} for q in new_rejects],
        stages=totals,
        work={"sources": len(sources), "processed": len(todo), "unchanged": len(unchanged) + len(touched),
              "not_read": len(unchanged), "chunks": len(results), "code_version": version,
              "worker_processes": pool.processes() if in_pool else 0,
              "bronze_files_written": sum(f.new for f in good), "quarantine_files_written": q_files},
    )
    if not good and not unchanged:
        raise RuntimeError(f"no usable input under {source}: all {len(fetched)} file(s) "
                           f"quarantined (see {lk.table_dir('quarantine')})")

    # validate (submitted above under Dask; with threads the tables are checked side by side in
    # the worker processes)
    if vfutures is not None:
        report = check.merge([f.result() for f in vfutures])
    elif todo:
        report = check.check(lake, run_id, srcs, expectations, in_pool)
    if todo and not bi_early and report.success:
        bi_future = prepare_bi()
    if todo:
        shown["report"] = report
        result = check.record(report, lake, run_id)
        summary["work"]["validation"] = "ran"
    else:
        result = {"success": True, "summary": "nothing new to validate", "tables": {}}
        summary["work"]["validation"] = "nothing new"
    summary["validation"] = result
    bi_error, prepared = None, None
    if bi_future is not None:
        bi_future.wait()   # it reads the staged rows: done before they are published or dropped
        try:
            prepared = bi_future.result()
        except Exception as exc:  # noqa: BLE001 - the run's rows may still be published
            bi_error = exc
    if not result["success"]:
        summary.update(status="failed_validation", published=False)
        raise ValidationFailed(f"{result['summary']} -- nothing was published, the previous "
                               f"tables stay; full report: {result['markdown']}")

    # publish: the run's rows and, when their suites passed, the BI tables (staged by
    # prepare_bi), in one publish
    with_bi = bool(prepared and prepared["validation"]["success"])
    out = publish(run_id, {f.source_name: entry(f) for f in todo}, touched, lake, with_bi)
    summary["published"], summary["rewritten"] = out["rows"], out["rewritten"]
    crashpoint("flow:published")
    if bi_error is not None:
        raise bi_error

    # for the analyst: the HTML report, Data Docs (and, with nothing new, BI tables the live
    # panel has no current ones of)
    focus = sorted(r for r in set(shown["panel"]["region"].to_pylist()) if r)   # the report shows them first
    summary["bi"] = analyst.publish_bi(lake, run_id, summary, expectations, focus=focus,
                                       in_pool=in_pool, prepared=prepared,
                                       published=out["rewritten"])
    summary["report"] = summary["bi"]["report"]


def use_pool(input_bytes: int, chunks: int) -> bool:
    """The run's CPU-bound work (chunks, GX) in worker processes (flows/pool.py): with the thread
    runner, and enough input or a pool running already. A Dask runner's workers are processes."""
    return runners.threads() and (
        pool.warm() or pool.wanted(input_bytes, chunks))


def _where(source: str) -> str:
    from pathlib import Path

    return source if fetch.remote.is_url(source) else str(Path(source).resolve())


def _suites(expectations: str | None) -> dict:
    """The expectations of each table's suite, to say in the UI what was checked."""
    import json

    try:
        d = check._suites_dir(expectations)
        return {p.stem: json.loads(p.read_text(encoding="utf-8")).get("expectations", [])
                for p in sorted(d.glob("*.json"))}
    except (OSError, ValueError):
        return {}


def format_summary(s: dict) -> str:
    """A short Markdown summary of a run (also printed by the CLI)."""
    b, p = s.get("batch", {}), s.get("published") or {}
    w, st = s.get("work", {}), s.get("stages", {})
    root = s.get("lake", "")
    lines = [
        f"## gwr-lake run {s['run_id']}: {s.get('status')}",
        "",
        f"- source: {s['source']} ({len(s.get('inputs', []))} file(s) read, "
        f"{s.get('new_in_bronze', 0)} new in bronze)",
    ]
    if w:
        lines += [f"- work: {w.get('processed', 0)} source(s) processed in {w.get('chunks', 0)} "
                  f"chunk(s), {w.get('unchanged', 0)} unchanged in the lake (code version "
                  f"{w.get('code_version')}); validation "
                  f"{w.get('validation', 'not run')}; tables rewritten: "
                  f"{', '.join(s.get('rewritten', [])) or 'none'}"]
    if st:
        lines += [f"- stages: {st.get('reports', 0)} report(s), {st.get('debris_lines_removed', 0)} "
                  f"debris line(s) removed, {st.get('mentions', 0)} mention(s), "
                  f"{st.get('panel_rows', 0)} panel row(s)"]
    lines += [
        "",
        "| layer | table | this run | in the lake |",
        "|---|---|---|---|",
        f"| bronze | source_items | {b.get('source_items', 0)} | |",
        f"| silver | reports | {b.get('reports', 0)} | {p.get('reports', '-')} |",
        f"| gold | indicator_mentions | {b.get('indicator_mentions', 0)} | {p.get('indicator_mentions', '-')} |",
        f"| gold | indicator_panel | {b.get('indicator_panel', 0)} | {p.get('indicator_panel', '-')} |",
        "",
        f"- validation: {s.get('validation', {}).get('summary', 'not run')}",
        f"- quarantined: {len(s.get('quarantined', []))}",
    ]
    for q in s.get("quarantined", [])[:20]:
        lines.append(f"  - {q['source_name']} ({q['stage']}): {q['reason'][:200]}")
    if s.get("error"):
        lines.append(f"- error: {s['error'][:500]}")
    lines += [f"- lake: {root}", f"- manifest: {s.get('manifest', '-')}"]
    if s.get("report"):
        lines.append(f"- report: {s['report']}")
    return "\n".join(lines)
