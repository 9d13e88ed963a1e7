"""The Prefect flow: it only wires the tasks (flows/tasks.py), one per stage (flows/stages/).

    plan        which sources to read (the lake's source index; an old lake's rebuild)
    fetch       one task run per chunk of files (and one per URL): bytes -> bronze
    process     one task run per chunk: clean -> split -> extract -> panel, rows staged
    validate    one task run per table: the staged rows against the GX suites
    bi          the BI tables of the regions the run changes, against their suites
    publish     one Delta commit per table, then the pointer to the new set
    report      the HTML report, the Data Docs, the lake's DuckDB file
    artifacts   what the Prefect UI shows of the run

Every knob is a field of the Settings parameter (the UI shows them). An input a stage cannot use
becomes a quarantine record and the run goes on; nothing is published unless the whole batch
passes validation; one run writes to a local lake at a time (a second one waits). A run with
nothing new writes nothing.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from prefect import flow, get_run_logger  # noqa: E402

from . import tasks  # noqa: E402
from .runtime import runners, workers  # noqa: E402
from .runtime.faults import crashpoint  # noqa: E402
from .settings import Settings  # noqa: E402

CHECKED = ("source_items", "reports", "indicator_mentions", "indicator_panel")


class RunFailed(RuntimeError):
    """The run ended without publishing (validation failed, no usable input, an error)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _run_id() -> str:
    from prefect.runtime import flow_run

    tail = (flow_run.id or uuid.uuid4().hex).replace("-", "")[:8]
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + tail


@flow(name="gwr-lake", persist_result=False, task_runner=runners.from_env())
def gwr_lake(settings: Settings = Settings()) -> dict:
    """Government work reports from settings.source into the lake at settings.lake: bronze,
    silver and gold tables, validated before anything is published."""
    from .lake import Lake
    from .stages.finish import finish
    from .stages.process import code_version

    run_id, cv, started = _run_id(), code_version(), _now()
    workers.configure(settings.workers, settings.task_runner)
    workers.forget_clients()
    lake = Lake(settings.lake)
    log = get_run_logger()
    log.info("run %s: %s -> %s (code version %s)", run_id, settings.source, lake.location(), cv)
    with lake.lock(settings.lock_timeout_s, on_wait=log.warning):
        try:
            outcome = _stages(settings, run_id, cv)
            summary = finish(settings, run_id, cv, started, outcome, tasks.report)
            tasks.artifacts(summary.as_dict(), settings)   # a failed run's show its staged rows
        finally:
            # what the run staged and did not publish (failed validation, an error): on object
            # storage there is no lock whose next holder would clear it
            lake.staging.discard(run_id)
    if summary.status not in ("published", "nothing_new"):
        raise RunFailed(summary.error or summary.status)
    return summary.as_dict()


def _stages(settings: Settings, run_id: str, cv: str) -> dict:
    """The stages in order, each a task; what they returned, and when each ended, for the
    summary."""
    from time import perf_counter

    from .stages.finish import record_quarantine
    from .stages.process import gather, leftovers

    t0, marks = perf_counter(), {}
    parts = max(workers.processes(), runners.distributed(), 1)
    planned = tasks.plan(settings, cv, parts)
    marks["plan"] = perf_counter() - t0
    chunks = planned.plan.chunks
    fetches = [tasks.fetch.submit(settings, c, i + 1, len(c)) for i, c in enumerate(chunks)]
    processes = [tasks.process.submit(settings, run_id, f, planned, i + 1, len(c))
                 for i, (f, c) in enumerate(zip(fetches, chunks))]
    downloads = [tasks.download.submit(settings, s, planned.known.get(s.location), s.name)
                 for s in planned.plan.todo if s.kind == "http"]
    downloaded = [x for d in downloads for x in d.result()]
    landed = [x for f in fetches for x in f.result()] + downloaded
    crashpoint("flow:fetched")
    for i, part in enumerate(leftovers(landed, planned.rebuild, downloaded)):
        processes.append(tasks.process.submit(settings, run_id, part, planned, len(chunks) + i + 1, len(part)))
    work = gather(planned, landed, [p.result() for p in processes], planned.versions, run_id)
    record_quarantine(settings.lake, run_id, work.quarantined)
    crashpoint("flow:processed")
    marks["fetch_and_process"] = perf_counter() - t0
    out = {"planned": planned, "work": work, "seconds": marks}
    if not work.to_publish:
        if planned.repoint:    # nothing new, but a dead run's commits are not named yet
            out["published"] = tasks.publish(settings, run_id, cv, work, None)
        return out
    checks = [tasks.validate.submit(settings, run_id, t, work.checked_sources) for t in CHECKED]
    out["validation"] = tasks.record_validation(settings, run_id, [c.result() for c in checks])
    marks["validate"] = perf_counter() - t0
    if not out["validation"]["success"]:
        return out
    out["bi"] = tasks.bi(settings, run_id, work.processed, work.bi_whole) if work.bi_wanted else None
    marks["bi"] = perf_counter() - t0
    out["published"] = tasks.publish(settings, run_id, cv, work, out["bi"])
    marks["publish"] = perf_counter() - t0
    crashpoint("flow:published")
    return out
