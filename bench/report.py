"""bench/RESULTS.md from the suite's results (bench/run.py), or again from a results.json:

    python -m bench.report /tmp/gwr-bench-xyz/results.json --out bench/RESULTS.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import median

KINDS = ("main", "server", "workers")


def _ok(flag: bool) -> str:
    return "met" if flag else "**NOT met**"


def _row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _best(runs: list[dict]) -> float:
    return min(r["wall_s"] for r in runs)


def _med(runs: list[dict]) -> float:
    return median(r["wall_s"] for r in runs)


def _runs(runs: list[dict]) -> str:
    """Every run; * marks one during which another run or a busy process of someone else was seen."""
    return " / ".join(f"{r['wall_s']:.2f}" + ("*" if r.get("others") else "") for r in runs)


def _floats(xs: list[float], others: list[int] | None) -> str:
    others = others or [0] * len(xs)
    return " / ".join(f"{x:.2f}" + ("*" if o else "") for x, o in zip(xs, others))


def _cpu_runs(r: dict, tree: str, size: str) -> list[float]:
    """CPU seconds of every warm full run of one tree and size, all its processes (flow, workers,
    server): from the summary, or from the raw runs of a results.json written before it held them."""
    got = ((r.get("warm") or {}).get(tree) or {}).get(f"{size}_cpu_runs")
    if got:
        return got
    raw = ((r.get("warm_raw") or {}).get(tree) or {}).get(size) or []
    return [sum(x["cpu"].values()) for x in raw]


def goals(r: dict) -> list[str]:
    out = ["| goal | measured | target | |", "|---|---|---|---|"]
    c = (r.get("core") or {}).get("new")
    if c:
        old = (r.get("core") or {}).get("old")
        out.append(_row("1. core (bytes -> panel rows: read, clean, split, extract) vs cn2an.transform, seeds",
                        f"{c['core_bytes_s'] * 1000:.0f} ms vs {c['cn2an_transform_s'] * 1000:.0f} ms = "
                        f"{c['ratio']:.3f}x ({c['mb_per_s']:.1f} MB/s; from text {c['ratio_text']:.3f}x"
                        + (f"; old code {old['ratio']:.3f}x, from text {old['ratio_text']:.3f}x" if old else "") + ")",
                        "<= 0.15x", _ok(c["ratio"] <= 0.15)))
    w = r.get("warm") or {}
    if "new" in w and "old" in w:
        ratio = w["new"]["big_s"] / w["old"]["big_s"]
        med = median(w["new"]["big_runs"]) / median(w["old"]["big_runs"])
        txt = (f"{w['new']['big_s']:.2f} s vs {w['old']['big_s']:.2f} s = {ratio:.2f}x (medians {med:.2f}x")
        cpu = {k: _cpu_runs(r, k, "big") for k in ("old", "new")}
        if all(cpu.values()):
            cpu = {k: median(v) for k, v in cpu.items()}
            txt += f"; CPU, all processes, medians: {cpu['new']:.1f} s vs {cpu['old']:.1f} s = {cpu['new'] / cpu['old']:.2f}x"
        txt += ")"
        out.append(_row(f"2. full run, {r['sizes']['big']:,} reports, warm: new / old (issue 25)", txt, "<= 1.25x", _ok(ratio <= 1.25)))
        out.append(_row("2. the same (issue 24)", txt, "<= 1.3x", _ok(ratio <= 1.3)))
    cli = r.get("cli") or {}
    sizes = sorted(cli, key=int)
    if len(sizes) == 2:
        a, b = sizes
        for mode in ("long_lived", "temporary"):
            if mode in cli[a] and mode in cli[b]:
                x, y = _best(cli[b][mode]["add"]), _best(cli[a][mode]["add"])
                out.append(_row(f"3. CLI add one: {int(b):,} / {int(a):,} reports in the lake ({_mode(mode)})",
                                f"{x:.2f} s / {y:.2f} s = {x / y:.2f}x", "<= 1.2x", _ok(x / y <= 1.2)))
    m = (r.get("memory") or {}).get("new")
    if m and len(m) == 2:
        s, b = sorted(m, key=int)
        ratio = m[b]["tree_mib"] / m[s]["tree_mib"]
        old = (r.get("memory") or {}).get("old")
        oldtxt = f"; old code {old[b]['tree_mib'] / old[s]['tree_mib']:.2f}x" if old and len(old) == 2 else ""
        out.append(_row(f"4. peak memory {int(b):,} / {int(s):,} reports (process tree, PSS summed)",
                        f"{m[b]['tree_mib']:.0f} MiB / {m[s]['tree_mib']:.0f} MiB = {ratio:.2f}x{oldtxt}",
                        "<= 1.5x", _ok(ratio <= 1.5)))
    return out + old_goals(r)


def _mode(mode: str) -> str:
    return {"long_lived": "long-lived server", "temporary": "temporary server"}[mode]


def old_goals(r: dict) -> list[str]:
    """The old suite's goals 2, 3 and 5, on the new code."""
    out = []
    n = (r.get("warm") or {}).get("new")
    if n and "overhead_ratio" in n:
        out.append(_row("(old 2) warm marginal cost per report / core's per report",
                        f"{n['slope_s_per_report'] * 1000:.2f} ms / {n['core_s_per_report'] * 1000:.2f} ms = "
                        f"{n['overhead_ratio']:.2f}x (pairs {' / '.join(f'{x:.2f}' for x in n['overhead_ratio_pairs'])})",
                        "<= 1.2x", _ok(n["overhead_ratio"] <= 1.2)))
    inc = (r.get("add_one_warm") or {}).get("new")
    if n and inc:
        x = _best(inc["add"])
        out.append(_row(f"(old 3) warm: add one report to the {r['sizes']['big']:,}-report lake / full run",
                        f"{x:.2f} s / {n['big_s']:.2f} s = {x / n['big_s']:.3f}", "<= 0.05", _ok(x / n["big_s"] <= 0.05)))
    d = r.get("dask")
    if d and "1" in d and "2" in d:
        one, two = _best(d["1"]["runs"]), _best(d["2"]["runs"])
        out.append(_row(f"(old 5) Dask 2 workers vs 1, {r['sizes']['big']:,} reports", f"{one:.2f} s / {two:.2f} s = {one / two:.2f}x",
                        ">= 1.6x", _ok(one / two >= 1.6)))
    elif r.get("dask_error"):
        out.append(_row("(old 5) Dask 2 workers vs 1", f"not measured: {r['dask_error'][:120]}", ">= 1.6x", "-"))
    return out


def old_vs_new(r: dict) -> list[str]:
    w, inc, mem = r.get("warm") or {}, r.get("add_one_warm") or {}, r.get("memory") or {}
    if not ("old" in w and "new" in w):
        return []
    out = ["| measure | old code | new code | new / old |", "|---|---|---|---|"]

    def line(label, o, n, fmt="{:.2f} s"):
        out.append(_row(label, fmt.format(o), fmt.format(n), f"{n / o:.2f}x"))

    sizes = r["sizes"]
    for size in ("small", "big"):
        o, n = w["old"], w["new"]
        line(f"warm full run, {sizes[size]:,} reports (fastest)", o[f"{size}_s"], n[f"{size}_s"])
        out.append(_row(f"  every run, in order ({sizes[size]:,})", _floats(o[f"{size}_runs"], o.get(f"{size}_others")),
                        _floats(n[f"{size}_runs"], n.get(f"{size}_others")),
                        f"medians {median(n[f'{size}_runs']) / median(o[f'{size}_runs']):.2f}x"))
    for size in ("small", "big"):
        cpu = {k: _cpu_runs(r, k, size) for k in ("old", "new")}
        if all(cpu.values()):
            line(f"CPU seconds, all processes (flow, workers, server), {sizes[size]:,} reports: median of the runs",
                 median(cpu["old"]), median(cpu["new"]))
    line("warm marginal cost per report", w["old"]["slope_s_per_report"] * 1000, w["new"]["slope_s_per_report"] * 1000,
         "{:.2f} ms")
    if "old" in inc and "new" in inc:
        line(f"warm add one report to the {sizes['big']:,}-report lake", _best(inc["old"]["add"]), _best(inc["new"]["add"]))
        line("warm re-run with nothing new", _best(inc["old"]["noop"]), _best(inc["new"]["noop"]))
    if "old" in mem and "new" in mem:
        for n in sorted(mem["new"], key=int):
            if n in mem["old"]:
                line(f"peak memory, {int(n):,} reports (tree PSS)", mem["old"][n]["tree_mib"], mem["new"][n]["tree_mib"],
                     "{:.0f} MiB")
                line(f"  the flow's process alone (VmHWM), {int(n):,}", mem["old"][n]["main_hwm_mib"],
                     mem["new"][n]["main_hwm_mib"], "{:.0f} MiB")
                line(f"  CLI full run, {int(n):,} reports (temporary server)", mem["old"][n]["wall_s"],
                     mem["new"][n]["wall_s"])
        s, b = sorted(mem["new"], key=int)
        if s in mem["old"] and b in mem["old"]:
            out.append(_row(f"memory ratio {int(b):,} / {int(s):,}",
                            f"{mem['old'][b]['tree_mib'] / mem['old'][s]['tree_mib']:.2f}x",
                            f"{mem['new'][b]['tree_mib'] / mem['new'][s]['tree_mib']:.2f}x", ""))
    return out


def cli_table(r: dict) -> list[str]:
    cli = r.get("cli") or {}
    if not cli:
        return []
    out = ["| reports in the lake | server | full run | add one (fastest; every run) | nothing new (fastest; every run) |",
           "|---|---|---|---|---|"]
    for n in sorted(cli, key=int):
        for mode in ("temporary", "long_lived"):
            if mode not in cli[n]:
                continue
            s = cli[n][mode]
            f = cli[n]["full"]
            full = f"{f['wall_s']:.1f} s" + ("*" if f.get("others") else "") if mode == "temporary" else "-"
            out.append(_row(f"{int(n):,}", _mode(mode), full, f"{_best(s['add']):.2f} s ({_runs(s['add'])})",
                            f"{_best(s['noop']):.2f} s ({_runs(s['noop'])})"))
    return out + [""] + cli_phases(cli)


def cli_phases(cli: dict) -> list[str]:
    """The fastest add-one and nothing-new runs of each size and mode, phase by phase."""
    cols = []
    for n in sorted(cli, key=int):
        for mode in ("temporary", "long_lived"):
            if mode in cli[n]:
                for what in ("add", "noop"):
                    cols.append((f"{int(n):,} {'temp' if mode == 'temporary' else 'long-lived'} "
                                 f"{'add one' if what == 'add' else 'nothing new'}",
                                 min(cli[n][mode][what], key=lambda x: x["wall_s"])))
    labels = list(dict.fromkeys(k for _, run in cols for k in run["phases"]))
    out = ["| phase (s) | " + " | ".join(c for c, _ in cols) + " |", "|---|" + "---|" * len(cols)]
    for label in labels:
        out.append(_row(label, *(f"{run['phases'].get(label, 0):.2f}" if label in run["phases"] else "-"
                                 for _, run in cols)))
    out.append(_row("**wall**", *(f"**{run['wall_s']:.2f}**" for _, run in cols)))
    out.append(_row("CPU: main / server / workers",
                    *(" / ".join(f"{run['cpu_by_kind'].get(k, 0):.1f}" for k in KINDS) for _, run in cols)))
    out.append(_row("processes started", *(", ".join(f"{k} {v}" for k, v in sorted(run.get("started", {}).items()))
                                           or "none" for _, run in cols)))
    return out


def profile(r: dict) -> list[str]:
    """The full CLI runs of each size side by side, phase by phase, and the warm prediction."""
    cli = r.get("cli") or {}
    if len(cli) < 2:
        return []
    a, b = sorted(cli, key=int)
    fa, fb = cli[a]["full"], cli[b]["full"]
    k = int(b) / int(a)
    out = [f"| phase | {int(a):,} reports (s) | {int(b):,} reports (s) | ratio ({k:.0f}x the reports) |",
           "|---|---|---|---|"]
    for label in dict.fromkeys(list(fa["phases"]) + list(fb["phases"])):
        x, y = fa["phases"].get(label), fb["phases"].get(label)
        out.append(_row(label, f"{x:.2f}" if x is not None else "-", f"{y:.2f}" if y is not None else "-",
                        f"{y / x:.1f}x" if x and y else "-"))
    star = {id(f): "\\*" if f.get("others") else "" for f in (fa, fb)}     # (escaped: after bold)
    out.append(_row("**wall**", f"**{fa['wall_s']:.1f}**{star[id(fa)]}", f"**{fb['wall_s']:.1f}**{star[id(fb)]}",
                    f"{fb['wall_s'] / fa['wall_s']:.1f}x"))
    for label, key in (("CPU: main / server / workers (s)", "cpu_by_kind"),):
        out.append(_row(label, *(" / ".join(f"{f[key].get(k, 0):.1f}" for k in KINDS) for f in (fa, fb)), ""))
    tot = [sum(f["cpu_by_kind"].values()) for f in (fa, fb)]
    out.append(_row("CPU, all processes (sampled, s)", f"{tot[0]:.1f}", f"{tot[1]:.1f}", f"{tot[1] / tot[0]:.1f}x"))
    out.append(_row("CPU from wait4: the flow's process and the children it reaped (not the pool's workers, s)",
                    f"{fa['cpu_tree_s']:.1f}", f"{fb['cpu_tree_s']:.1f}", f"{fb['cpu_tree_s'] / fa['cpu_tree_s']:.1f}x"))
    out.append(_row("peak memory (tree PSS, MiB)", f"{fa.get('tree_mib', 0):.0f}", f"{fb.get('tree_mib', 0):.0f}", ""))
    top = sorted(fb["phases"].items(), key=lambda kv: -kv[1])
    out += ["", f"Where the {int(b):,}-report run's {fb['wall_s']:.0f} s went, largest first: "
            + "; ".join(f"{label} {x:.1f} s ({x / fb['wall_s']:.0%})" for label, x in top[:5])
            + f". Growth from {int(a):,} to {int(b):,} reports, largest first: "
            + "; ".join(f"{label} +{fb['phases'][label] - fa['phases'][label]:.1f} s"
                        for label in sorted((k for k in fb["phases"] if k in fa["phases"]),
                                            key=lambda k: -(fb["phases"][k] - fa["phases"][k]))[:4]) + "."]
    w = (r.get("warm") or {}).get("new")
    if w:
        pred = w["big_s"] + w["slope_s_per_report"] * (int(b) - r["sizes"]["big"])
        out += ["", f"The warm runs' marginal rate ({w['slope_s_per_report'] * 1000:.2f} ms per report above "
                    f"{w['big_s']:.2f} s for {r['sizes']['big']:,}) predicts {pred:.0f} s for {int(b):,} reports; the "
                    f"CLI run took {fb['wall_s']:.0f} s ({fb['wall_s'] / pred:.2f}x)."]
    out += ["", f"The flow's own stage marks at {int(b):,} (seconds from the flow body's start; report: its "
                f"duration): `{json.dumps(fb.get('seconds'))}`; at {int(a):,}: `{json.dumps(fa.get('seconds'))}`.",
            "", f"Timed log lines of the {int(b):,}-report run (seconds from the process start, task, line):", ""]
    out += [f"    {t:7.2f}  {task:18s} {line}" for t, task, line in fb["timeline"]["timed_lines"][-40:]]
    return out


_KEEP = ("wall_s", "others", "status", "seconds", "phases", "cpu", "cpu_by_kind", "cpu_tree_s", "started", "tree_mib",
         "main_hwm_mib", "by_kind_mib")


def slim(r: dict) -> dict:
    """The results without what RESULTS.md need not repeat: the runs' timelines and output (the
    phases stay), the warm runs' raw records (their summaries stay)."""
    def run(x):
        return {k: x[k] for k in _KEEP if k in x} if isinstance(x, dict) and "wall_s" in x else x

    def walk(x):
        if isinstance(x, dict):
            return run(x) if "wall_s" in x else {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk({k: v for k, v in r.items() if k not in ("_work", "warm_raw")})


def _json(r: dict) -> str:
    """One line per part (a long one): the figures, not a page per run."""
    lines = [f" {json.dumps(k)}: {json.dumps(v, default=str)}" for k, v in r.items()]
    return "{\n" + ",\n".join(lines) + "\n}"


HOW = """\
- Goal 1: one process per tree (bench/driver.py); the seeds' bytes read, screened and turned into
  panel rows (flows.panel_rows), best of 7, against cn2an.transform over the same text, best of 3,
  in the same process (a ratio, so a slow spell weighs on both).
- Goal 2: one real Prefect server for the part, one warm driver process per tree calling the flow as
  `python -m flows run` does (without the heartbeat thread); each tree warmed by a small and a big
  run, then {repeat} rounds of (small, big) per tree, the trees' order swapped every round. The
  fastest run counts; the medians and every run are shown. CPU: the driver's process tree (flow,
  its workers) and the server, sampled from /proc every 0.25 s.
- Goal 3: a fresh `python -m flows run` per run: a full run, then {repeat} rounds of (add one
  report, re-run with nothing new) with a temporary Prefect server (the CLI's own) and with a
  long-lived `prefect server start`, the modes alternating. The fastest add-one counts.
- Goal 4: a fresh `python -m flows run` per size and tree (temporary server) into an empty lake; the
  peak of the PSS summed over its whole process tree, sampled every 0.1 s.
- Where the time goes: each CLI run's output lines time-stamped as they arrive (start-up, the
  temporary server, each stage's last "Finished in state" line, the exit), and the flow's own stage
  seconds from the run's manifest.
- Each part first waits (up to --max-wait s) for a quiet machine (1-minute load under 1.5, no other
  test run or Prefect server) and records the load it saw; each timed run first waits (up to
  --gate-wait s) for other test runs, Prefect servers and busy processes of others to end. A `*`
  marks a run during which any was still seen (the run counts, but was disturbed)."""


def render(r: dict) -> str:
    loads = ", ".join(f"{k} {v.get('load1')}" + ("" if v.get("quiet", True) is not False else " (busy)")
                      for k, v in (r.get("load") or {}).items() if isinstance(v, dict))
    parts = [f"# Benchmark results\n\nMachine: {r['machine']}  \nDate: {r.get('started')} - {r.get('finished', '?')}  \n"
             f"Sizes: {r['sizes']}; timed runs repeated {r.get('repeat')}x (fastest counts)  \n"
             f"Trees: {r.get('trees')}  \nLoad average (1 min) when each part began: {loads}\n"
             + ("" if not r.get("measured") else "Each part's figures measured from (--resume runs the parts again): "
                + ", ".join(f"{k} {v}" for k, v in r["measured"].items()) + "\n"),
             "## Goals\n", "\n".join(goals(r))]
    for title, lines in (("## Old code vs new code, one session, runs alternating", old_vs_new(r)),
                         ("## From the command line: add one report, nothing new", cli_table(r)),
                         ("## Where a large run from the command line goes", profile(r))):
        if lines:
            parts += ["", title, "", "\n".join(lines)]
    parts += ["", "## How measured", "", HOW.format(repeat=r.get("repeat"))]
    return "\n".join(parts) + f"\n\n## Every figure\n\n```json\n{_json(slim(r))}\n```\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    a.out.write_text(render(json.loads(a.results.read_text(encoding="utf-8"))), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
