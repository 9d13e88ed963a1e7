"""The end of a run: its summary from what the stages returned, what HTTP sources said (for the
next run's conditional GET), the report and the manifest; and, before anything is published,
the quarantine records (record_quarantine).

A run with nothing new writes nothing: no manifest, no report, no file of any kind.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .summary import RunSummary

QUARANTINE_STAGES = ("fetch", "clean_and_split", "extract", "build_panel")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _status(outcome: dict) -> tuple[str, str | None]:
    work, val, bi = outcome["work"], outcome.get("validation"), outcome.get("bi")
    if val is not None and not val["success"]:
        return "failed_validation", f"{val['summary']} -- nothing was published, the previous tables stay; " \
                                    f"full report: {val['markdown']}"
    if bi is not None and not bi.ok:
        return "failed_validation", f"BI tables: {bi.report.summary()} -- the run's rows are published, the " \
                                    "BI tables stay as they were"
    landed = work.landed
    if landed and not any(f.ok for f in landed) and not work.unchanged:
        # (their quarantine entries may have been published, so they are not read again)
        return "failed", f"no usable input: all {len(landed)} file(s) quarantined (see the quarantine table)"
    if outcome.get("published") is not None:
        return "published", None
    return "nothing_new", None


def _inputs(work) -> list[dict]:
    return [{"source_name": f.source_name, "sha256": f.sha256, "bytes": f.byte_size, "items": f.items,
             "new_in_bronze": f.new} for f in work.landed if f.ok and not f.not_modified]


def _stages(work) -> dict:
    keys = ("reports", "non_reports", "debris_lines_removed", "mentions", "panel_rows")
    return {k: sum(c.stat(k) for c in work.chunks) for k in keys}


def _batch(work, bi) -> dict:
    out = {"source_items": sum(f.items for f in work.landed if f.ok and not f.not_modified)}
    for t in ("reports", "indicator_mentions", "indicator_panel"):
        out[t] = sum(c.rows.get(t, 0) for c in work.chunks)
    if bi is not None:
        out.update(bi.rows)
    return out


def record_quarantine(lake_url: str, run_id: str, quarantined: list[dict]) -> None:
    """The run's quarantine records, one file per stage. Written before the publish: the source
    index the publish commits says a source is quarantined (and a run that finds it there does
    not read it again), so its record must already be in the lake if the run dies after that."""
    from ..lake import Lake

    lake = Lake(lake_url)
    now = datetime.now(timezone.utc)
    for stage in QUARANTINE_STAGES:
        rows = [dict(r, run_id=run_id, time=now) for r in quarantined if r["stage"] == stage]
        lake.records.write_quarantine(run_id, stage, rows)


def _http_state(lake, work) -> None:
    """What HTTP sources said this time (ETag, Last-Modified), kept for the next conditional GET."""
    state = lake.records.input_state()
    new = dict(state)
    for f in work.landed:
        if f.ok and (f.etag or f.last_modified) and f.location.startswith(("http://", "https://")):
            new[f.location] = {"etag": f.etag, "last_modified": f.last_modified}
    if new != state:
        lake.records.write_input_state(new)


def _orphans(outcome: dict) -> list[str]:
    """Corrections of documents of no source the lake holds or the run read."""
    from ..core.corrections import names_of

    planned, work = outcome["planned"], outcome["work"]
    names = {n for s in list(planned.index) + [f.source_name for f in work.landed] for n in names_of(s)}
    return [f"line {c.line}: {c.doc_id} is no document of the lake" for c in planned.corrections
            if c.doc_id.rpartition("#")[0] not in names]


def summarise(settings, run_id: str, cv: str, started: str, outcome: dict, status: str, error: str | None):
    from ..lake import Lake

    work, bi, pub = outcome["work"], outcome.get("bi"), outcome.get("published")
    lake = Lake(settings.lake)
    return RunSummary(
        run_id=run_id, source=settings.source, lake=lake.location(), started_at=started, finished_at=_now(),
        status=status, code_version=cv, inputs=_inputs(work), quarantined=work.quarantined,
        stages=_stages(work), batch=_batch(work, bi),
        work={"sources": work.sources, "processed": len(work.processed), "unchanged": work.unchanged,
              "chunks": sum(1 for c in work.chunks if c.sources),
              "validation": "ran" if outcome.get("validation") else "nothing new"},
        validation=outcome.get("validation") or {},
        bi={"regions": None if bi is None or bi.regions is None else len(bi.regions), "rows": bi.rows,
            "validation": bi.record} if bi is not None else {},
        published=pub.rows if pub else {}, published_at=pub.published_at if pub else None,
        versions=pub.versions if pub else (lake.records.current() or {}).get("versions", {}),
        committed=pub.committed if pub else [], conflicts=[c for ch in work.chunks for c in ch.conflicts],
        corrected=[c for ch in work.chunks for c in ch.corrected],
        corrections_unmatched=[c for ch in work.chunks for c in ch.unmatched] + _orphans(outcome),
        upgraded_from=work.upgraded_from, seconds={k: round(v, 3) for k, v in (outcome.get("seconds") or {}).items()},
        error=error)


def finish(settings, run_id: str, cv: str, started: str, outcome: dict, report_task) -> RunSummary:
    """The run's summary; its records written when the run did anything."""
    from dataclasses import replace

    from ..lake import Lake

    lake = Lake(settings.lake)
    status, error = _status(outcome)
    work = outcome["work"]
    _http_state(lake, work)
    summary = summarise(settings, run_id, cv, started, outcome, status, error)
    if status == "nothing_new" and not work.quarantined:
        return summary
    focus = sorted({r for c in work.chunks for r in c.regions})
    try:
        from time import perf_counter

        t0 = perf_counter()
        done = report_task(settings, summary.as_dict(), focus)
        summary = replace(summary, report=done.report, seconds=dict(summary.seconds, report=round(perf_counter() - t0, 3)))
    except Exception as exc:  # noqa: BLE001 - the tables are published: say it, go on
        import logging

        logging.getLogger(__name__).error("report not written: %s: %s", type(exc).__name__, exc)
    path = lake.records.write_manifest(run_id, replace(summary, manifest=None).as_dict())
    return replace(summary, manifest=path)
