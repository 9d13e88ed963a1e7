"""Crash tests: the flow killed with SIGKILL at 21 named points (and once more during the
recovery), then run again.

Scenario: lake A holds the run over {a.txt, b.txt}; run B reads {a.txt (same), b.txt (other
bytes), c.txt (new), empty.txt (quarantined)}. For every crash point, a copy of lake A gets run
B with GWR_CRASH_AT=<point> (flows/faults.py kills the process there), then

  * before any re-run, a reader (DuckDB glob over **/*.parquet and pyarrow.dataset) sees, for
    silver and for gold (mentions, panel and the BI tables, published TOGETHER), either lake A's
    tables or the uninterrupted run B's, never a mix, a partial file or a staged file;
  * run B again (no crash): recovery finishes or undoes the dead run, and every table equals the
    uninterrupted run's, row for row (0 lost, 0 duplicated), with one version per table folder,
    the one _current.json names, nothing in _staging, no journal left.

Every run is a fresh process forked from tests/forkserver.py (Prefect and GX imported once, so a
run costs seconds less), against the session's one Prefect server; two fork servers run the
cases two at a time. Cost control: for the crash points from the validation on, a case's lake
starts with the bronze files of the uninterrupted run (append-only, keyed by content), so its
runs do not read and decode the same bytes again; the crash points before the validation run on
lake A as it is (they check what a killed fetch leaves behind in bronze). Those runs redo the
core, which costs well under a second for these four files.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from conftest import REPO, SEEDS

pytestmark = pytest.mark.timeout(600)

# table -> folder under the lake; one publish moves them all (one layer exchange per layer)
TABLE_DIRS = {
    "reports": "silver/reports",
    "indicator_mentions": "gold/indicator_mentions",
    "indicator_panel": "gold/indicator_panel",
    "indicator_wide": "gold/indicator_wide",
    "target_attainment": "gold/target_attainment",
}
GOLD_CORE = ("indicator_mentions", "indicator_panel")   # changed by run B, must move together

# where run B is killed, and what a reader must see right after: silver, gold's mentions and
# panel, the BI tables (O: lake A's, N: the uninterrupted run B's). A tuple kills the run at its
# first point, then kills the next run (during its recovery) at the second, before a clean run.
CRASH_POINTS = [
    ("lock:acquired", "OOO"),                     # start: the lock taken, nothing written yet
    ("bronze:tmp-written", "OOO"),                # fetch: a bronze file written, not linked in
    ("bronze:written#2", "OOO"),                  # fetch: one new bronze file in place
    ("flow:fetched", "OOO"),                      # stage boundary: fetch done
    ("stage:reports:written", "OOO"),             # process: a chunk's reports segment staged
    ("stage:indicator_mentions:written", "OOO"),  # process: its mentions segment staged
    ("stage:indicator_panel:written", "OOO"),     # process: its panel segment staged
    ("flow:processed", "OOO"),                    # stage boundary: every chunk staged
    ("quarantine:written", "OOO"),                # a quarantine file in place
    ("validation:written", "OOO"),                # validation .json in place, .md not yet
    ("journal:tmp-written", "OOO"),               # journal written, not renamed: not committed
    ("journal:written", "OOO"),                   # COMMITTED, nothing swapped yet
    ("publish:silver:exchanged", "NOO"),          # silver swapped, old silver not yet in _trash
    ("publish:silver:done", "NOO"),               # between the two layers
    ("publish:gold:exchanged", "NNN"),            # gold (BI tables too) swapped, old not in _trash
    ("publish:gold:done", "NNN"),                 # both layers new, pointer not written
    ("pointer:written", "NNN"),                   # pointer written, journal not removed
    ("publish:journal-removed", "NNN"),           # publish done, staging not removed
    ("flow:published", "NNN"),                    # the publish done, the report not yet
    ("manifest:tmp-written", "NNN"),              # the run's manifest being written
    ("manifest:written", "NNN"),                  # everything done, the process not yet ended
    ((("publish:silver:done", "NOO"), ("publish:gold:exchanged", "NNN"))),  # killed in recovery
]
WARM_FROM = [c[0] for c in CRASH_POINTS].index("validation:written")   # see the module's docstring


# ---- the fork servers ----------------------------------------------------------------------
class ForkServer:
    def __init__(self, env: dict, log: Path):
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "forkserver.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(log, "wb"), env=env, cwd=REPO, text=True)
        self.lock = threading.Lock()
        self.runs = 0

    def ready(self) -> None:
        line = self.proc.stdout.readline()
        assert line and json.loads(line).get("ready"), "the fork server did not start"

    def run(self, source: Path, lake: Path, log: Path, crash_at: str | None = None) -> dict:
        env = {"GWR_CRASH_AT": crash_at} if crash_at else {}
        req = {"argv": ["run", "--source", str(source), "--lake", str(lake)], "env": env,
               "log": str(log), "cwd": str(lake.parent), "timeout": 240}
        with self.lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        assert line, f"the fork server died (see {log})"
        self.runs += 1
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def servers(prefect_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect_home")
    env = dict(os.environ, PREFECT_API_URL=prefect_server, PREFECT_HOME=str(home),
               PYTHONPATH=str(REPO),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               GX_ANALYTICS_ENABLED="false")
    env.pop("GWR_CRASH_AT", None)
    out = [ForkServer(env, home / f"forkserver{i}.log") for i in range(2)]
    try:
        for s in out:
            s.ready()
        yield out
    finally:
        for s in out:
            s.close()


# ---- what a reader sees -----------------------------------------------------------------------
def duckdb_view(lake: Path, table: str):
    """(rows, digest of the row multiset) through a DuckDB glob, or None when absent."""
    d = lake / TABLE_DIRS[table]
    if not any(d.rglob("*.parquet")) if d.is_dir() else True:
        return None
    rel = f"read_parquet('{d}/**/*.parquet', hive_partitioning=true, union_by_name=true)"
    rows = duckdb.connect().execute(f"select cast(t as varchar) from {rel} t").fetchall()
    return len(rows), _multiset_digest(r[0] for r in rows)


def arrow_view(lake: Path, table: str):
    d = lake / TABLE_DIRS[table]
    if not d.is_dir() or not any(d.rglob("*.parquet")):
        return None
    t = ds.dataset(d, format="parquet", partitioning="hive").to_table()
    cols = sorted(t.column_names)
    rows = t.select(cols).to_pylist()
    return len(rows), _multiset_digest(repr(sorted(r.items())) for r in rows)


def _multiset_digest(items) -> str:
    h = hashlib.sha256()
    for x in sorted(items):
        h.update(x.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:16]


def table_files(lake: Path, table: str) -> set[str]:
    d = lake / TABLE_DIRS[table]
    return {p.relative_to(lake).as_posix() for p in d.rglob("*.parquet")} if d.is_dir() else set()


def live_files(lake: Path, table: str) -> set[str] | None:
    """The files the layer's _version.json says make the table (its segments), None without."""
    layer, name = TABLE_DIRS[table].split("/")
    try:
        segs = json.loads((lake / layer / "_version.json").read_text())["segments"][name]
    except (OSError, ValueError, KeyError):
        return None
    return {f"{layer}/{name}/{f}" for info in segs.values() for f in info["files"]}


def snapshot(lake: Path) -> dict:
    """What each reader sees of each table."""
    return {t: {"duckdb": duckdb_view(lake, t), "arrow": arrow_view(lake, t)} for t in TABLE_DIRS}


def stray_files(lake: Path) -> list[str]:
    """Files under a table folder that are not Parquet of the live version (the files of its
    segments, as its layer's _version.json lists them)."""
    out = []
    for t in TABLE_DIRS:
        d = lake / TABLE_DIRS[t]
        files = [p for p in d.rglob("*") if p.is_file()] if d.is_dir() else []
        live = live_files(lake, t)
        if live is not None and table_files(lake, t) != live:
            out.append(f"{t}: files not of its segments {sorted(table_files(lake, t) ^ live)[:4]}")
        out += [f"{t}: {p.relative_to(d)}" for p in files if p.suffix != ".parquet"]
    return out


# ---- the scenario -------------------------------------------------------------------------------
def make_sources(root: Path) -> tuple[Path, Path]:
    a, b = root / "src_a", root / "src_b"
    a.mkdir()
    b.mkdir()
    shutil.copy(SEEDS / "000_c9b0bbd917161d38.txt", a / "a.txt")
    shutil.copy(SEEDS / "001_9eeac6bb57bd8a70.txt", a / "b.txt")
    shutil.copy(SEEDS / "000_c9b0bbd917161d38.txt", b / "a.txt")
    shutil.copy(SEEDS / "003_10be600c11dd0ddc.txt", b / "b.txt")
    shutil.copy(SEEDS / "004_0884824e28a0f3f2.txt", b / "c.txt")
    (b / "empty.txt").write_bytes(b"")
    return a, b


@pytest.fixture(scope="module")
def scenario(servers, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    src_a, src_b = make_sources(root)
    (root / "A").mkdir()
    lake_a = root / "A" / "lake"
    r = servers[0].run(src_a, lake_a, root / "A.log")
    assert r["rc"] == 0, (root / "A.log").read_text()[-3000:]
    (root / "B").mkdir()
    lake_b = root / "B" / "lake"
    shutil.copytree(lake_a, lake_b, symlinks=True)
    r = servers[0].run(src_b, lake_b, root / "B.log")
    assert r["rc"] == 0, (root / "B.log").read_text()[-3000:]
    old, new = snapshot(lake_a), snapshot(lake_b)
    for t in ("reports",) + GOLD_CORE:  # the run changes these tables: old and new differ
        assert old[t]["duckdb"] and new[t]["duckdb"] and old[t] != new[t], t
        assert new[t]["duckdb"][0] == new[t]["arrow"][0]
    return dict(root=root, src_b=src_b, lake_a=lake_a, lake_b=lake_b, old=old, new=new)


def _group(table: str) -> int:
    return 0 if table == "reports" else 1 if table in GOLD_CORE else 2


def run_case(server: ForkServer, sc: dict, i: int, case_def) -> dict:
    steps = (case_def,) if isinstance(case_def[0], str) else case_def
    points = tuple(p for p, _ in steps)
    case = sc["root"] / f"case{i:02d}"
    case.mkdir()
    lake = case / "lake"
    shutil.copytree(sc["lake_a"], lake, symlinks=True)
    if i >= WARM_FROM:
        shutil.copytree(sc["lake_b"] / "bronze", lake / "bronze", dirs_exist_ok=True)
    out = {"points": points, "runs": 0, "rows": 0, "problems": [], "seconds": 0.0}
    t0 = time.monotonic()
    for k, (point, expect) in enumerate(steps):
        log = case / f"crash{k}.log"
        r = server.run(sc["src_b"], lake, log, crash_at=point)
        out["runs"] += 1
        if r.get("timed_out"):
            out["problems"].append(f"the run to crash at {point!r} hung (killed after the timeout)")
            return out
        if r["rc"] != -9:
            out["problems"].append(f"crash point {point!r} not reached: exit {r['rc']} "
                                   f"(log {log})")
            return out
        seen = snapshot(lake)  # a reader, after the crash, before anything else runs
        for t in TABLE_DIRS:
            want = "old" if expect[_group(t)] == "O" else "new"
            if seen[t] != sc[want][t]:
                other = "new" if want == "old" else "old"
                what = f"the {other} one" if seen[t] == sc[other][t] else "neither old nor new"
                out["problems"].append(f"after the crash at {point}: {t} should be the {want} "
                                       f"table, it is {what}: {seen[t]}")
        core = [seen[t] for t in GOLD_CORE]
        if core not in ([sc["old"][t] for t in GOLD_CORE], [sc["new"][t] for t in GOLD_CORE]):
            out["problems"].append(f"after the crash at {point}: gold mixes two versions")
        out["problems"] += [f"after the crash at {point}: {s}" for s in stray_files(lake)]
    log = case / "rerun.log"
    r = server.run(sc["src_b"], lake, log)
    out["runs"] += 1
    if r["rc"] != 0:
        out["problems"].append(f"re-run failed: exit {r['rc']}: {log.read_text()[-2000:]}")
        return out
    final = snapshot(lake)
    for t in TABLE_DIRS:
        if final[t] != sc["new"][t]:
            out["problems"].append(f"after the re-run {t} differs from the uninterrupted run's: "
                                   f"{final[t]} != {sc['new'][t]}")
        out["rows"] += (final[t]["duckdb"] or (0,))[0]
    cur = json.loads((lake / "_current.json").read_text(encoding="utf-8"))
    for t in TABLE_DIRS:
        if set(cur["tables"][t]["files"]) != table_files(lake, t):
            out["problems"].append(f"{t}: _current.json names {sorted(cur['tables'][t]['files'])[:3]}, "
                                   f"the folder holds {sorted(table_files(lake, t))[:3]}")
    out["problems"] += stray_files(lake)
    staged = [str(p.relative_to(lake)) for p in (lake / "_staging").rglob("*")] \
        if (lake / "_staging").exists() else []
    if staged:
        out["problems"].append(f"left in _staging: {staged[:5]}")
    if (lake / "_journal.json").exists():
        out["problems"].append("_journal.json left behind")
    statuses = collections.Counter(json.loads(p.read_text())["status"]
                                   for p in (lake / "manifests").glob("*.json"))
    if not set(statuses) <= {"published", "crashed"} or statuses["published"] < 2:
        out["problems"].append(f"manifests: {dict(statuses)}")
    out["seconds"] = round(time.monotonic() - t0, 1)
    out["manifests"] = dict(statuses)
    return out


def test_kill_anywhere_then_rerun_gives_the_uninterrupted_gold(servers, scenario):
    assert len({p for c in CRASH_POINTS for p, _ in ((c,) if isinstance(c[0], str) else c)}) >= 20
    t0 = time.monotonic()
    free = list(servers)
    lock = threading.Lock()

    def work(i_points):
        with lock:
            server = free.pop()
        try:
            return run_case(server, scenario, *i_points)
        finally:
            with lock:
                free.append(server)

    with ThreadPoolExecutor(len(servers)) as pool:
        results = list(pool.map(work, enumerate(CRASH_POINTS)))
    elapsed = time.monotonic() - t0
    rows = sum(r["rows"] for r in results)
    runs = sum(r["runs"] for r in results)
    lines = [f"{'+'.join(r['points']):60s} runs={r['runs']} rows={r['rows']} "
             f"{r['seconds']:5.1f}s manifests={r.get('manifests')}" for r in results]
    summary = (f"{len(results)} crash cases, {runs} runs (+2 reference runs), {rows} rows compared "
               f"with the uninterrupted run, {elapsed:.0f} s")
    print("\n".join(lines + [summary]))
    (scenario["root"] / "summary.txt").write_text("\n".join(lines + [summary]) + "\n")
    problems = [f"{'+'.join(r['points'])}: {p}" for r in results for p in r["problems"]]
    assert not problems, "\n".join(problems[:40])
