"""Crash tests: the flow killed with SIGKILL at every named crash point of the code
(flows/runtime/faults.py, GWR_CRASH_AT), twice during a recovery, then run again.

Scenario: lake A holds the run over {a.txt, b.txt}; run B reads {a.txt (same bytes), b.txt
(other bytes), c.txt (new), empty.txt (quarantined)} and changes every Delta table (a run that
reads again a source the lake holds overwrites the rows of its sources). For every crash point,
a copy of lake A gets run B with GWR_CRASH_AT=<point>, then

  * right after the kill, before anything else runs, what each reader sees is lake A's version
    or the uninterrupted run B's, never a mix within a table, never a partial file:
      - deltalake over each Delta table (its latest version): old until that table's commit;
      - the pointer's set (DuckDB views over _current.json's versions, `flows sql`): every
        table old until the pointer is written, then every table new;
      - the lake's own DuckDB file (lake.duckdb, opened by DuckDB alone): every table old
        until the report rewrites it, then every table new;
    and every Parquet file, Delta log and JSON record in the lake reads whole, with no
    temporary file left behind;
  * run B again (no crash): every Delta table equals the uninterrupted run's row for row (0
    lost, 0 duplicated), the pointer names the tables' latest versions, both DuckDB readers see
    the same rows, bronze holds the same files, the quarantine the same records, nothing is
    left in _staging, and the last manifest is the published run's.

Two cases kill the re-run too, during its own publish (the recovery), before a clean run. Run C
reads {a.txt, b.txt (both as lake A holds them), c.txt (new)}: a run of new sources only appends
its rows; three cases kill it between its commits.

Every run is a fresh process forked from tests/flow/forkserver.py (Prefect and GX imported once),
against the session's Prefect server; fork servers run the cases two (up to four, one per core)
at a time. The runs do their work in their own process (GWR_WORKERS=0) except the cases marked
`pool`, where the point is reached in a worker process of flows/runtime/workers.py (which then
kills the run too): a pool's workers import Great Expectations anew in every run process, which
would make each run several times slower. The runs' CPU is in the summary the test prints (and
writes to summary.txt in its folder); about 300 s for the 33 cases.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flowkit import REPO, SEEDS
from flows.schemas import DELTA_TABLES, TABLES

pytestmark = pytest.mark.timeout(900)

VOLATILE = {"sources": ("run_id",)}   # columns naming the run that wrote a row: not compared
STAGED = ("reports", "indicator_mentions", "indicator_panel", "indicator_wide", "target_attainment")


@dataclass(frozen=True)
class Crash:
    """Where run B is killed, and what a reader sees right after: each Delta table in
    DELTA_TABLES order (reports, indicator_mentions, indicator_panel, indicator_wide,
    target_attainment, sources), the pointer's set, lake.duckdb (O: lake A's, N: run B's).
    pool: the run has worker processes (the point is reached in one of them); run: B (it
    overwrites the rows of sources the lake holds), or C (new sources only: it appends)."""
    point: str
    tables: str
    pointer: str = "O"
    duckdb: str = "O"
    pool: bool = False
    run: str = "B"


def _publish(table: str) -> list[Crash]:
    """The two points of one table's commit."""
    i = DELTA_TABLES.index(table)
    return [Crash(f"publish:{table}:before", "N" * i + "O" * (6 - i)),
            Crash(f"publish:{table}:committed", "N" * (i + 1) + "O" * (5 - i))]


CASES: list[Crash | tuple[Crash, ...]] = [
    Crash("lock:acquired", "OOOOOO"),                       # the lock taken, nothing written yet
    Crash("bronze:written", "OOOOOO", pool=True),           # fetch: a new bronze file in place
    Crash("flow:fetched", "OOOOOO"),                        # stage boundary: every file landed
    Crash("stage:reports:written", "OOOOOO", pool=True),    # process: a chunk's reports staged
    Crash("stage:indicator_mentions:written", "OOOOOO"),    # ... its mentions
    Crash("stage:indicator_panel:written", "OOOOOO"),       # ... its panel rows
    Crash("quarantine:written", "OOOOOO"),                  # the fetch's quarantine records
    Crash("flow:processed", "OOOOOO"),                      # stage boundary: every chunk staged
    Crash("validation:written", "OOOOOO"),                  # the batch's .json in place, .md not yet
    Crash("stage:indicator_wide:written", "OOOOOO"),        # BI: the rebuilt regions staged
    Crash("stage:target_attainment:written", "OOOOOO"),
    Crash("validation:written#2", "OOOOOO"),                # BI: its validation recorded
    *[c for t in DELTA_TABLES for c in _publish(t)],        # each commit: before / committed
    Crash("publish:pointer:before", "NNNNNN"),              # every table new, the pointer not yet
    Crash("publish:pointer:written", "NNNNNN", "N"),        # the pointer new, lake.duckdb not yet
    Crash("flow:published", "NNNNNN", "N"),                 # the publish done, the report not yet
    Crash("data_docs:written", "NNNNNN", "N"),              # report: the Data Docs in place
    Crash("report:written", "NNNNNN", "N", pool=True),      # report: the page in place
    Crash("duckdb:written", "NNNNNN", "N", "N"),            # report: lake.duckdb in place
    Crash("manifest:written", "NNNNNN", "N", "N"),          # everything done, the process not ended
    # killed, then killed again while the next run recovers (in its own publish)
    (Crash("publish:indicator_panel:committed", "NNNOOO"),
     Crash("publish:indicator_wide:committed", "NNNNOO")),
    (Crash("publish:sources:committed", "NNNNNN"),
     Crash("publish:pointer:before", "NNNNNN")),
    # run C appends: killed with some tables appended to, the source index not yet committed
    Crash("publish:reports:committed", "NOOOOO", run="C"),
    Crash("publish:indicator_panel:committed", "NNNOOO", run="C"),
    Crash("publish:target_attainment:committed", "NNNNNO", run="C"),
]


# ---- the fork servers ----------------------------------------------------------------------
class ForkServer:
    def __init__(self, env: dict, log: Path):
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "flow" / "forkserver.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(log, "wb"), env=env, cwd=REPO, text=True)
        self.lock = threading.Lock()

    def ready(self) -> None:
        line = self.proc.stdout.readline()
        assert line and json.loads(line).get("ready"), "the fork server did not start"

    def run(self, source: Path, lake: Path, log: Path, crash_at: str | None = None,
            pool: bool = False) -> dict:
        env = {"GWR_WORKERS": "2" if pool else "0"}
        if crash_at:
            env["GWR_CRASH_AT"] = crash_at
        req = {"argv": ["run", "--source", str(source), "--lake", str(lake)], "env": env,
               "log": str(log), "cwd": str(lake.parent), "timeout": 300}
        with self.lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        assert line, f"the fork server died (see {log})"
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
    env = dict(os.environ, PREFECT_API_URL=prefect_server, PREFECT_HOME=str(home), PYTHONPATH=str(REPO),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", GX_ANALYTICS_ENABLED="false")
    for name in ("GWR_CRASH_AT", "GWR_PAUSE_AT", "GWR_WORKERS"):
        env.pop(name, None)
    n = max(2, min(4, os.cpu_count() or 2))     # the cases run n at a time
    out = [ForkServer(env, home / f"forkserver{i}.log") for i in range(n)]
    try:
        for s in out:
            s.ready()
        yield out
    finally:
        for s in out:
            s.close()


# ---- what a reader sees -----------------------------------------------------------------------
def canon(table: str, t: pa.Table) -> tuple[int, str]:
    """(rows, digest of the multiset of rows) of a table as any reader gave it: the schema's
    columns and types, without the columns naming the run that wrote a row."""
    sch = TABLES[table][1]
    names = [n for n in sch.names if n not in VOLATILE.get(table, ())]
    t = t.select(names).cast(pa.schema([sch.field(n) for n in names]))
    rows = sorted(repr(tuple(r.values())) for r in t.to_pylist())
    h = hashlib.sha256()
    for r in rows:
        h.update(r.encode("utf-8", "surrogatepass") + b"\0")
    return len(rows), h.hexdigest()[:16]


def delta_view(lake: Path) -> dict:
    """deltalake over each table folder: its latest version (None: no table)."""
    from deltalake import DeltaTable

    out = {}
    for t in DELTA_TABLES:
        path = lake / TABLES[t][0] / t
        out[t] = canon(t, DeltaTable(str(path)).to_pyarrow_table()) \
            if DeltaTable.is_deltatable(str(path)) else None
    return out


def pointer_view(lake: Path) -> dict:
    """DuckDB views over the files of the pointer's set (flows/outputs/sql.py, `flows sql`)."""
    from flows.outputs.sql import connect

    con, _, _ = connect(str(lake))
    try:
        return {t: canon(t, con.sql(f"select * from {t}").to_arrow_table()) for t in DELTA_TABLES}
    finally:
        con.close()


def duckdb_file_view(lake: Path) -> dict:
    """The lake's own DuckDB file, opened by DuckDB alone (its paths bound to the lake folder)."""
    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    try:
        con.execute(f"SET file_search_path = '{lake}'")
        return {t: canon(t, con.sql(f"select * from {t}").to_arrow_table()) for t in DELTA_TABLES}
    finally:
        con.close()


def snapshot(lake: Path) -> dict:
    return {"delta": delta_view(lake), "pointer": pointer_view(lake), "duckdb": duckdb_file_view(lake)}


def damaged(lake: Path) -> list[str]:
    """Files that do not read whole: Parquet, Delta logs (a JSON object a line), JSON records;
    temporary files a write left behind."""
    out = []
    for p in sorted(lake.rglob("*")):
        if not p.is_file() or p.name == ".lock":
            continue
        rel = p.relative_to(lake).as_posix()
        if p.name.endswith(".tmp") or ".tmp." in p.name:
            out.append(f"temporary file left: {rel}")
        try:
            if p.suffix == ".parquet":
                pq.read_metadata(p)
            elif p.suffix == ".json" and p.parent.name == "_delta_log":
                for line in p.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        json.loads(line)
            elif p.suffix == ".json" or p.name == "_last_checkpoint":
                json.loads(p.read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 - any reader error is a damaged file
            out.append(f"{rel} does not read: {type(exc).__name__}: {exc}")
    return out


def quarantined(lake: Path) -> set[tuple]:
    """The quarantine records (what and why; not which run)."""
    files = sorted((lake / "quarantine").glob("*.parquet"))
    if not files:
        return set()
    t = pa.concat_tables([pq.read_table(f) for f in files])
    return {(r["source_name"], r["stage"], r["error"], r["sha256"]) for r in t.to_pylist()}


def bronze(lake: Path) -> set[str]:
    return {p.name for p in (lake / "bronze" / "source_items").glob("*.parquet")}


def manifests(lake: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((lake / "manifests").glob("*.json"))]


def latest_versions(lake: Path) -> dict:
    from deltalake import DeltaTable

    return {t: DeltaTable(str(lake / TABLES[t][0] / t)).version() for t in DELTA_TABLES}


# ---- the scenario -------------------------------------------------------------------------------
SOURCES = {   # folder -> {file: seed}
    "src_a": {"a.txt": "000_c9b0bbd917161d38.txt", "b.txt": "001_9eeac6bb57bd8a70.txt"},
    "src_b": {"a.txt": "000_c9b0bbd917161d38.txt", "b.txt": "003_10be600c11dd0ddc.txt",
              "c.txt": "004_0884824e28a0f3f2.txt", "empty.txt": None},
    "src_c": {"a.txt": "000_c9b0bbd917161d38.txt", "b.txt": "001_9eeac6bb57bd8a70.txt",
              "c.txt": "004_0884824e28a0f3f2.txt"},
}


def make_sources(root: Path) -> dict[str, Path]:
    out = {}
    for folder, files in SOURCES.items():
        out[folder] = root / folder
        out[folder].mkdir()
        for name, seed in files.items():
            if seed:
                shutil.copy(SEEDS / seed, out[folder] / name)
            else:
                (out[folder] / name).write_bytes(b"")
    return out


@pytest.fixture(scope="module")
def scenario(servers, tmp_path_factory):
    """Lake A, and the uninterrupted runs B and C on copies of it: what a reader must see."""
    root = tmp_path_factory.mktemp("crash")
    src = make_sources(root)
    (root / "A").mkdir()
    lake_a = root / "A" / "lake"
    r = servers[0].run(src["src_a"], lake_a, root / "A.log")
    assert r["rc"] == 0, (root / "A.log").read_text()[-3000:]
    old = snapshot(lake_a)
    for reader in ("pointer", "duckdb"):   # every reader of a finished run sees the same rows
        assert old[reader] == old["delta"], reader
    runs = {}
    for name in ("B", "C"):
        (root / name).mkdir()
        lake = root / name / "lake"
        shutil.copytree(lake_a, lake, symlinks=True)
        r = servers[0].run(src[f"src_{name.lower()}"], lake, root / f"{name}.log")
        assert r["rc"] == 0, (root / f"{name}.log").read_text()[-3000:]
        new = snapshot(lake)
        for reader in ("pointer", "duckdb"):
            assert new[reader] == new["delta"], (name, reader)
        for t in DELTA_TABLES:             # the run changes every table: old and new differ
            assert old["delta"][t] and new["delta"][t] and old["delta"][t] != new["delta"][t], (name, t)
        assert not damaged(lake), damaged(lake)
        runs[name] = dict(src=src[f"src_{name.lower()}"], old=old["delta"], new=new["delta"],
                          quarantine=quarantined(lake), bronze=bronze(lake))
    assert {q[:2] for q in runs["B"]["quarantine"]} == {("empty.txt", "fetch")}, runs["B"]["quarantine"]
    assert runs["C"]["quarantine"] == set()
    # C reads c.txt alone: its commits append (B's overwrite the rows of its sources)
    assert runs["C"]["new"]["reports"][0] == old["delta"]["reports"][0] + 1
    return dict(root=root, lake_a=lake_a, runs=runs)


def check_crash(ref: dict, lake: Path, c: Crash) -> list[str]:
    """What a reader sees right after the kill at c.point."""
    problems = []
    try:
        seen = snapshot(lake)
    except Exception as exc:  # noqa: BLE001 - a reader that cannot read the lake is a finding
        return [f"a reader failed: {type(exc).__name__}: {exc}"]
    for t, want in zip(DELTA_TABLES, c.tables):
        problems += _compare(ref, f"deltalake over {t}", seen["delta"][t], t, want)
    for reader, want in (("pointer", c.pointer), ("duckdb", c.duckdb)):
        for t in DELTA_TABLES:
            problems += _compare(ref, f"{reader} reader of {t}", seen[reader][t], t, want)
    problems += damaged(lake)
    return problems


def _compare(ref: dict, what: str, got, table: str, want: str) -> list[str]:
    key = "old" if want == "O" else "new"
    if got == ref[key][table]:
        return []
    other = "new" if key == "old" else "old"
    is_ = f"the {other} one" if got == ref[other][table] else f"neither old nor new: {got}"
    return [f"{what} should see the {key} table, it sees {is_}"]


def check_converged(ref: dict, lake: Path) -> list[str]:
    """After the re-run: the uninterrupted run's tables, everywhere."""
    problems = []
    seen = snapshot(lake)
    for reader in ("delta", "pointer", "duckdb"):
        for t in DELTA_TABLES:
            if seen[reader][t] != ref["new"][t]:
                problems.append(f"after the re-run the {reader} reader's {t} differs from the "
                                f"uninterrupted run's: {seen[reader][t]} != {ref['new'][t]}")
    cur = json.loads((lake / "_current.json").read_text(encoding="utf-8"))
    if cur["versions"] != latest_versions(lake):
        problems.append(f"the pointer names {cur['versions']}, the tables are at {latest_versions(lake)}")
    if quarantined(lake) != ref["quarantine"]:
        problems.append(f"quarantine {sorted(quarantined(lake))} != {sorted(ref['quarantine'])}")
    if bronze(lake) != ref["bronze"]:
        problems.append(f"bronze files {sorted(bronze(lake) ^ ref['bronze'])} differ")
    staged = sorted(p.relative_to(lake).as_posix() for p in (lake / "_staging").rglob("*")) \
        if (lake / "_staging").exists() else []
    if staged:
        problems.append(f"left in _staging: {staged[:5]}")
    ms = manifests(lake)
    if {m["status"] for m in ms} != {"published"}:
        problems.append(f"manifests: {[(m['run_id'], m['status']) for m in ms]}")
    elif ms[-1]["versions"] != cur["versions"] or ms[-1]["run_id"] != cur["run_id"]:
        problems.append(f"the last manifest ({ms[-1]['run_id']}) is not the pointer's run ({cur['run_id']})")
    return problems + damaged(lake)


def run_case(server: ForkServer, sc: dict, i: int, case) -> dict:
    steps = case if isinstance(case, tuple) else (case,)
    folder = sc["root"] / f"case{i:02d}"
    folder.mkdir()
    lake = folder / "lake"
    shutil.copytree(sc["lake_a"], lake, symlinks=True)
    ref = sc["runs"][steps[0].run]
    out = {"points": [f"{c.point} ({c.run})" for c in steps], "runs": 0, "problems": [], "seconds": 0.0,
           "cpu": 0.0}
    t0 = time.monotonic()
    for k, c in enumerate(steps):
        log = folder / f"crash{k}.log"
        r = server.run(ref["src"], lake, log, crash_at=c.point, pool=c.pool)
        out["runs"] += 1
        out["cpu"] += r.get("cpu", 0.0)
        if r.get("timed_out"):
            out["problems"].append(f"the run to crash at {c.point!r} hung (killed after the timeout)")
            return out
        if r["rc"] != -9:
            out["problems"].append(f"crash point {c.point!r} not reached: exit {r['rc']} (log {log})")
            return out
        out["problems"] += [f"after the crash at {c.point}: {p}" for p in check_crash(ref, lake, c)]
    log = folder / "rerun.log"
    r = server.run(ref["src"], lake, log)
    out["runs"] += 1
    out["cpu"] += r.get("cpu", 0.0)
    if r["rc"] != 0:
        out["problems"].append(f"re-run failed: exit {r['rc']}: {log.read_text()[-2000:]}")
        return out
    out["problems"] += check_converged(ref, lake)
    out["seconds"] = round(time.monotonic() - t0, 1)
    return out


# ---- the crash points of the code ---------------------------------------------------------------
def code_points() -> set[str]:
    """Every crash point of flows/ (an f-string's {table} stands for each table it is used with)."""
    found = set()
    for p in (REPO / "flows").rglob("*.py"):
        for m in re.finditer(r'crashpoint\((f?)"([^"]+)"\)', p.read_text(encoding="utf-8")):
            name = m.group(2)
            if not m.group(1):
                found.add(name)
            elif name.startswith("publish:{table}:"):
                found |= {name.replace("{table}", t) for t in DELTA_TABLES}
            elif name.startswith("stage:{table}:"):
                found |= {name.replace("{table}", t) for t in STAGED}
            else:
                raise AssertionError(f"{p}: crash point {name!r}: add it to code_points()")
    return found


def test_every_crash_point_of_the_code_has_a_case():
    points = {c.point.partition("#")[0] for case in CASES for c in (case if isinstance(case, tuple) else (case,))}
    missing = code_points() - points
    assert not missing, f"crash points no case kills at: {sorted(missing)}"
    assert points <= code_points(), sorted(points - code_points())
    assert len(points) >= 21 and sum(isinstance(c, tuple) for c in CASES) >= 1


def test_kill_anywhere_then_rerun_gives_the_uninterrupted_tables(servers, scenario):
    t0 = time.monotonic()
    free = list(servers)
    lock = threading.Lock()

    def work(i_case):
        with lock:
            server = free.pop()
        try:
            return run_case(server, scenario, *i_case)
        finally:
            with lock:
                free.append(server)

    with ThreadPoolExecutor(len(servers)) as pool:
        results = list(pool.map(work, enumerate(CASES)))
    elapsed = time.monotonic() - t0
    runs = sum(r["runs"] for r in results)
    lines = [f"{' + '.join(r['points']):60s} runs={r['runs']} {r['seconds']:5.1f}s cpu {r['cpu']:4.1f}s "
             f"{'ok' if not r['problems'] else 'PROBLEMS'}" for r in results]
    summary = (f"{len(results)} crash cases, {runs} runs (+2 reference runs), {elapsed:.0f} s, "
               f"the runs' CPU {sum(r['cpu'] for r in results):.0f} s")
    print("\n".join(lines + [summary]))
    (scenario["root"] / "summary.txt").write_text("\n".join(lines + [summary]) + "\n")
    problems = [f"{' + '.join(r['points'])}: {p}" for r in results for p in r["problems"]]
    assert not problems, "\n".join(problems[:60])
