"""Where the work runs (flows/runtime/): workers.py, the one place deciding whether a stage's CPU
work goes to worker processes or stays in the task's thread; a broken pool falls back to
threads; runners.py, the Prefect task runners (threads, Dask)."""
from __future__ import annotations

import logging
import os
import re
import signal
import threading

import pytest

from flowkit import REPO

pytestmark = pytest.mark.timeout(180)


def _where(tag: str) -> tuple[int, str, str | None, str]:
    """Where a job ran: its process, its working folder, an environment variable, its tag."""
    return os.getpid(), os.getcwd(), os.environ.get("GWR_TEST_MARK"), tag


def _fails(x: int) -> int:
    raise ValueError(f"bad {x}")


def _dies_in_a_worker(parent: int) -> str:
    """SIGKILLs the worker process it runs in (as the OOM killer would); run in `parent`, returns."""
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return f"ran in {os.getpid()}"


def _parent_of_worker() -> int | None:
    from flows.runtime import faults

    return faults.PARENT


@pytest.fixture
def pool(monkeypatch):
    """A fresh pool state for the test (the module's pool lives for the process); the pool the
    test made is shut down and the state restored after it."""
    from flows.runtime import workers

    monkeypatch.setattr(workers, "_pool", None)
    monkeypatch.setattr(workers, "_size", 0)
    monkeypatch.setattr(workers, "_wanted", 0)
    monkeypatch.setattr(workers, "_broken", None)
    yield workers
    workers.shutdown()


# ---- the decision ------------------------------------------------------------------------------
def test_configure_decides_how_many_worker_processes(pool):
    cpus = os.cpu_count() or 1
    assert pool.configure(None) == (cpus if cpus > 1 else 0)     # one per CPU by default
    assert pool.configure(3) == pool.processes() == 3
    assert pool.configure(0) == 0 and pool.configure(1) == 0     # none: the task's own thread
    assert pool.configure(4, "dask") == 0                         # under Dask: where Dask put the task


def test_without_workers_the_job_runs_in_the_callers_thread(pool):
    pool.configure(0)
    here = []
    assert pool.run(lambda: here.append(threading.get_ident()) or os.getpid()) == os.getpid()
    assert here == [threading.get_ident()]
    failed = pool.submit(_fails, 1)            # the error is handed to whoever waits for it
    with pytest.raises(ValueError, match="bad 1"):
        failed.result()


def test_with_workers_the_jobs_run_in_other_processes_with_the_callers_env_and_folder(pool, monkeypatch,
                                                                                   tmp_path):
    pool.configure(2)
    monkeypatch.setenv("GWR_TEST_MARK", "first")
    monkeypatch.chdir(tmp_path)
    got = pool.run_all([(_where, (str(i),)) for i in range(6)])
    assert [g[3] for g in got] == [str(i) for i in range(6)]           # results in order
    assert {g[0] for g in got} and os.getpid() not in {g[0] for g in got}
    assert {(g[1], g[2]) for g in got} == {(str(tmp_path), "first")}
    # the worker runs each job in the environment and folder of the caller as they are NOW
    monkeypatch.setenv("GWR_TEST_MARK", "second")
    monkeypatch.chdir(REPO)
    assert pool.run(_where, "x")[1:3] == (str(REPO), "second")
    # a crash point reached in a worker kills the run's process too (flows/runtime/faults.py)
    assert pool.run(_parent_of_worker) == os.getpid()
    with pytest.raises(ValueError, match="bad 2"):
        pool.run(_fails, 2)
    assert pool.processes() == 2                                        # an error is not a break


def test_a_broken_pool_falls_back_to_threads(pool, caplog):
    """A worker killed under a job (the OOM killer): the job runs here instead, the pool is
    turned off for the process with a warning, and later work runs in the caller's thread."""
    pool.configure(2)
    assert pool.run(_where, "warm")[0] != os.getpid()
    with caplog.at_level(logging.WARNING, logger="flows.runtime.workers"):
        assert pool.run(_dies_in_a_worker, os.getpid()) == f"ran in {os.getpid()}"
    assert "the work runs in threads from now on" in caplog.text
    assert pool.processes() == 0 and pool._broken
    assert pool.run(_where, "after")[0] == os.getpid()
    pool.configure(2)                         # a new run of the process does not bring it back
    assert pool.processes() == 0 and pool.run(_where, "again")[0] == os.getpid()


def test_a_job_releases_memory_after_it_ran_even_when_it_failed(monkeypatch):
    from flows.runtime import faults, workers

    calls = []
    monkeypatch.setattr(workers, "release_memory", lambda: calls.append(1))
    env = dict(os.environ, GWR_TEST_MARK="in-call")
    monkeypatch.setattr(faults, "reset", lambda: calls.append("reset"))
    assert workers._call(env, os.getcwd(), _where, ("t",))[2] == "in-call"
    assert calls == ["reset", 1]               # a new environment: the crash point read again
    with pytest.raises(ZeroDivisionError):
        workers._call(dict(os.environ), os.getcwd(), divmod, (1, 0))
    assert calls[-1] == 1 and calls.count(1) == 2


def test_workers_py_is_the_one_place_that_starts_processes():
    """No other module of flows/ starts a process pool, forks, or hands work to processes: the
    stages' CPU work reaches worker processes through flows/runtime/workers.py only."""
    starts = re.compile(r"ProcessPoolExecutor|multiprocessing|os\.fork\b|concurrent\.futures\.process")
    found = {p.relative_to(REPO).as_posix() for p in (REPO / "flows").rglob("*.py")
             if starts.search(p.read_text(encoding="utf-8"))}
    assert found == {"flows/runtime/workers.py"}, found
    tasks = (REPO / "flows" / "tasks.py").read_text(encoding="utf-8")
    for job in ("fetch_chunk", "process_chunk", "check_table", "build_bi", "write_report"):
        assert re.search(rf"workers\.run\({job},", tasks), job


# ---- Prefect's task runners ----------------------------------------------------------------
def test_runners_make_the_thread_and_dask_runners(monkeypatch):
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.runtime import runners

    t = runners.make("thread", workers=3)
    assert isinstance(t, ThreadPoolTaskRunner) and t._max_workers == 3
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    d = runners.make("dask")
    assert isinstance(d, DaskTaskRunner)
    # worker processes need a server they can reach; without one the local cluster is threads
    assert d.cluster_kwargs == {"n_workers": 2, "threads_per_worker": 1, "processes": True,
                                "dashboard_address": None}
    monkeypatch.delenv("PREFECT_API_URL")
    assert runners.make("dask").cluster_kwargs["processes"] is False
    assert runners.make("dask", "tcp://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"
    with pytest.raises(ValueError, match="unknown task runner 'spark'"):
        runners.make("spark")
    monkeypatch.setenv("GWR_TASK_RUNNER", "dask")
    monkeypatch.setenv("GWR_DASK_ADDRESS", "tcp://10.0.0.1:8786")
    assert runners.from_env().address == "tcp://10.0.0.1:8786"
    monkeypatch.delenv("GWR_TASK_RUNNER")
    assert isinstance(runners.from_env(), ThreadPoolTaskRunner)
    assert runners.distributed() == 0          # outside a flow run


def test_a_flow_under_dask_runs_its_work_where_dask_put_the_task(prefect_server, tmp_path):
    """With the Dask runner the run hands nothing to worker processes of its own (Dask's workers
    are processes already): workers.configure says none, and distributed() says how many Dask
    has. A LocalCluster of threads here: processes are the server tests' (tests/flow/test_flow_server.py)."""
    from prefect import flow, task

    from flows.runtime import runners, workers

    @task
    def where() -> tuple[int, int]:
        return workers.processes(), os.getpid()

    @flow(task_runner=runners.make("dask", workers=1))
    def probe() -> tuple:
        workers.configure(None, "dask")
        return where.submit().result(), runners.distributed()

    saved = workers._wanted
    try:
        (procs, pid), dist = probe()
    finally:
        workers._wanted = saved
    assert procs == 0 and pid == os.getpid() and dist in (0, 1)


# ---- a run killed: its workers end with it ----------------------------------------------------
KILLED_RUN = """
import os, sys, time
sys.path[:0] = [{repo!r}, {repo!r} + "/tests", {here!r}]
from flows.runtime import workers
import test_runtime_workers as t

if __name__ == "__main__":
    workers.configure(2)
    busy = workers.submit(t._writes_for_a_while, {path!r})
    idle = workers.submit(os.getpid)
    print(idle.result(), flush=True)
    time.sleep(600)
"""


def _writes_for_a_while(path: str) -> None:
    """A job still writing when its run is killed (as a chunk staging its rows would be)."""
    with open(path + ".pid", "w") as fh:
        fh.write(str(os.getpid()))
    for i in range(400):
        with open(path, "a") as fh:
            fh.write(f"{i}\n")
        import time

        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_the_workers_of_a_killed_run_end_with_it(tmp_path):
    """A run's process SIGKILLed (the OOM killer, a crash point): its worker processes end within
    a moment -- a busy one does not go on writing into the lake after the run's lock is gone, an
    idle one does not wait for work for ever, holding its memory."""
    import subprocess
    import sys
    import time

    out = tmp_path / "written.txt"
    script = tmp_path / "run.py"
    here = str(REPO / "tests" / "flow")
    script.write_text(KILLED_RUN.format(repo=str(REPO), here=here, path=str(out)))
    run = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, cwd=tmp_path)
    try:
        line = run.stdout.readline()
        assert line.strip().isdigit(), line + run.stdout.read()[-3000:]
        idle = int(line)
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_text().count("\n") >= 3):
            assert time.monotonic() < deadline, "the busy job never started"
            time.sleep(0.05)
        busy = int((tmp_path / "written.txt.pid").read_text())
    finally:
        run.kill()
        run.wait()
    time.sleep(3)
    written = out.read_text().count("\n")
    time.sleep(1)
    leftover = [pid for pid in (busy, idle) if _alive(pid)]
    for pid in leftover:   # do not leave them behind, whatever the verdict
        os.kill(pid, signal.SIGKILL)
    assert out.read_text().count("\n") == written, "a worker of the killed run went on writing"
    assert not leftover, f"worker processes {leftover} outlived their run"


def test_forget_clients_drops_the_filesystems_fsspec_keeps():
    """fsspec keeps one filesystem per class and arguments, made under the environment of its
    time (an S3 endpoint, credentials): a run, or a worker taking up a changed environment,
    starts from fresh ones (a test's second moto server was once reached at the first's port)."""
    import fsspec

    from flows.runtime import workers

    first = fsspec.filesystem("memory")
    assert fsspec.filesystem("memory") is first
    workers.forget_clients()
    assert fsspec.filesystem("memory") is not first
