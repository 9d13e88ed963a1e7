"""The Prefect flow: it only wires the stages, each in its own module.

    fetch     (flows/fetch.py)    one task run per source file or URL: bytes -> sha256 -> bronze
    process   (flows/process.py)  one task run per source file: clean -> split -> extract -> panel,
                                  cached by (sha256, code version): unchanged input is not redone
    validate  (flows/check.py)    the batch against the GX suites (cached by the batch's digest)
    publish   (flows/publish.py)  replace the rows of the sources read; unchanged tables not rewritten
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

from . import analyst, artifacts, check, fetch, process, runners  # noqa: E402
from .core import pipeline  # noqa: E402,F401  (tests patch the core through flows.flow.pipeline)
from .core.model import as_dicts  # noqa: E402
from .faults import crashpoint  # noqa: E402
from .lake import Lake  # noqa: E402
from .publish import PUBLISHED_TABLES, publish, writer_lock  # noqa: E402,F401
from .schemas import to_table  # noqa: E402


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
    lk = Lake(lake)
    summary = {"run_id": run_id, "source": _where(source), "lake": lk.location(),
               "started_at": _now().isoformat(), "status": "running"}
    get_run_logger().info("run %s: %s -> %s", run_id, summary["source"], summary["lake"])
    shown = {"panel": [], "report": None, "batch_rows": {}}
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
        artifacts.publish_artifacts(summary, shown["panel"], shown["report"], shown["batch_rows"],
                                    format_summary(summary), _suites(expectations))
    return summary


def _run(source: str, lake: str, run_id: str, expectations: str | None, summary: dict,
         shown: dict) -> None:
    """The stages in order; fills `summary` (and `shown`, for the artifacts) as it goes."""
    logger = get_run_logger()
    lk = Lake(lake)

    # fetch: one task run per file (an http(s) source is retried with backoff)
    sources = fetch.list_sources(source)
    if not sources:
        raise FileNotFoundError(f"no files under {source}")
    if fetch.remote.is_url(source):
        futures = fetch.download_task().map([n for n, _ in sources], [loc for _, loc in sources],
                                            unmapped(lake))
    else:
        futures = fetch.fetch_file.map([n for n, _ in sources], [loc for _, loc in sources],
                                       unmapped(lake))
    fetched = []
    for (name, loc), fut in zip(sources, futures):
        fut.wait()
        fetched.append(fut.result() if fut.state.is_completed() else
                       fetch.failed_fetch(name, loc, fut.state.result(raise_on_failure=False)))
    good = [f for f in fetched if f.ok]
    crashpoint("flow:fetched")
    logger.info("fetch: %d file(s) found, %d usable, %d new in bronze, %d quarantined", len(fetched),
                len(good), sum(f.new for f in good), len(fetched) - len(good))

    # process: one cached task run per usable file
    version = process.code_version()
    futures = process.for_lake(lk).map([f.source_name for f in good], [f.sha256 for f in good],
                                       unmapped(version), unmapped(lake))
    results = [fut.result() for fut in futures]
    crashpoint("flow:processed")
    cached = [fut.state.name == "Cached" for fut in futures]
    totals = {k: sum(r.stats.get(k, 0) for r in results)
              for k in ("reports", "non_reports", "debris_lines_removed", "mentions", "panel_rows")}
    logger.info("process (code version %s): %d source(s), %d computed, %d from cache; %d report(s), "
                "%d debris line(s) removed, %d mention(s), %d panel row(s)", version, len(results),
                len(results) - sum(cached), sum(cached), totals["reports"],
                totals["debris_lines_removed"], totals["mentions"], totals["panel_rows"])

    # quarantine: what this run found unusable (a cached result's rejects were recorded before)
    now = _now()
    new_rejects = [r for f in fetched for r in f.rejects]
    new_rejects += [r for res, hit in zip(results, cached) if not hit for r in res.rejects]
    new_rejects = [dict(r, run_id=run_id, time=now) for r in new_rejects]
    q_files = 0
    for stage in ("fetch", "clean_and_split", "extract", "build_panel"):
        rows = [r for r in new_rejects if r["stage"] == stage]
        q_files += lk.write_quarantine(run_id, stage, rows) is not None
    for r in new_rejects:
        if r["stage"] != "fetch":
            logger.error("QUARANTINED %s at %s: %s", r["source_name"], r["stage"], r["reason"])

    panel_rows = [r for res in results for r in res.panel]
    batch = {
        "source_items": to_table("source_items", [row for f in good for row in f.bronze.to_pylist()]),
        "reports": to_table("reports", [dict(vars(r), sha256=res.sha256)
                                        for res in results for r in res.reports]),
        "indicator_mentions": to_table("indicator_mentions",
                                       as_dicts([m for res in results for m in res.mentions])),
        "indicator_panel": to_table("indicator_panel", as_dicts(panel_rows)),
    }
    shown["panel"] = as_dicts(panel_rows)
    shown["batch_rows"] = {"indicator_panel": shown["panel"]}
    summary.update(
        inputs=[{"source_name": f.source_name, "sha256": f.sha256, "bytes": f.byte_size,
                 "items": f.items, "new_in_bronze": f.new} for f in good],
        batch={k: v.num_rows for k, v in batch.items()},
        new_in_bronze=sum(f.new for f in good),
        quarantined=[{k: v for k, v in q.items() if k != "time"} for q in new_rejects],
        stages=totals,
        work={"sources": len(fetched), "processed": len(results) - sum(cached),
              "from_cache": sum(cached), "code_version": version,
              "bronze_files_written": sum(f.new for f in good), "quarantine_files_written": q_files},
    )
    if not good:
        raise RuntimeError(f"no usable input under {source}: all {len(fetched)} file(s) "
                           f"quarantined (see {lk.table_dir('quarantine')})")

    # validate
    vstate = check.for_lake(lk)(batch, expectations, return_state=True)
    report = vstate.result()
    shown["report"] = report
    shown["batch_rows"] = {t: batch[t].select([c for c in batch[t].column_names if c != "text"
                                               and c != "glossary"]).to_pylist()
                           for t in batch if t != "indicator_panel"} | shown["batch_rows"]
    result = check.record(report, lake, run_id)
    summary["validation"] = result
    summary["work"]["validation"] = "from cache" if vstate.name == "Cached" else "ran"
    if not result["success"]:
        summary.update(status="failed_validation", published=False)
        raise ValidationFailed(f"{result['summary']} -- nothing was published, the previous "
                               f"tables stay; full report: {result['markdown']}")

    # publish
    out = publish(batch, [f.source_name for f in good], lake, run_id)
    summary["published"], summary["rewritten"] = out["rows"], out["rewritten"]
    crashpoint("flow:published")

    # for the analyst: BI tables from the whole published panel, the HTML report, Data Docs
    summary["bi"] = analyst.publish_bi(lake, run_id, summary, expectations)
    summary["report"] = summary["bi"]["report"]


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
        lines += [f"- work: {w.get('processed', 0)} source(s) processed, {w.get('from_cache', 0)} "
                  f"from cache (code version {w.get('code_version')}); validation "
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
