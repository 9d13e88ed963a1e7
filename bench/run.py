"""The benchmark suite: gwr-lake's cost and how it grows, as ratios measured in one run.

    python -m bench.run [--quick] [--out bench/RESULTS.md]

Goals (issue 9):
 1. core speed: clean+split+extract over the seeds <= 0.15 x cn2an.transform over the same text
 2. orchestration: the flow's marginal cost per report (slope 200 -> 2,000 reports)
    <= 1.2 x the core's per-report cost
 3. incremental: adding 1 report to a 2,000-report lake <= 5% of the full run
 4. memory: peak RSS with 10,000 reports <= 1.5 x with 1,000
 5. scale-out: Dask with 2 workers >= 1.6 x faster than 1 worker on 2,000 reports

Flow timings are taken inside one process that keeps one Prefect server up (fixed start-up is
measured and reported apart); memory is the peak RSS of a child process per size. Each timed run
is repeated (--repeat, default 3; Dask runs min(repeat, 2) times) and the fastest counts, as
for the core's own time (best_of): the least disturbed estimate on a shared machine. Every
repetition is kept in the results (`*_runs`), and the table gives the median beside it. The
small and big runs of goal 2 alternate, and each pair's own slope is given too: goal 2 is met
when the fastest runs' slope and the median of the pairs' both are.
`--quick` uses smaller sizes (for a smoke test of the suite itself, not for the goals).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB"


def best_of(fn, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# ---- goal 1 --------------------------------------------------------------------------------
def core_speed(repeat: int = 7) -> dict:
    import cn2an

    from flows import extract

    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    for t in texts:
        extract(t)   # warm: vocabulary, regex caches
    core = best_of(lambda: [extract(t) for t in texts], repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = best_of(lambda: [cn2an.transform(t, "cn2an") for t in texts], max(3, repeat // 2))
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    return dict(core_s=core, cn2an_transform_s=ref, ratio=core / ref, mb=mb, mb_per_s=mb / core)


def core_per_report(corpus: Path, repeat: int = 2) -> float:
    from flows import extract

    texts = [p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))]
    n_reports = _count_reports(corpus)
    extract(texts[0])
    return best_of(lambda: [extract(t) for t in texts], max(2, repeat)) / n_reports


def _count_reports(corpus: Path) -> int:
    return int(corpus.with_suffix(".n").read_text())


def make_corpus(n: int, where: Path, per_file: int = 10) -> Path:
    from bench.generate import generate

    out = where / f"corpus{n}"
    if not out.with_suffix(".n").exists():
        generate(n, out, per_file=per_file, seed=n)
        out.with_suffix(".n").write_text(str(n))   # beside the folder: the flow reads every file in it
    return out


# ---- goals 2, 3, 5: flow runs in this process ----------------------------------------------
@contextlib.contextmanager
def prefect_server(where: Path):
    """One real server for the whole suite (Dask worker processes need one they can reach); the
    process's environment points at it while it runs."""
    from flows.localserver import prefect_server as start

    with start(where / "prefect-home") as (api, _ui, started, env):
        saved = {k: os.environ.get(k) for k in ("PREFECT_HOME", "PREFECT_API_URL")}
        os.environ["PREFECT_HOME"], os.environ["PREFECT_API_URL"] = env["PREFECT_HOME"], api
        try:
            yield started
        finally:
            _drain()   # while the server is up
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _drain() -> None:
    """Send what this process's Prefect log and event workers still hold to the server before it
    stops: otherwise they try at exit and print "Error logging to API" (prefect_test_harness
    does the same before it stops its server)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for call in (lambda: APILogWorker.instance().drain(), EventsWorker.drain_all):
            try:
                result = call()
                if inspect.isawaitable(result):
                    await result
            except RuntimeError:   # a worker that never started
                pass

    run_coro_as_sync(drain())


def empty_flow_s(repeat: int = 5) -> float:
    """The least a flow call costs against the running server: a flow with no task (created,
    set running, set completed), without the heartbeat thread, the fastest of `repeat`."""
    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    @flow(name="bench-empty", persist_result=False)
    def empty() -> None:
        return None

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return best_of(empty, repeat)


def gx_one_report(lake: Path, source_name: str, repeat: int = 3) -> dict:
    """CPU seconds of the six GX suites on the rows one added source file brings (its bronze
    items, its reports, mentions and panel rows, its regions' BI rows: what an incremental run
    validates), in this process, GX imported and warm: the least validating one report costs."""
    from flows.lake import Lake
    from flows.quality import validate_tables

    lk = Lake(str(lake))
    tables = {"source_items": lk.read_bronze(lk.source_index()[source_name]["sha256"])}
    for t in ("reports", "indicator_mentions", "indicator_panel"):
        tables[t] = lk.read_table(t, where=("source_name", [source_name]))
    regions = sorted({r for r in tables["indicator_panel"]["region"].to_pylist() if r})
    for t in ("indicator_wide", "target_attainment"):
        tables[t] = lk.read_table(t, where=("region", regions))
    report = validate_tables(tables)   # warm: the import, GX's caches
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        validate_tables(tables)
        best = min(best, time.process_time() - t)
    return {"cpu_s": best, "rows": {t: v.num_rows for t, v in tables.items()},
            "expectations": sum(s["expectations"] for s in report.tables.values())}


class ProcessCPU:
    """CPU seconds (user + system) of this process and of its child processes while a block
    runs: the Prefect server (its command line says so) apart from the others (Dask workers and
    nannies, the pool's workers)."""

    def __enter__(self):
        self.start = self._now()
        return self

    def __exit__(self, *exc):
        end = self._now()
        self.cpu = {k: round(end.get(k, 0.0) - self.start.get(k, 0.0), 2) for k in end}
        return False

    @staticmethod
    def _now() -> dict:
        import psutil

        me = psutil.Process()
        out = {"flow_process": sum(me.cpu_times()[:2]), "server": 0.0, "workers": 0.0}
        for child in me.children(recursive=True):
            try:
                cmd = " ".join(child.cmdline())
                t = sum(child.cpu_times()[:2])
            except psutil.Error:
                continue
            out["server" if "prefect server" in cmd else "workers"] += t
        return out


def with_cpu(fn, into: list) -> float:
    """fn() (a timed run, -> seconds) with the CPU of each process while it ran appended to
    `into` beside its wall time."""
    with ProcessCPU() as cpu:
        took = fn()
    into.append(dict(cpu.cpu, wall_s=round(took, 3)))
    return took


def cpu_total(c: dict) -> float:
    """All the CPU of a run: ProcessCPU's flow process, server and workers."""
    return c["flow_process"] + c["server"] + c["workers"]


def flow_runs(where: Path, small: int, big: int, dask: bool, repeat: int = 3) -> dict:
    out: dict = {"repeat": repeat}
    with prefect_server(where) as started:
        out["server_start_s"] = started
        from flows import runners
        from flows.flow import gwr_lake

        c_small, c_big = make_corpus(small, where), make_corpus(big, where)

        def run(source: Path, lake: Path, runner=None, fresh: bool = True) -> float:
            if fresh and lake.exists():   # a lake left by an earlier run of the suite
                shutil.rmtree(lake)
            from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

            fl = gwr_lake.with_options(task_runner=runner) if runner is not None else gwr_lake
            # as `python -m flows run` runs it: no heartbeat thread (it serves crash detection
            # of worker-run deployments; joining it costs a flow call up to 1 s at its end)
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                t = time.perf_counter()
                fl(source=str(source), lake=str(lake))
                return time.perf_counter() - t

        def timed(key: str, fn, n: int) -> float:
            """fn() n times: the fastest, every time kept in out[key + '_runs']"""
            runs = [fn() for _ in range(n)]
            out[f"{key}_runs"] = [round(x, 3) for x in runs]
            return min(runs)

        warm = where / "lake_warm"
        run(c_small, warm)   # imports, first task runs
        # the sizes alternate (small, big, small, big, ...): a slow spell of this shared VM then
        # falls on both sizes alike, not on all the runs of one (three small runs in a spell
        # made a slope of 0.90x once, against 1.33x ten minutes before)
        cpu_runs: dict[str, list] = {"small": [], "big": []}

        def run_cpu(size: str, source: Path) -> float:
            return with_cpu(lambda: run(source, where / f"lake_{size}"), cpu_runs[size])

        pairs = [(run_cpu("small", c_small), run_cpu("big", c_big)) for _ in range(repeat)]
        out["flow_small_runs"] = [round(s, 3) for s, _ in pairs]
        out["flow_big_runs"] = [round(b, 3) for _, b in pairs]
        out["flow_small_s"] = min(s for s, _ in pairs)
        out["flow_big_s"] = min(b for _, b in pairs)
        out["slope_s_per_report"] = (out["flow_big_s"] - out["flow_small_s"]) / (big - small)
        out["core_s_per_report"] = core_per_report(c_big, repeat)
        out["overhead_ratio"] = out["slope_s_per_report"] / out["core_s_per_report"]
        out["overhead_ratio_median"] = ((median(out["flow_big_runs"]) - median(out["flow_small_runs"]))
                                        / (big - small) / out["core_s_per_report"])
        # the CPU behind the slope (flow process, server, the pool's workers), the fastest run of
        # each size: the marginal CPU per report, against the core's per report
        fast = {k: min(v, key=lambda c: c["wall_s"]) for k, v in cpu_runs.items()}
        out["flow_small_cpu"], out["flow_big_cpu"] = fast["small"], fast["big"]
        out["cpu_slope_s_per_report"] = ((cpu_total(fast["big"]) - cpu_total(fast["small"]))
                                         / (big - small))
        # each pair's own slope (two runs next to each other), their median
        out["overhead_ratio_pairs"] = [round((b - s) / (big - small) / out["core_s_per_report"], 3)
                                       for s, b in pairs]

        # goal 3: one new file with one report added to the big lake
        inc_src = where / "incremental"
        if inc_src.exists():
            shutil.rmtree(inc_src)
        shutil.copytree(c_big, inc_src)
        from bench.generate import generate
        extra = generate(1, where / "one_more", per_file=1, seed=999_999)[0]
        shutil.copy(extra, inc_src / "zz_one_more.txt")
        lake_inc = where / "lake_inc"

        def add_one() -> float:   # each time on a copy of the big lake as its full run left it
            if lake_inc.exists():
                shutil.rmtree(lake_inc)
            shutil.copytree(where / "lake_big", lake_inc)
            return run(inc_src, lake_inc, fresh=False)

        out["incremental_s"] = timed("incremental", add_one, repeat)
        out["incremental_ratio"] = out["incremental_s"] / out["flow_big_s"]
        out["incremental_ratio_median"] = median(out["incremental_runs"]) / median(out["flow_big_runs"])
        out["rerun_nothing_new_s"] = run(inc_src, lake_inc, fresh=False)
        # goal 3's floors: what a run pays before the report it adds, and what validating that
        # report's rows alone costs (bench/RESULTS.md compares them with the budget)
        out["incremental_budget_s"] = 0.05 * out["flow_big_s"]
        out["empty_flow_s"] = empty_flow_s()
        out["gx_one_report"] = gx_one_report(lake_inc, "zz_one_more.txt")

        if dask:
            # the BI suites and Data Docs run in the flow's process under Dask: import GX there
            # first (with threads they ran in the worker pool), so neither Dask run pays it
            from flows.quality.gx import session
            with session():
                pass
            # one running cluster per size, as a deployment points at a scheduler: the cluster's
            # start and the imports in its workers are start-up (reported apart), paid by a
            # warm-up run on the small corpus, not by the timed run on the big one
            from distributed import LocalCluster

            for n in (1, 2):
                t0 = time.perf_counter()
                with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
                    out[f"dask_{n}_cluster_start_s"] = time.perf_counter() - t0
                    address = cluster.scheduler_address
                    run(c_small, where / "lake_dask_warm", runners.make("dask", address=address))
                    key = f"dask_{n}_worker{'s' if n > 1 else ''}"
                    cpus: list[dict] = []
                    out[f"{key}_s"] = timed(key, lambda: with_cpu(lambda: run(
                        c_big, where / f"lake_dask{n}", runners.make("dask", address=address)),
                        cpus), min(repeat, 2))
                    # the CPU of the fastest run, by process (flow, server, Dask's workers)
                    out[f"{key}_cpu"] = min(cpus, key=lambda c: c["wall_s"])
            out["dask_speedup"] = out["dask_1_worker_s"] / out["dask_2_workers_s"]
            out["dask_speedup_median"] = (median(out["dask_1_worker_runs"])
                                          / median(out["dask_2_workers_runs"]))
    return out


# ---- goal 4: peak RSS per size, each in its own process ------------------------------------
def _tree(root: int) -> list[int]:
    """root and every process descending from it (worker processes, the fork server)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _pss_kib(pid: int) -> int:
    """Proportional set size: pages shared by several processes (a fork server's imports) are
    counted once across them, so the sum over a process tree is the memory it really holds."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def peak_rss(where: Path, n: int) -> dict:
    """Peak memory of a run over n reports, in a fresh process: the run's process alone
    (ru_maxrss) and the run's whole process tree, worker processes included (the peak of the
    sum of their PSS, sampled every 0.1 s)."""
    import threading

    corpus = make_corpus(n, where)
    if (where / f"lake_rss{n}").exists():
        shutil.rmtree(where / f"lake_rss{n}")
    code = ("import resource, sys; from flows.flow import gwr_lake; "
            "gwr_lake(source=sys.argv[1], lake=sys.argv[2]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(corpus), str(where / f"lake_rss{n}")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"tree": 0}

    def sample():
        while proc.poll() is None:
            peak["tree"] = max(peak["tree"], sum(_pss_kib(pid) for pid in _tree(proc.pid)))
            time.sleep(0.1)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    if proc.returncode:
        raise RuntimeError(f"run over {n} reports failed: {err[-2000:]}")
    return {"main": int(out.strip().splitlines()[-1]) / 1024, "tree": peak["tree"] / 1024}   # MiB


def _median(f: dict, key: str, fmt: str = ".2f", unit: str = "x") -> str:
    """ (median ...) when the runs were repeated"""
    if f"{key}_median" not in f or f.get("repeat", 1) < 2:
        return ""
    return f" (median {f[key + '_median']:{fmt}}{unit})"


def _pairs(f: dict) -> str:
    """ the slope of each (small, big) pair of runs; goal 2 is met when the fastest runs' slope
    and the pairs' median both are"""
    pairs = f.get("overhead_ratio_pairs")
    if not pairs or len(pairs) < 2:
        return ""
    return f"; pair by pair {' / '.join(f'{x:.2f}x' for x in pairs)} (median {median(pairs):.2f}x)"


def table(r: dict) -> str:
    def row(goal, measured, target, ok):
        return f"| {goal} | {measured} | {target} | {'met' if ok else 'NOT met'} |"
    lines = ["| goal | measured | target | |", "|---|---|---|---|"]
    c = r["core"]
    lines.append(row("1. core speed vs cn2an.transform (seeds)",
                     f"{c['core_s']*1000:.0f} ms vs {c['cn2an_transform_s']*1000:.0f} ms = {c['ratio']:.3f}x "
                     f"({c['mb_per_s']:.1f} MB/s)", "<= 0.15x", c["ratio"] <= 0.15))
    f = r.get("flow", {})
    if "overhead_ratio" in f:
        lines.append(row("2. flow marginal cost per report / core per report",
                         f"{f['slope_s_per_report']*1000:.2f} ms / {f['core_s_per_report']*1000:.2f} ms = "
                         f"{f['overhead_ratio']:.2f}x" + _median(f, "overhead_ratio") + _pairs(f),
                         "<= 1.2x", f["overhead_ratio"] <= 1.2
                         and median(f.get("overhead_ratio_pairs") or [0]) <= 1.2))
        lines.append(row("3. add 1 report to the big lake / full run",
                         f"{f['incremental_s']:.2f} s / {f['flow_big_s']:.2f} s = {f['incremental_ratio']:.3f}"
                         + _median(f, "incremental_ratio", ".3f", ""),
                         "<= 0.05", f["incremental_ratio"] <= 0.05))
    m = r.get("memory", {})
    if m:
        lines.append(row("4. peak memory big / small (the run's processes: PSS summed)",
                         f"{m['big_mib']:.0f} MiB / {m['small_mib']:.0f} MiB = {m['ratio']:.2f}x"
                         + (f" (the flow's process alone, ru_maxrss: {m['main_big_mib']:.0f} / "
                            f"{m['main_small_mib']:.0f} MiB = {m['main_ratio']:.2f}x)"
                            if "main_ratio" in m else ""), "<= 1.5x", m["ratio"] <= 1.5))
    if "dask_speedup" in f:
        lines.append(row("5. Dask 2 workers vs 1", f"{f['dask_1_worker_s']:.2f} s / {f['dask_2_workers_s']:.2f} s = "
                         f"{f['dask_speedup']:.2f}x" + _median(f, "dask_speedup"),
                         ">= 1.6x", f["dask_speedup"] >= 1.6))
    return "\n".join(lines + floors(f))


def floors(f: dict) -> list[str]:
    """Lines under the table: goals 2 and 5's CPU by process (and what a perfect split over the
    cores would give), goal 3's budget beside what a run pays whatever it adds."""
    out: list[str] = []
    cores = os.cpu_count() or 1
    if "cpu_slope_s_per_report" in f:
        per = f["cpu_slope_s_per_report"]
        b, sm = f["flow_big_cpu"], f["flow_small_cpu"]
        out += ["", f"Goal 2's CPU: the fastest big run used {b['workers']:.2f} s in the workers, "
                    f"{b['flow_process']:.2f} s in the flow's process and {b['server']:.2f} s in "
                    f"the server (the small run {sm['workers']:.2f} / {sm['flow_process']:.2f} / "
                    f"{sm['server']:.2f} s): {per * 1000:.2f} ms of CPU per added report, "
                    f"{per / f['core_s_per_report']:.2f}x the core's; split perfectly over "
                    f"{cores} cores, {per / cores / f['core_s_per_report']:.2f}x."]
    if "gx_one_report" in f:
        g = f["gx_one_report"]
        out += ["", f"Goal 3's floors: the budget is {f['incremental_budget_s']:.3f} s (5% of "
                    f"{f['flow_big_s']:.2f} s). A flow call with no task costs {f['empty_flow_s']:.3f} s; "
                    f"a re-run with nothing new {f['rerun_nothing_new_s']:.2f} s; the six GX suites "
                    f"({g['expectations']} expectations) on the added report's rows alone "
                    f"{g['cpu_s']:.2f} s of CPU ({g['cpu_s'] / cores:.2f} s split "
                    f"over {cores} cores)."]
    if "dask_2_workers_cpu" in f and "dask_1_worker_cpu" in f:
        parts = []
        for key, label in (("dask_1_worker_cpu", "1 worker"), ("dask_2_workers_cpu", "2 workers")):
            c = f[key]
            total = cpu_total(c)
            parts.append(f"{label}: workers {c['workers']:.2f} s, flow process {c['flow_process']:.2f} s, "
                         f"server {c['server']:.2f} s = {total:.2f} s of CPU in {c['wall_s']:.2f} s "
                         f"({total / c['wall_s']:.2f} of {cores} cores busy)")
        ideal = cpu_total(f["dask_2_workers_cpu"]) / cores
        out += ["", f"Goal 5's CPU, the fastest run of each: {'; '.join(parts)}. The 2-worker "
                    f"run's CPU split perfectly over {cores} cores would take {ideal:.2f} s: "
                    f"{f['dask_1_worker_cpu']['wall_s'] / ideal:.2f}x."]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="gwr-lake benchmark suite")
    ap.add_argument("--quick", action="store_true", help="small sizes: checks the suite runs")
    ap.add_argument("--out", type=Path, default=None,
                    help="where to write the results (default bench/RESULTS.md, for a full run only)")
    ap.add_argument("--work", type=Path, default=None, help="folder for corpora and lakes")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--only", choices=["core", "flow", "memory"], default=None)
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed flow runs per measurement, the fastest counts (default 3; 1 with --quick)")
    a = ap.parse_args(argv)
    small, big = (20, 100) if a.quick else (200, 2000)
    rss_small, rss_big = (50, 200) if a.quick else (1000, 10000)
    work = a.work or Path(tempfile.mkdtemp(prefix="gwr-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "sizes": dict(small=small, big=big, rss_small=rss_small,
                                                         rss_big=rss_big)}
    if a.only in (None, "core"):
        results["core"] = core_speed()
    if a.only in (None, "flow"):
        results["flow"] = flow_runs(work, small, big, dask=not a.no_dask,
                                    repeat=a.repeat or (1 if a.quick else 3))
    if a.only in (None, "memory"):
        s, b = peak_rss(work, rss_small), peak_rss(work, rss_big)
        # the goal is judged on the whole process tree (worker processes hold chunks and GX)
        results["memory"] = dict(small_mib=s["tree"], big_mib=b["tree"], ratio=b["tree"] / s["tree"],
                                 main_small_mib=s["main"], main_big_mib=b["main"],
                                 main_ratio=b["main"] / s["main"])
    if "core" not in results:
        results["core"] = core_speed(3)
    text = (f"# Benchmark results\n\nMachine: {results['machine']}  \n"
            f"Sizes: {results['sizes']}  \nDate: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
            f"{table(results)}\n\nFixed start-up (not in the ratios): Prefect test server "
            f"{results.get('flow', {}).get('server_start_s', float('nan')):.1f} s.\n\n"
            f"```json\n{json.dumps(results, indent=2, default=str)}\n```\n")
    print(table(results))
    out = a.out or (ROOT / "bench" / "RESULTS.md" if not a.quick and a.only is None else None)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
