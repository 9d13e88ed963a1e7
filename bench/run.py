"""The benchmark suite: gwr-lake's cost and how it grows, measured on this machine in one session.

    python -m bench.run [--quick] [--out bench/RESULTS.md] [--old /path/to/old/checkout]

Goals:
 1. core speed: the pure core over the seeds, from their bytes (read: decode and screen; clean,
    split, extract, panel) <= 0.15 x cn2an.transform over the same text (best_of)
 2. full run of 2,000 generated reports, warm (one Prefect server, one flow process kept warm):
    no slower than 1.25 x the old code's (--old), alternating old / new
 3. from the command line (a fresh `python -m flows run` each time; a temporary Prefect server,
    and a long-lived one): add one report, and a run with nothing new, at 2,000 and 20,000 reports
    in the lake; add one at 20,000 within 1.2 x add one at 2,000
 4. peak memory, the run's whole process tree (PSS summed): 10,000 reports <= 1.5 x 1,000
 5. where a 20,000-report run from the command line spends its time, stage by stage, beside the
    2,000-report one and the warm runs' marginal rate
 6. Dask 2 workers vs 1 (this tree), when the shell has the Dask runner

Each part waits for a quiet machine first (load under 1.5, no other test run or Prefect server;
60 s at a time, up to --max-wait seconds) and records the load it saw; before each timed run the
suite waits (up to --gate-wait seconds) for other test runs, Prefect servers and busy processes of
others to end, and a run during which any was still seen is marked * in the tables. `--quick` uses
small sizes (a smoke test of the suite, not the goals). `--only core warm memory cli` measures some
parts (in that order of priority when time is short); `--resume --work W` keeps the parts W's
results.json already has and measures the others (or --only's again). The figures go to --out
(Markdown: goals, how measured, every run in JSON at its end) and to <work>/results.json.

    python -m bench.report W/results.json --out bench/RESULTS.md     renders a results.json again
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.common import GATE, ROOT, corpus_bytes, machine, make_corpus, wait_quiet

SIZES = {"full": dict(small=200, big=2000, mem_small=1000, mem_big=10000, cli=(2000, 20000)),
         "quick": dict(small=20, big=100, mem_small=50, mem_big=200, cli=(100, 300))}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def part_core(results: dict, trees: dict) -> None:
    from bench.warm import WarmTree

    out = {}
    for name, tree in trees.items():
        t = WarmTree(f"core-{name}", tree, None, None, results["_work"])
        try:
            out[name] = t.call("core", seeds=str(ROOT / "seeds"), repeat=7)
        finally:
            t.close()
        log(f"core {name}: {out[name]['core_bytes_s'] * 1000:.0f} ms vs cn2an {out[name]['cn2an_transform_s'] * 1000:.0f} ms")
    results["core"] = out


def part_warm(results: dict, trees: dict, sizes: dict, repeat: int, dask: bool) -> None:
    from bench.warm import (WarmTree, add_one, dask_runs, full_runs, prefect_server, summarise_full)

    work = results["_work"]
    small, big = make_corpus(sizes["small"], work), make_corpus(sizes["big"], work)
    with prefect_server(work) as (api, pid, started):
        results["server_start_s"] = started
        warm = {name: WarmTree(name, tree, api, pid, work) for name, tree in trees.items()}
        try:
            raw = full_runs(warm, small, big, work, repeat, log)
            cpr = {name: t.call("core_per_report", corpus=str(big), n=sizes["big"])["s_per_report"]
                   for name, t in warm.items()}
            results["warm"] = {name: summarise_full(raw[name], sizes["small"], sizes["big"], cpr[name])
                               for name in warm}
            results["warm_raw"] = raw
            results["add_one_warm"] = add_one(warm, big, work, max(2, repeat - 1), log)
            results["empty_flow_s"] = warm["new"].call("empty_flow")["s"]
            if dask:
                try:
                    results["dask"] = dask_runs(warm["new"], small, big, work, min(repeat, 2), log)
                except Exception as exc:  # noqa: BLE001 - optional: say why it is missing
                    results["dask_error"] = f"{type(exc).__name__}: {exc}"[:500]
                    log(f"dask: {results['dask_error']}")
        finally:
            for t in warm.values():
                t.close()


def part_memory(results: dict, trees: dict, sizes: dict) -> None:
    from bench.cli_runs import cli_run

    work = results["_work"]
    out: dict = {name: {} for name in trees}
    for n in (sizes["mem_small"], sizes["mem_big"]):
        corpus = make_corpus(n, work)
        for name, tree in trees.items():
            lake = work / f"lake_mem{n}_{name}"
            if lake.exists():
                shutil.rmtree(lake)
            r = cli_run(tree, corpus, lake, work / f"prefect-home-mem-{name}", memory=True, every=0.1)
            out[name][str(n)] = {k: r.get(k) for k in ("wall_s", "tree_mib", "main_hwm_mib", "by_kind_mib", "cpu_by_kind",
                                             "cpu_tree_s", "phases", "seconds")}
            log(f"memory {name} {n}: {r['tree_mib']:.0f} MiB (tree), {r['wall_s']:.1f} s")
            shutil.rmtree(lake)
    results["memory"] = out


def part_cli(results: dict, trees: dict, sizes: dict, repeat: int, wait) -> None:
    from bench.cli_runs import series
    from bench.warm import prefect_server

    work = results["_work"]
    out = {}
    with prefect_server(work) as (api, pid, started):
        results["long_lived_server_start_s"] = started
        for n in sizes["cli"]:
            corpus = make_corpus(n, work)
            results.setdefault("corpus_bytes", {})[str(n)] = corpus_bytes(corpus)
            results.setdefault("load", {})[f"cli{n}"] = wait()
            out[str(n)] = series(trees["new"], corpus, n, work, (api, pid), repeat, log)
            shutil.rmtree(work / f"cli_lake{n}", ignore_errors=True)
    results["cli"] = out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="gwr-lake benchmark suite")
    ap.add_argument("--quick", action="store_true", help="small sizes: checks the suite runs")
    ap.add_argument("--out", type=Path, default=None,
                    help="where to write the results (default bench/RESULTS.md, for a full run only)")
    ap.add_argument("--work", type=Path, default=None, help="folder for corpora and lakes (kept)")
    ap.add_argument("--old", type=Path, default=None, help="a checkout of the old code to compare with")
    ap.add_argument("--only", nargs="+", choices=["core", "warm", "memory", "cli"], default=None)
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (default 3; 1 quick)")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    ap.add_argument("--max-wait", type=float, default=2400, help="seconds to wait for a quiet machine")
    ap.add_argument("--gate-wait", type=float, default=600,
                    help="seconds to wait before each timed run for other runs to end")
    ap.add_argument("--resume", action="store_true",
                    help="keep the parts <work>/results.json has, measure the others (or --only's)")
    a = ap.parse_args(argv)
    # a SIGTERM unwinds like an exception: the suite's Prefect server (its own session) and the warm
    # drivers are stopped by their context managers instead of left running
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.resume and a.work is None:
        ap.error("--resume needs --work: the folder whose results.json to keep")
    sizes = SIZES["quick" if a.quick else "full"]
    repeat = a.repeat or (1 if a.quick else 3)
    work = a.work or Path(tempfile.mkdtemp(prefix="gwr-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    trees = {"new": ROOT}
    if a.old:
        trees = {"old": a.old.resolve(), "new": ROOT}
    GATE.update(max_wait_s=a.gate_wait, log=log)
    parts = a.only or ["core", "warm", "memory", "cli"]
    results: dict = {"machine": machine(), "sizes": sizes, "repeat": repeat, "trees": {k: str(v) for k, v in trees.items()},
                     "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": {}, "_work": work}
    if a.resume and (work / "results.json").exists():
        results = _resume(json.loads((work / "results.json").read_text(encoding="utf-8")), a.only, results)
        parts = [p for p in parts if a.only or p not in results.get("done", [])]

    def wait() -> dict:
        return {"load1": None, "quiet": None} if a.no_wait else wait_quiet(max_wait_s=a.max_wait, log=log)

    for part in parts:
        results["load"][part] = wait()
        results.setdefault("measured", {})[part] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        log(f"{part}: load {results['load'][part]}")
        if part == "core":
            part_core(results, trees)
        elif part == "warm":
            part_warm(results, trees, sizes, repeat, dask=not a.no_dask)
        elif part == "memory":
            part_memory(results, trees, sizes)
        elif part == "cli":
            part_cli(results, trees, sizes, repeat, wait)
        results.setdefault("done", []).append(part)
        _save(results, work)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    _save(results, work)
    from bench.report import render

    text = render(results)
    print(text.split("```json")[0])
    out = a.out or (ROOT / "bench" / "RESULTS.md" if not a.quick and a.only is None else None)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        log(f"written {out}")
    return 0


PART_KEYS = {"core": ("core",), "warm": ("warm", "warm_raw", "add_one_warm", "empty_flow_s", "dask", "dask_error",
                                         "server_start_s"),
             "memory": ("memory",), "cli": ("cli", "corpus_bytes", "long_lived_server_start_s")}


def _resume(old: dict, only: list[str] | None, fresh: dict) -> dict:
    """The saved results, less the parts measured again (and with this run's start, sizes, work)."""
    again = set(only or [])
    for part in again:
        for key in PART_KEYS[part]:
            old.pop(key, None)
    old["done"] = [p for p in old.get("done", []) if p not in again]
    old.setdefault("load", {})
    old["resumed"] = fresh["started"]
    old["_work"] = fresh["_work"]
    return old


def _save(results: dict, work: Path) -> None:
    (work / "results.json").write_text(json.dumps({k: v for k, v in results.items() if k != "_work"},
                                                  indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
