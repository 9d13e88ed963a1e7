"""Where the per-source tasks run: threads in the flow's process (default) or Dask.

    thread   Prefect's ThreadPoolTaskRunner
    dask     prefect-dask's DaskTaskRunner: a LocalCluster (2 worker processes, 1 thread each),
             or an existing scheduler given by address (tcp://host:8786)

A LocalCluster of processes needs a Prefect server its workers can reach (PREFECT_API_URL):
without one, every worker would start its own temporary server (~20 s each), so the local
cluster then runs its workers as threads. For a remote scheduler, the lake and its results
folder must be reachable from the workers (an s3:// lake, or a shared path).

A deployment picks its runner from the environment (GWR_TASK_RUNNER, GWR_DASK_ADDRESS): the
flow object is loaded anew in each scheduled run's process, so the choice has to travel there.
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


def threads() -> bool:
    """Whether the running flow's task runner runs tasks in threads of this process."""
    from prefect.context import FlowRunContext

    runner = getattr(FlowRunContext.get(), "task_runner", None)
    return type(runner).__name__ in ("ThreadPoolTaskRunner", "ConcurrentTaskRunner")


def dask_client():
    """The Dask client of the running flow's task runner when it has worker processes, else None."""
    from prefect.context import FlowRunContext

    if not distributed():
        return None
    return FlowRunContext.get().task_runner.client


def on_dask_worker() -> bool:
    """Whether this code runs in a task on a Dask worker (a task run of the Dask task runner)."""
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def spread(jobs: list[tuple], where: str = "here") -> list:
    """Run (fn, args) jobs -- plain functions of picklable data, no Prefect inside -- side by
    side where the run's CPU-bound work goes: "pool", the worker processes of flows/pool.py;
    "dask", the Dask workers of the flow's task runner, from the flow's own process or from a
    task running on a worker (distributed.worker_client: the task's thread secedes from the
    worker's pool while it waits, so a worker with one thread runs the jobs instead of waiting
    for itself); "here", one after the other. Results in the jobs' order; the first job's error
    is raised."""
    if where == "pool":
        from . import pool

        return pool.run_all(jobs)
    if where == "dask" and len(jobs) > 1:
        def gather(client, priority: int = 0) -> list:
            return client.gather([client.submit(fn, *args, pure=False, priority=priority)
                                  for fn, args in jobs])

        # on a worker first: a task run there sees the flow's run context, task runner included
        if on_dask_worker():
            from distributed import worker_client

            # before the task runs queued: a task that waits for its jobs holds its memory
            with worker_client() as client:
                return gather(client, priority=1)
        client = dask_client()
        if client is not None:
            return gather(client)
    return [fn(*args) for fn, args in jobs]


def start(fn, *args, where: str = "here"):
    """fn(*args) -- a plain function of picklable data -- started where spread() would run it,
    in the background: "pool" (flows/pool.py), "dask" (a worker of the flow's task runner, from
    the flow's process), "here" (now, in this thread). -> an object whose .result() waits for
    it and returns its result (or raises its error)."""
    if where == "pool":
        from . import pool

        return pool.start(fn, *args)
    if where == "dask":
        client = dask_client()
        if client is not None and not on_dask_worker():
            return client.submit(fn, *args, pure=False)
    from concurrent.futures import Future

    done: Future = Future()   # run now; its error comes out of result(), as a started job's does
    try:
        done.set_result(fn(*args))
    except Exception as exc:  # noqa: BLE001 - raised where the caller waits for it
        done.set_exception(exc)
    return done


def width(where: str = "here") -> int:
    """How many jobs spread(jobs, where) runs at once."""
    if where == "pool":
        from . import pool

        return pool.processes()
    if where != "dask":
        return 1
    if on_dask_worker():
        from distributed import get_client

        return len(get_client().scheduler_info(n_workers=-1).get("workers") or {}) or 1
    return distributed() or 1


def where(in_pool: bool) -> str:
    """Where spread() sends the jobs of a task running in the flow's process."""
    return "pool" if in_pool else "dask" if distributed() else "here"
