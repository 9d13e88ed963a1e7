"""A warm flow process for one source tree (this one, or the old code's checkout): it imports that
tree's `flows`, keeps its worker processes warm between runs, and does what the suite asks, one
JSON line on stdin at a time, answering with one line `@@BENCH {json}` on stdout.

    python bench/driver.py --tree /work/wt-before      (PREFECT_API_URL: a running server)

Run as a script, not as `-m bench.driver`: the tree's own `flows` (and nothing of this tree's
`bench`) must be the one imported, so it stands alone (stdlib and the tree's flows only).

    {"op": "run", "source": S, "lake": L, "fresh": true, "dask": null}   a flow run, timed
    {"op": "core", "seeds": DIR, "repeat": 7}                              goal 1 in this tree
    {"op": "core_per_report", "corpus": DIR, "n": N}
    {"op": "empty_flow"}                                                   a flow with no task
    {"op": "cluster", "n": 2} / {"op": "cluster_close"}                    a Dask LocalCluster
    {"op": "quit"}
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path


def best_of(fn, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


class Driver:
    def __init__(self):
        self._cluster = None

    def run(self, source: str, lake: str, fresh: bool = True, dask: str | None = None) -> dict:
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from flows.flow import gwr_lake

        if fresh and Path(lake).exists():
            shutil.rmtree(lake)
        fl = gwr_lake
        if dask:
            fl = gwr_lake.with_options(task_runner=_runners().make("dask", address=dask))
        if "settings" in inspect.signature(gwr_lake.fn).parameters:   # the new shell
            from flows.settings import Settings

            kwargs = {"settings": Settings.from_env(source=source, lake=lake)}
        else:
            kwargs = {"source": source, "lake": lake}
        # as `python -m flows run` runs it: no heartbeat thread
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            t = time.perf_counter()
            summary = fl(**kwargs)
            wall = time.perf_counter() - t
        summary = summary if isinstance(summary, dict) else {}
        return {"wall_s": round(wall, 3), "status": summary.get("status"), "seconds": summary.get("seconds"),
                "published": summary.get("published")}

    def core(self, seeds: str, repeat: int = 7) -> dict:
        """Goal 1: the core over the seeds, from their bytes (read: decode, screen; then clean,
        split, extract, panel) and from their text (flows.extract, as the old suite measured),
        against cn2an.transform over the same text."""
        import cn2an

        from flows import extract, panel_rows

        read_items, screen_items = _reader()
        files = sorted(Path(seeds).glob("*.txt"))
        blobs = [(p.name, p.read_bytes()) for p in files]
        texts = [p.read_text(encoding="utf-8") for p in files]

        def from_bytes():
            for name, data in blobs:
                items = read_items(name, data)
                if screen_items is not None:
                    items = screen_items(items)[0]
                panel_rows(items)

        from_bytes()
        for t in texts:
            extract(t)   # warm: vocabulary, regex caches
        core_bytes = best_of(from_bytes, repeat)
        core_text = best_of(lambda: [extract(t) for t in texts], repeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = best_of(lambda: [cn2an.transform(t, "cn2an") for t in texts], max(3, repeat // 2))
        mb = sum(len(b) for _, b in blobs) / 1e6
        return dict(core_bytes_s=core_bytes, core_text_s=core_text, cn2an_transform_s=ref,
                    ratio=core_bytes / ref, ratio_text=core_text / ref, mb=mb, mb_per_s=mb / core_bytes)

    def core_per_report(self, corpus: str, n: int, repeat: int = 2) -> dict:
        from flows import extract

        texts = [p.read_text(encoding="utf-8") for p in sorted(Path(corpus).glob("*.txt"))]
        extract(texts[0])
        return {"s_per_report": best_of(lambda: [extract(t) for t in texts], repeat) / n}

    def empty_flow(self, repeat: int = 5) -> dict:
        from prefect import flow
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        @flow(name="bench-empty", persist_result=False)
        def empty() -> None:
            return None

        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return {"s": best_of(empty, repeat)}

    def cluster(self, n: int) -> dict:
        from distributed import LocalCluster

        t0 = time.perf_counter()
        self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        return {"address": self._cluster.scheduler_address, "start_s": time.perf_counter() - t0}

    def cluster_close(self) -> dict:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        return {}


def _runners():
    try:
        from flows.runtime import runners
    except ImportError:     # the old layout
        from flows import runners
    return runners


def _reader():
    try:
        from flows.core.read import read_items, screen_items
    except ImportError:     # the old layout
        from flows.core.sources import read_items, screen_items
    return read_items, screen_items


def _answer(obj: dict) -> None:
    os.write(1, ("@@BENCH " + json.dumps(obj, default=str) + "\n").encode())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", required=True)
    tree = str(Path(ap.parse_args().tree).resolve())
    sys.path[0] = tree      # the tree's flows, not this folder's neighbours
    os.chdir(tree)
    os.environ["PYTHONPATH"] = tree
    d = Driver()
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "quit":
            break
        try:
            _answer({"ok": True, **getattr(d, op)(**cmd)})
        except Exception as exc:  # noqa: BLE001 - said to the suite, which fails loudly
            import traceback

            _answer({"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-3000:]})
    d.cluster_close()
    _drain()
    return 0


def _drain() -> None:
    """Send what Prefect's log and event workers still hold before the server stops (otherwise
    they print "Error logging to API" at exit)."""
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        from prefect.utilities.asyncutils import run_coro_as_sync

        async def drain() -> None:
            for call in (lambda: APILogWorker.instance().drain(), EventsWorker.drain_all):
                try:
                    result = call()
                    if inspect.isawaitable(result):
                        await result
                except RuntimeError:
                    pass

        run_coro_as_sync(drain())
    except Exception:  # noqa: BLE001 - best effort at exit
        pass


if __name__ == "__main__":
    sys.exit(main())
