"""flows/runners.py spread(): where a task's plain jobs run. From a task on a Dask worker they go
to all the workers, the task's own thread seceding while it waits: on a worker with ONE thread,
a task that waited for its jobs while holding that thread would wait for ever."""
from __future__ import annotations

import threading

import pytest


def _square(x: int) -> tuple[int, int]:
    return x * x, threading.get_ident()


def _task_that_spreads(n: int) -> tuple[list, bool, int]:
    from flows import runners

    out = runners.spread([(_square, (i,)) for i in range(n)], "dask")
    # whether a job ran in the task's own thread (it should have gone to the cluster)
    here = threading.get_ident() in {t for _, t in out}
    return [r for r, _ in out], here, runners.width("dask")


@pytest.mark.timeout(120)
def test_spread_from_a_task_on_a_one_thread_worker_does_not_wait_for_itself():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        # two such tasks at once: the second runs while the first waits for its jobs
        a, b = client.gather([client.submit(_task_that_spreads, 3, pure=False),
                              client.submit(_task_that_spreads, 2, pure=False)])
    assert a[0] == [0, 1, 4] and b[0] == [0, 1]
    assert not a[1] and not b[1], "the jobs ran in the thread of the task that spread them"
    assert a[2] == b[2] == 1   # width: the cluster's one worker


def _fails(x: int) -> int:
    raise ValueError(f"bad {x}")


@pytest.mark.timeout(120)
def test_start_runs_a_job_where_it_is_sent_and_result_waits_for_it(monkeypatch):
    """runners.start: the Data Docs job of the report (flows/analyst.py) runs on a Dask worker
    (another process, not this thread) while the page renders; its error comes out of result()."""
    from distributed import Client, LocalCluster

    from flows import runners

    here = runners.start(_square, 3)
    assert here.result() == (9, threading.get_ident())
    failed = runners.start(_fails, 1)   # no error at start: at result(), as for a started job
    with pytest.raises(ValueError, match="bad 1"):
        failed.result()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        monkeypatch.setattr(runners, "dask_client", lambda: client)
        job = runners.start(_square, 4, where="dask")
        value, thread = job.result()
        assert value == 16 and thread != threading.get_ident()
        with pytest.raises(ValueError, match="bad 2"):
            runners.start(_fails, 2, where="dask").result()


def test_spread_elsewhere_runs_the_jobs_here_in_order():
    from flows import runners

    assert not runners.on_dask_worker()
    out = runners.spread([(_square, (i,)) for i in range(4)], "dask")   # no flow, no worker
    assert [r for r, _ in out] == [0, 1, 4, 9]
    assert {t for _, t in out} == {threading.get_ident()}
    assert runners.width("here") == 1


def test_a_pool_job_that_releases_memory_itself_is_not_released_twice(monkeypatch):
    """flows/pool.py _call runs memory.release() after a job, unless the job ends with one
    (memory.releases): the work functions of a chunk, a table's check, a BI region group."""
    from flows import memory, pool, work

    calls, settled = [], []
    monkeypatch.setattr(memory, "release", lambda: calls.append(1))
    # after each job the worker puts what is alive out of the collector's sight (gc.freeze)
    monkeypatch.setattr(memory, "settle", lambda: settled.append(len(calls)))
    assert pool._call(dict(__import__("os").environ), __import__("os").getcwd(), len, ([1, 2],)) == 2
    assert calls == [1] and settled == [1]    # released, then settled
    with pytest.raises(ZeroDivisionError):
        pool._call(dict(__import__("os").environ), __import__("os").getcwd(), divmod, (1, 0))
    assert calls == [1, 1] and settled == [1, 2]
    calls.clear()
    for fn in (work.fetch_files, work.process_sources, work.check_table, work.bi_of_regions):
        assert getattr(fn, "releases_memory", False), fn.__name__
    calls.clear()
    marked = memory.releases(lambda: memory.release() or "done")
    assert pool._call(dict(__import__("os").environ), __import__("os").getcwd(), marked, ()) == "done"
    assert calls == [1]
