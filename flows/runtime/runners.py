"""Where the per-source tasks run: threads in the flow's process (default) or Dask.

    thread   Prefect's ThreadPoolTaskRunner
    dask     prefect-dask's DaskTaskRunner: a LocalCluster (2 worker processes, 1 thread each),
             or an existing scheduler given by address (tcp://host:8786)

A LocalCluster of processes needs a Prefect server its workers can reach (PREFECT_API_URL):
without one, every worker would start its own temporary server (~20 s each), so the local
cluster then runs its workers as threads. For a remote scheduler, the lake and its results
folder must be reachable from the workers (an s3:// lake, or a shared path).

A deployment picks its runner from the environment (GWR_TASK_RUNNER, GWR_DASK_ADDRESS: see
flows/serve.py): the flow object is loaded anew in each scheduled run's process, so the choice has
to travel there; the run's Settings then say the same (flows/flow.py).
"""
from __future__ import annotations

import os

RUNNERS = ("thread", "dask")


def make(kind: str = "thread", address: str | None = None, workers: int | None = None):
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        # the chunks are CPU-bound Python (one GIL): more threads than cores only hold more
        # chunks in memory at once
        return ThreadPoolTaskRunner(max_workers=workers or os.cpu_count() or 2)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        processes = bool(os.environ.get("PREFECT_API_URL"))
        return DaskTaskRunner(cluster_kwargs={
            "n_workers": workers or 2, "threads_per_worker": 1, "processes": processes,
            "dashboard_address": None})
    raise ValueError(f"unknown task runner {kind!r}: one of {', '.join(RUNNERS)}")


def from_env():
    return make(os.environ.get("GWR_TASK_RUNNER", "thread"), os.environ.get("GWR_DASK_ADDRESS") or None)


def distributed() -> int:
    """How many worker processes the running flow's task runner has: 0 unless Dask with worker
    processes (a LocalCluster of threads shares one GIL); for a scheduler's address, the workers
    its scheduler has."""
    from prefect.context import FlowRunContext

    runner = getattr(FlowRunContext.get(), "task_runner", None)
    if type(runner).__name__ != "DaskTaskRunner":
        return 0
    if getattr(runner, "address", None):   # a running cluster: ask its scheduler
        try:
            return len(runner.client.scheduler_info().get("workers") or {}) or 1
        except Exception:  # noqa: BLE001 - unreachable for now: the submit will say why
            return 2
    kwargs = getattr(runner, "cluster_kwargs", None) or {}
    return int(kwargs.get("n_workers") or 2) if kwargs.get("processes", True) else 0
