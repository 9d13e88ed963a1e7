"""Warm flow runs: one Prefect server for the whole suite, one warm flow process per source tree
(bench/driver.py), the trees' runs alternating so that a slow spell of the machine falls on
both alike.

    full runs      small and big corpora, fresh lakes (old goal 2: the slope per report)
    add one        one new file with one report beside the big corpus, on a copy of the big lake
                   (old goal 3), then a re-run with nothing new
    Dask           2 workers vs 1 on the big corpus (old goal 5), this tree only
"""
from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path

from bench.common import PYTHON, ROOT, Watch, bench_env, gate, linked_copy, one_more


@contextlib.contextmanager
def prefect_server(where: Path):
    """A real `prefect server start` (flows/runtime/localserver.py): (api_url, pid, start seconds)."""
    from flows.runtime.localserver import prefect_server as start

    home = where / "prefect-home-server"
    with start(home, env=bench_env()) as (api, _ui, started, _env):
        yield api, _server_pid(api), started


def _server_pid(api: str) -> int | None:
    port = api.rsplit(":", 1)[1].split("/")[0]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "server" in cmd and f"--port {port}" in cmd:
                return int(d.name)
    return None


class WarmTree:
    """bench/driver.py for one tree, against the suite's server."""

    def __init__(self, name: str, tree: Path, api: str | None, server_pid: int | None, where: Path):
        self.name, self.tree, self.server_pid = name, tree, server_pid
        env = bench_env(PREFECT_API_URL=api, PREFECT_HOME=where / f"prefect-home-{name}", PYTHONPATH=tree)
        self.log = open(where / f"driver-{name}.log", "w")
        self.proc = subprocess.Popen([PYTHON, str(ROOT / "bench" / "driver.py"), "--tree", str(tree)],
                                     cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("@@BENCH "):
                self.answers.put(json.loads(line[8:]))
            else:
                self.log.write(line)
        self.answers.put({"ok": False, "error": "the driver ended"})

    def call(self, op: str, timeout: float = 3600, **kw) -> dict:
        """One op, with the CPU of the driver's processes and of the server while it ran."""
        waited = gate() if op == "run" else 0
        with Watch(self.proc.pid, every=0.25, memory=False,
                   extra=[self.server_pid] if self.server_pid else None) as w:
            self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
            self.proc.stdin.flush()
            got = self.answers.get(timeout=timeout)
        if not got.pop("ok"):
            raise RuntimeError(f"{self.name}: {op} failed: {got.get('error')}\n{got.get('trace', '')}")
        got["cpu"], got["others"] = w.cpu_by_kind(), max(w.others, waited)
        return got

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.flush()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _fastest(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


def full_runs(trees: dict[str, WarmTree], small: Path, big: Path, where: Path, repeat: int, log=print) -> dict:
    """Each tree warmed by a small and a big run (imports; the old code's worker processes start
    with its first large run only), then `repeat` rounds of (small, big) per tree, the trees'
    order swapped every round (old, new; new, old; ...)."""
    out: dict = {name: {"small": [], "big": []} for name in trees}
    for name, t in trees.items():
        for corpus in (small, big):
            t.call("run", source=str(corpus), lake=str(where / f"lake_warm_{name}"))
    names = list(trees)
    for r in range(repeat):
        for name in (names if r % 2 == 0 else names[::-1]):
            t = trees[name]
            for size, corpus in (("small", small), ("big", big)):
                got = t.call("run", source=str(corpus), lake=str(where / f"lake_{size}_{name}"))
                out[name][size].append(got)
                log(f"  warm {name} {size}: {got['wall_s']:.2f} s")
    return out


def add_one(trees: dict[str, WarmTree], big: Path, where: Path, repeat: int, log=print) -> dict:
    """One new file (one report) beside the big corpus, on a fresh copy of each tree's big lake;
    then a re-run with nothing new. The trees alternate."""
    src = linked_copy(big, where / "inc_src")
    shutil.copy(one_more(where, 0), src / "zz_one_more.txt")
    out: dict = {name: {"add": [], "noop": []} for name in trees}
    names = list(trees)
    for r in range(repeat):
        for name in (names if r % 2 == 0 else names[::-1]):
            lake = where / f"lake_inc_{name}"
            if lake.exists():
                shutil.rmtree(lake)
            shutil.copytree(where / f"lake_big_{name}", lake)
            t = trees[name]
            out[name]["add"].append(t.call("run", source=str(src), lake=str(lake), fresh=False))
            out[name]["noop"].append(t.call("run", source=str(src), lake=str(lake), fresh=False))
            log(f"  warm {name} add one: {out[name]['add'][-1]['wall_s']:.2f} s, "
                f"nothing new {out[name]['noop'][-1]['wall_s']:.2f} s")
    return out


def dask_runs(t: WarmTree, small: Path, big: Path, where: Path, repeat: int, log=print) -> dict:
    """Dask with 1 and 2 worker processes, a running LocalCluster each (its start and the workers'
    imports paid by a warm-up run on the small corpus, as a deployment points at a running
    scheduler)."""
    out: dict = {}
    for n in (1, 2):
        c = t.call("cluster", n=n)
        try:
            t.call("run", source=str(small), lake=str(where / "lake_dask_warm"), dask=c["address"])
            runs = [t.call("run", source=str(big), lake=str(where / f"lake_dask{n}"), dask=c["address"])
                    for _ in range(repeat)]
        finally:
            t.call("cluster_close")
        out[str(n)] = {"cluster_start_s": c["start_s"], "runs": runs}
        log(f"  dask {n} worker(s): {[r['wall_s'] for r in runs]}")
    return out


def summarise_full(runs: dict, small_n: int, big_n: int, core_per_report: float | None) -> dict:
    """The fastest small and big run, the slope per report, and old goal 2's ratio."""
    small, big = _fastest(runs["small"]), _fastest(runs["big"])
    slope = (big["wall_s"] - small["wall_s"]) / (big_n - small_n)
    pairs = [(s["wall_s"], b["wall_s"]) for s, b in zip(runs["small"], runs["big"])]
    out = {"small_s": small["wall_s"], "big_s": big["wall_s"], "slope_s_per_report": slope,
           "small_runs": [s for s, _ in pairs], "big_runs": [b for _, b in pairs],
           "small_others": [x.get("others", 0) for x in runs["small"]],
           "big_others": [x.get("others", 0) for x in runs["big"]],
           "big_cpu": big["cpu"], "small_cpu": small["cpu"], "big_seconds": big.get("seconds"),
           "small_cpu_runs": [round(sum(x["cpu"].values()), 2) for x in runs["small"]],
           "big_cpu_runs": [round(sum(x["cpu"].values()), 2) for x in runs["big"]]}
    if core_per_report:
        out["core_s_per_report"] = core_per_report
        out["overhead_ratio"] = slope / core_per_report
        out["overhead_ratio_pairs"] = [round((b - s) / (big_n - small_n) / core_per_report, 3) for s, b in pairs]
    return out
