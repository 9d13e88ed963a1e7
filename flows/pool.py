"""Worker processes for the CPU-bound work of a run that uses the thread task runner.

The fetch and process tasks are pure Python (decoding, cleaning, regexes, Arrow conversion), and
so is Great Expectations: in threads they share one GIL, so two chunks take as long as one after
the other. With the default thread runner, a run with enough input hands that work to this pool
of worker processes -- one per CPU -- and the task run waits for it: each chunk's fetch and
process (flows/work.py), the four tables' validation side by side, the BI suites and the Data
Docs. The Prefect task runs, their logs and states stay in the flow's process.

    GWR_PROCESSES        worker processes (default: the CPU count; 0 or 1: no pool, the work
                         runs in the task's thread)
    GWR_POOL_MIN_BYTES   a run's input below this (default 4 MiB) runs in threads: starting the
                         workers (~0.5 s, and ~3 s more for Great Expectations' import) is not
                         worth it for a few reports -- unless the pool is running already

The pool is made at the first large run and kept for the life of the process (a served
deployment or a benchmark reuses warm workers); its workers are started by a fork server that
has imported flows.work once, so they start clean (no Prefect threads, no client) and fast.
Under the Dask runner there is no pool: Dask's workers are already processes.

Workers are started the way Python starts worker processes ("forkserver"): a script that runs a
flow must guard its entry point (`if __name__ == "__main__":`); `python -m flows`, `flows serve`,
pytest and Prefect's workers do. If the pool breaks (a worker killed, or workers that cannot
start) it is turned off for the process, with a warning, and the work runs in threads.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0
_broken: str | None = None   # why the pool was turned off


def processes() -> int:
    raw = os.environ.get("GWR_PROCESSES")
    return int(raw) if raw and raw.strip().isdigit() else (os.cpu_count() or 1)


def min_bytes() -> int:
    raw = os.environ.get("GWR_POOL_MIN_BYTES")
    return int(raw) if raw and raw.strip().isdigit() else 4 * 1024 * 1024


def wanted(input_bytes: int, chunks: int) -> bool:
    """Whether a run of this many input bytes, in this many chunks, should use the pool."""
    return processes() > 1 and chunks > 1 and input_bytes >= min_bytes()


def warm() -> bool:
    """Whether this process has a working pool already (its workers started, their imports
    done): then even a small run uses it, at the cost of passing its data to a worker."""
    return _pool is not None and not _broken and processes() > 1


def _call(env: dict, cwd: str, fn, args):
    """In a worker: run fn(*args) in the caller's environment and working folder as they are
    now (a worker was forked from a server started earlier: credentials set since, a relative
    lake path, GWR_* settings would otherwise be those of that moment)."""
    if env != os.environ:
        os.environ.clear()
        os.environ.update(env)
        from . import faults

        faults.reset()   # GWR_CRASH_AT / GWR_PAUSE_AT are read again
    if os.getcwd() != cwd:
        os.chdir(cwd)
    from . import memory

    # what the job freed goes back to the OS before the worker waits for the next one (a job
    # that ends with a release does it itself: memory.releases; unless it failed on the way)
    try:
        out = fn(*args)
    except BaseException:
        memory.release()
        memory.settle()
        raise
    if not getattr(fn, "releases_memory", False):
        memory.release()
    # what is alive now (modules, vocabularies, caches: the job's garbage was just collected)
    # stays alive in this worker: out of the collector's sight, so the full collection of the
    # next job's release walks only what that job made (~5 ms instead of ~25 ms per job)
    memory.settle()
    return out


def _submit(pool: ProcessPoolExecutor, fn, args):
    return pool.submit(_call, dict(os.environ), os.getcwd(), fn, args)


def _init(parent: int) -> None:
    from . import faults

    faults.PARENT = parent   # a crash point reached in a worker kills the run's process too


def _get() -> ProcessPoolExecutor:
    global _pool, _size
    with _lock:
        n = processes()
        if _pool is None or _size != n:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["flows.work"])
            _pool, _size = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init,
                                             initargs=(os.getpid(),)), n
        return _pool


class Job:
    """fn(*args) started in a worker process; result() waits for it. When the pool cannot work
    -- a worker died (killed, out of memory), or workers cannot start (a script without an
    `if __name__ == "__main__":` guard: Python's rule for worker processes) -- the pool is
    turned off for this process, with a warning, and fn runs here, in the calling thread."""

    def __init__(self, fn, args: tuple):
        self.fn, self.args, self._pool, self._future = fn, args, None, None
        if not _broken:
            self._pool = _get()
            self._future = _submit(self._pool, fn, args)

    def result(self):
        global _pool, _broken
        if self._future is None:
            return self.fn(*self.args)
        try:
            return self._future.result()
        except BrokenProcessPool as exc:
            with _lock:
                if _pool is self._pool:
                    _pool, _broken = None, f"{type(exc).__name__}: {exc}"
            logging.getLogger(__name__).warning(
                "worker processes failed (%s): the work runs in threads from now on "
                "(GWR_PROCESSES=0 says so up front)", exc)
            return self.fn(*self.args)


def start(fn, *args) -> Job:
    """fn(*args) in a worker process, in the background: .result() for its (pickled) result."""
    return Job(fn, args)


def run(fn, *args):
    """fn(*args) in a worker process; its result."""
    return Job(fn, args).result()


def run_all(jobs: list[tuple]) -> list:
    """[(fn, args), ...] side by side in the worker processes; their results in order."""
    started = [Job(fn, args) for fn, args in jobs]
    return [j.result() for j in started]


def shutdown() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
