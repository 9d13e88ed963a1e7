"""Stage 4: publish what the run staged, and the one-writer-per-lake rule around a run.

Publishing replaces the rows of the sources the run read and keeps the rest (Lake.publish): the
process tasks staged one segment per chunk and table, the live segments of other sources are
kept as they are (hard links), and each layer is swapped in at once. A run with no new input
stages nothing and writes no Parquet file.

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

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from .bi import BI_TABLES
from .lake import Lake, LakeBusy

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
def publish(run_id: str, sources: dict, touched: dict, lake: str, with_bi: bool = False) -> dict:
    """Make the run's staged segments live, replacing the rows of `sources` (the sources it
    read: {source_name: index entry}); `touched` only updates the lake's source index.
    with_bi: the run staged BI tables built from the panel this publish leaves
    (analyst.prepare_bi): they go live with it, and the lake notes which panel they are of."""
    lk = Lake(lake)
    try:
        changed = lk.publish(run_id, sources=sources, touched=touched,
                             versions_of={"bi_from": "indicator_panel"} if with_bi else None)
    finally:
        lk.discard(run_id)
    live = (lk.current() or {}).get("tables", {})
    counts = {t: live.get(t, {}).get("rows", 0)
              for t in PUBLISHED_TABLES + (BI_TABLES if with_bi else ())}
    get_run_logger().info("published %s; rewritten: %s", ", ".join(f"{k}={v}" for k, v in counts.items()),
                          ", ".join(changed) or "none (no table changed)")
    return {"rows": counts, "rewritten": changed}
