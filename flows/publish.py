"""Stage 4: publish the validated batch, and the one-writer-per-lake rule around a run.

Publishing replaces the rows of the sources the run read and keeps the rest; each table is
staged whole and swapped in (Lake.stage / Lake.publish). A table whose rows did not change is
not staged, so a re-run with no new input writes no Parquet file.

Concurrency: a run holds the LAKE's lock (Lake.lock: an fcntl lock on <lake>/.lock for a local
lake, a conditional-PUT lease object for S3) from its first write to its manifest. A second run
started meanwhile WAITS for it (GWR_LOCK_TIMEOUT_S, default 3600 s) instead of failing, then
finds everything cached and publishes the same gold. A lock on the lake, not a Prefect
concurrency limit: two runs need not share a Prefect server (two `python -m flows run` each
start their own), but they always share the lake.
"""
from __future__ import annotations

import contextlib
import os
import time

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from .lake import Lake, LakeBusy, upsert_by_source

PUBLISHED_TABLES = ("reports", "indicator_mentions", "indicator_panel")


@contextlib.contextmanager
def writer_lock(lake: Lake, timeout_s: float | None = None, poll_s: float = 0.5):
    """Lake.lock(), waiting for another run to finish rather than failing at once."""
    timeout_s = float(os.environ.get("GWR_LOCK_TIMEOUT_S", 3600)) if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    logged = False
    while True:
        cm = lake.lock()
        try:
            cm.__enter__()
            break
        except LakeBusy as e:
            if time.monotonic() > deadline:
                raise LakeBusy(f"{e}; waited {timeout_s:g} s (GWR_LOCK_TIMEOUT_S)") from e
            if not logged:
                get_run_logger().warning("%s: waiting for it to finish", e)
                logged = True
            time.sleep(poll_s)
    try:
        yield lake
    except BaseException as exc:
        if not cm.__exit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        cm.__exit__(None, None, None)


@task(name="publish", cache_policy=NO_CACHE, persist_result=False)
def publish(tables: dict[str, pa.Table], sources: list[str], lake: str, run_id: str) -> dict:
    """Replace the rows of the sources this run read, stage whole tables, swap them in."""
    lk = Lake(lake)
    counts, written = {}, []
    try:
        for name in PUBLISHED_TABLES:
            merged = upsert_by_source(lk.read_table(name), tables[name], set(sources))
            if lk.stage(run_id, name, merged) is not None:
                written.append(name)
            counts[name] = merged.num_rows
        lk.publish(run_id)
    finally:
        lk.discard(run_id)
    get_run_logger().info("published %s; rewritten: %s", ", ".join(f"{k}={v}" for k, v in counts.items()),
                          ", ".join(written) or "none (no table changed)")
    return {"rows": counts, "rewritten": written}
