"""Where the CPU-bound work of a run executes: the one place that decides.

A stage's work is plain Python (decoding, cleaning, regexes, Arrow conversion, Great
Expectations); in the threads of Prefect's default task runner it would share one GIL. With the
thread runner, a run hands that work to worker processes (one per CPU, Settings.workers) and the
Prefect task run waits for it: the task runs, their states and logs stay in the flow's process.
Every run takes this same path, small or large; Settings.workers=0 runs the work in the task's
own thread instead (for a debugger), and under the Dask runner the work runs where Dask put the
task (its workers are processes already).

The pool is kept for the life of the process (a served deployment reuses warm workers); its
workers start through a fork server (Python's "forkserver": safe with delta-rs and threads), so
a script that runs the flow must guard its entry point (`if __name__ == "__main__":`). A worker
gives freed memory back to the OS after each job, and ends when the run's process does (a run
killed leaves no worker behind). If the pool breaks (a worker killed, workers that cannot start),
it is turned off for the process with a warning and the work runs in threads.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0
_wanted = 0          # processes the current run asked for (configure)
_broken: str | None = None


def configure(processes: int | None, runner: str = "thread") -> int:
    """Decide, for the runs of this process from now on, how many worker processes do the work:
    `processes` (None: one per CPU) with the thread runner, none under Dask. -> that number."""
    global _wanted
    n = (os.cpu_count() or 1) if processes is None else processes
    _wanted = 0 if runner != "thread" or n <= 1 else n
    return _wanted


def processes() -> int:
    return 0 if _broken else _wanted


def release_memory() -> None:
    """Freed memory back to the OS: Python's cycles, Arrow's pool, glibc's heap."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - best effort
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass


def _call(env: dict, cwd: str, fn, args):
    """In a worker: fn(*args) in the caller's environment and working folder as they are now."""
    if env != os.environ:
        os.environ.clear()
        os.environ.update(env)
        from . import faults

        faults.reset()
        forget_clients()
    if os.getcwd() != cwd:
        os.chdir(cwd)
    try:
        return fn(*args)
    finally:
        release_memory()


def forget_clients() -> None:
    """Drop the filesystem clients fsspec keeps per process and per filesystem class: one made
    under an earlier environment (an S3 endpoint, credentials) would go on using it. A run calls
    this as it starts, a worker when it takes up a caller's changed environment."""
    import sys

    if "fsspec" not in sys.modules:
        return
    todo = [sys.modules["fsspec"].AbstractFileSystem]
    while todo:
        cls = todo.pop()
        cls.clear_instance_cache()
        todo.extend(cls.__subclasses__())


def _init(parent: int) -> None:
    from . import faults

    faults.PARENT = parent   # a crash point reached in a worker kills the run's process too
    threading.Thread(target=_end_with, args=(parent,), name="gwr-end-with-run", daemon=True).start()


def _end_with(parent: int, poll_s: float = 0.2) -> None:
    """In a worker: end this process as soon as the run's process is gone. A run killed (the OOM
    killer, SIGKILL) cannot shut its pool down, and a worker does not notice by itself: an idle
    one would wait for work for ever, holding its memory, and a busy one would go on writing into
    the lake after the run's lock is released."""
    import signal
    import time

    try:
        fd = os.pidfd_open(parent)          # readable once the process has ended (Linux)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        import select

        select.select([fd], [], [])
    else:
        while True:
            time.sleep(poll_s)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                continue
    os.kill(os.getpid(), signal.SIGKILL)


def _get() -> ProcessPoolExecutor:
    global _pool, _size
    with _lock:
        if _pool is None or _size != _wanted:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["flows.stages.process"])
            _pool = ProcessPoolExecutor(max_workers=_wanted, mp_context=ctx, initializer=_init,
                                        initargs=(os.getpid(),))
            _size = _wanted
        return _pool


def submit(fn, *args) -> Future:
    """fn(*args) in a worker process (or here, when there are none): a Future of its result."""
    if processes() <= 1:
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the result
            done.set_exception(exc)
        return done
    pool = _get()
    return _Guarded(pool.submit(_call, dict(os.environ), os.getcwd(), fn, args), pool, fn, args)


class _Guarded(Future):
    """A worker's Future whose result() runs the job here when the pool broke under it."""

    def __init__(self, inner: Future, pool, fn, args):
        super().__init__()
        self.inner, self.pool, self.fn, self.args = inner, pool, fn, args

    def result(self, timeout=None):
        global _pool, _broken
        try:
            return self.inner.result(timeout)
        except BrokenProcessPool as exc:
            with _lock:
                if _pool is self.pool:
                    _pool, _broken = None, f"{type(exc).__name__}: {exc}"
            logging.getLogger(__name__).warning(
                "worker processes failed (%s): the work runs in threads from now on", exc)
            return self.fn(*self.args)


def run(fn, *args):
    """fn(*args) in a worker process; its result."""
    return submit(fn, *args).result()


def run_all(jobs: list[tuple]) -> list:
    """[(fn, args), ...] side by side in the worker processes; their results in order."""
    started = [submit(fn, *args) for fn, args in jobs]
    return [f.result() for f in started]


def shutdown() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
