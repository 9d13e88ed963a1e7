"""Runs from the command line, as a user (or a schedule) runs the flow: `python -m flows run` in a
fresh process each time, against a temporary Prefect server (no PREFECT_API_URL: Prefect starts
one for the run) or a long-lived `prefect server start` (PREFECT_API_URL set).

Each run's output lines are time-stamped as they arrive, so a run is also a timeline: start-up,
the temporary server, each stage's end (Prefect's "Finished in state" lines), the exit.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from bench.common import PYTHON, bench_env, linked_copy, one_more, run_watched

_TASK_END = re.compile(r"Task run '([^']+)' - Finished in state (\w+)")
_FLOW_END = re.compile(r"Flow run '[^']+' - Finished in state (\w+)")
_STATUS = re.compile(r"^## gwr-lake run (\S+): (\w+)")
_TIMED = re.compile(r"Task run '([^']+)' - (.*?(\d+\.\d+) s.*)$")


def _task(name: str) -> str:
    """'process chunk 3 (50 files)' -> 'process'; 'publish-f21' -> 'publish'."""
    name = re.sub(r"-[0-9a-f]{3}$", "", name)
    return name.split(" ")[0]


def timeline(lines: list[tuple[float, str]]) -> dict:
    """When (seconds from the process's start) the run reached each point, from its output."""
    ev: dict = {}
    tasks: dict[str, float] = {}
    timed = []
    for t, line in lines:
        if "first_line" not in ev and line.strip():
            ev["first_line"] = t
        if "Starting temporary server" in line:
            ev["temp_server_starting"] = t
        elif "Beginning flow run" in line:
            ev["flow_begins"] = t
        elif re.search(r" - run \S+: .* -> ", line) and "flow_body" not in ev:
            ev["flow_body"] = t
        elif m := _TASK_END.search(line):
            tasks[_task(m.group(1))] = t      # the last of each kind (chunks: the last chunk's)
        elif m := _FLOW_END.search(line):
            ev["flow_ends"] = t
        elif "Stopping temporary server" in line:
            ev["temp_server_stopping"] = t
        if m := _STATUS.search(line):
            ev["status"], ev["run_id"] = m.group(2), m.group(1)
        if (m := _TIMED.search(line)) and "Finished in state" not in line:
            timed.append([round(t, 2), _task(m.group(1)), m.group(2)[:160]])
    return {"events": {k: round(v, 3) if isinstance(v, float) else v for k, v in ev.items()},
            "task_ends": {k: round(v, 3) for k, v in tasks.items()}, "timed_lines": timed}


def phases(r: dict) -> dict:
    """Where a CLI run's wall time goes, from its timeline: consecutive points, in seconds."""
    ev, te = r["timeline"]["events"], r["timeline"]["task_ends"]
    points = [("start-up: interpreter, imports", ev.get("first_line")),
              ("temporary server start, flow run created", ev.get("flow_begins")),
              ("flow set-up (settings, lock)", ev.get("flow_body")),
              ("plan", te.get("plan")),
              ("fetch + process", max([te[k] for k in ("fetch", "process", "download") if k in te], default=None)),
              ("validate (GX, 4 tables)", te.get("record-validation")),
              ("bi (rebuild + GX, 2 tables)", te.get("bi")),
              ("publish (Delta commits)", te.get("publish")),
              ("report (HTML, Data Docs, lake.duckdb)", te.get("report")),
              ("artifacts", te.get("artifacts")),
              ("flow end", ev.get("flow_ends")),
              ("summary, server stop, exit", r["wall_s"])]
    out, last = {}, 0.0
    for label, t in points:
        if t is None:
            continue
        out[label] = round(t - last, 2)
        last = t
    return out


def cli_run(tree: Path, source: Path, lake: Path, home: Path, api: str | None = None,
            server_pid: int | None = None, memory: bool = False, every: float = 0.5) -> dict:
    """`python -m flows run --source S --lake L` in a fresh process; its wall time, CPU by kind of
    process (the long-lived server's too), timeline, phases, and the manifest's stage seconds."""
    env = bench_env(PREFECT_HOME=home, PREFECT_API_URL=api)
    r = run_watched([PYTHON, "-m", "flows", "run", "--source", str(source), "--lake", str(lake)], cwd=tree,
                    env=env, every=every, memory=memory, extra=[server_pid] if server_pid else None)
    if r["rc"] != 0:
        tail = "\n".join(line for _, line in r["lines"][-30:])
        raise RuntimeError(f"CLI run failed ({r['rc']}): {source} -> {lake}\n{tail}")
    r["timeline"] = timeline(r.pop("lines"))
    r["phases"] = phases(r)
    run_id = r["timeline"]["events"].get("run_id")
    manifest = Path(lake) / "manifests" / f"{run_id}.json"
    if run_id and manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        r["seconds"] = m.get("seconds")
        r["batch"] = m.get("batch")
    return r


def series(tree: Path, corpus: Path, n: int, where: Path, server: tuple[str, int | None] | None,
           repeat: int, log=print) -> dict:
    """At n reports in the lake: a full run from the CLI (temporary server), then `repeat` rounds of
    (add one report, nothing new) with a temporary server and with the long-lived one, the modes
    alternating round by round."""
    src = linked_copy(corpus, where / f"cli_src{n}")
    lake = where / f"cli_lake{n}"
    if lake.exists():
        shutil.rmtree(lake)
    home = where / f"prefect-home-cli{n}"
    out: dict = {"n": n, "full": cli_run(tree, src, lake, home, memory=True)}
    log(f"  CLI full run, {n} reports: {out['full']['wall_s']:.1f} s")
    modes = {"temporary": None}
    if server is not None:
        modes["long_lived"] = server
    for mode in modes:
        out[mode] = {"add": [], "noop": []}
    k = 0
    for r in range(repeat):
        for mode in (list(modes) if r % 2 == 0 else list(modes)[::-1]):
            api, pid = modes[mode] or (None, None)
            k += 1
            shutil.copy(one_more(where, 1000 * n + k), src / f"zz_one_more_{k:03d}.txt")
            add = cli_run(tree, src, lake, home, api, pid)
            noop = cli_run(tree, src, lake, home, api, pid)
            out[mode]["add"].append(add)
            out[mode]["noop"].append(noop)
            log(f"  CLI {n} {mode}: add one {add['wall_s']:.1f} s ({add['timeline']['events'].get('status')}), "
                f"nothing new {noop['wall_s']:.1f} s ({noop['timeline']['events'].get('status')})")
    return out


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])
