"""Versions for people (flows/lake/versions.py, `flows history | tag | vacuum | sql --as-of`) on a
lake of two real runs: the seeds, then one of them changed. And the lake's DuckDB file."""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from types import SimpleNamespace

import duckdb
import pytest

from conftest import SEEDS
from flows.lake import Lake, LakeError
from flows.lake.versions import history, resolve, tag, vacuum
from flows.schemas import DELTA_TABLES, TABLES
from lake_kit import content, files_under

CHANGED = "000_c9b0bbd917161d38.txt"


@pytest.fixture(scope="module")
def two_runs(prefect_server, seeded_lake, tmp_path_factory):
    """The seeded lake, then a run over the seeds with one GDP target changed: .lake, .first and
    .second (the runs' summaries), .seeded (the seeded lake). Tests copy it before changing it."""
    from flows.flow import gwr_lake
    from flows.settings import Settings

    base = tmp_path_factory.mktemp("versions")
    src = base / "src"
    shutil.copytree(SEEDS, src)
    f = src / CHANGED
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("地区生产总值增长7%", "地区生产总值增长8%"), encoding="utf-8")
    lake = base / "lake"
    shutil.copytree(seeded_lake[0], lake)
    second = gwr_lake(settings=Settings(source=str(src), lake=str(lake)))
    assert second["status"] == "published" and second["work"]["processed"] == 1
    return SimpleNamespace(lake=lake, first=seeded_lake[1], second=second, seeded=seeded_lake[0])


@pytest.fixture
def copy(two_runs, tmp_path):
    dst = tmp_path / "lake"
    shutil.copytree(two_runs.lake, dst)
    return dst


def gdp_target(lake: Lake, versions) -> list[float]:
    rows = lake.read("indicator_panel", versions, where=("source_name", [CHANGED])).to_pylist()
    return [r["value"] for r in rows if r["indicator"] == "gdp" and r["kind"] == "target"]


# ---- history ------------------------------------------------------------------------------------
def test_history_lists_every_version_with_its_run_time_and_rows(two_runs):
    root, first, second = two_runs.lake, two_runs.first, two_runs.second
    lake = Lake(root)
    rows = history(lake)
    by_table = {t: [r for r in rows if r["table"] == t] for t in DELTA_TABLES}
    for t in DELTA_TABLES:
        versions = [r["version"] for r in by_table[t]]
        assert versions == sorted(versions, reverse=True) and versions[-1] == 0, t   # newest first
        made, wrote = by_table[t][-1], by_table[t][-2]        # the table made, then its first rows
        assert (made["operation"], made["rows"], made["run_id"]) == ("CREATE TABLE", 0, first["run_id"]), t
        assert (wrote["operation"], wrote["version"], wrote["run_id"]) == ("WRITE", first["versions"][t],
                                                                          first["run_id"]), t
        assert wrote["rows_added"] == wrote["rows"] == first["published"][t], t
        assert wrote["rows_removed"] == 0, t
        assert wrote["code_version"] == made["code_version"] == first["code_version"]
    for t in second["committed"]:        # the second run made one version of each table it changed
        top = by_table[t][0]
        assert (top["version"], top["run_id"]) == (second["versions"][t], second["run_id"]), t
    assert second["versions"]["indicator_panel"] == 2
    for r in rows:
        when = datetime.fromisoformat(r["time"])
        assert when.tzinfo is not None and abs(when - datetime.fromisoformat(first["started_at"])) < timedelta(hours=1)
    # the second run's commits replaced the changed source's rows: removed and added
    for t in second["committed"]:
        top, below = by_table[t][:2]
        assert top["rows"] == second["published"][t] == below["rows"] + top["rows_added"] - top["rows_removed"], t
        assert top["rows_removed"] > 0, t
    top = by_table["indicator_panel"][0]
    assert top["rows_added"] == top["rows_removed"]          # one value changed: as many rows as before


def test_the_history_command(two_runs, capsys):
    from flows.cli import main

    root, first, second = two_runs.lake, two_runs.first, two_runs.second
    assert main(["history", "--lake", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["table", "version", "time", "operation", "run_id", "rows", "rows_added", "rows_removed",
                              "tags"]
    assert len(out) == 1 + len(history(Lake(root)))
    assert sum(first["run_id"] in line for line in out) == 2 * len(DELTA_TABLES)     # made, then written
    assert sum(second["run_id"] in line for line in out) == len(second["committed"])


def test_history_of_an_empty_lake(tmp_path, capsys):
    from flows.cli import main

    assert history(Lake(tmp_path / "none")) == []
    assert main(["history", "--lake", str(tmp_path / "none")]) == 0
    assert "no table" in capsys.readouterr().out


# ---- resolve --------------------------------------------------------------------------------------
def test_resolve_current_latest_a_run_a_time_and_a_version(two_runs):
    root, first, second = two_runs.lake, two_runs.first, two_runs.second
    lake = Lake(root)
    assert resolve(lake, None) == resolve(lake, "current") == second["versions"] == lake.records.current()["versions"]
    assert resolve(lake, "latest") == lake.latest_versions() == second["versions"]
    assert resolve(lake, first["run_id"]) == first["versions"]
    assert resolve(lake, second["run_id"]) == second["versions"]
    assert resolve(lake, "1") == first["versions"] and resolve(lake, "2") == second["versions"]
    with pytest.raises(LakeError, match="no publish made version 0"):     # the empty table, made
        resolve(lake, "0")
    assert gdp_target(lake, resolve(lake, first["run_id"])) == [7.0]
    assert gdp_target(lake, resolve(lake, None)) == [8.0]
    # the lake as of the first run is the seeded lake, table by table
    assert content(lake, first["versions"]) == content(Lake(two_runs.seeded))


def test_resolve_an_iso_time(two_runs):
    root, first, second = two_runs.lake, two_runs.first, two_runs.second
    lake = Lake(root)
    m1, m2 = (lake.records.read_json("manifests", f"{s['run_id']}.json") for s in (first, second))
    t1, t2 = (datetime.fromisoformat(m["published_at"]) for m in (m1, m2))
    assert t1 < t2
    assert resolve(lake, t1.isoformat()) == first["versions"]
    assert resolve(lake, (t1 + (t2 - t1) / 2).isoformat()) == first["versions"]
    assert resolve(lake, t2.isoformat()) == second["versions"]
    assert resolve(lake, (t2 + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")) == second["versions"]
    with pytest.raises(LakeError, match="nothing was published at or before"):
        resolve(lake, (t1 - timedelta(seconds=1)).isoformat())


def test_resolve_refuses_what_names_nothing(two_runs):
    lake = Lake(two_runs.lake)
    with pytest.raises(LakeError, match="no published run 20200101T000000Z-00000000"):
        resolve(lake, "20200101T000000Z-00000000")
    with pytest.raises(LakeError, match="no publish made version 7 of indicator_panel"):
        resolve(lake, "7")
    with pytest.raises(LakeError, match="is not a tag, a run id, a version number or an ISO time"):
        resolve(lake, "yesterday")


def test_sql_as_of(two_runs, capsys):
    from flows.cli import main

    root, first = two_runs.lake, two_runs.first
    q = f"select value from indicator_panel where source_name = '{CHANGED}' and indicator = 'gdp' and kind = 'target'"
    for as_of, want in ((None, "8.0"), (first["run_id"], "7.0"), ("1", "7.0")):
        args = ["sql", "--lake", str(root), "--format", "csv", "-q", q] + (["--as-of", as_of] if as_of else [])
        assert main(args) == 0
        assert capsys.readouterr().out.split() == ["value", want]
    assert main(["sql", "--lake", str(root), "--as-of", "no-such-tag", "-q", "select 1"]) == 1
    assert "no-such-tag" in capsys.readouterr().err


# ---- tags ---------------------------------------------------------------------------------------
def test_a_tag_names_a_set_and_is_never_reused_for_another(copy, two_runs):
    first, second = two_runs.first, two_runs.second
    lake = Lake(copy)
    made = tag(lake, "paper-2026", note="the spring paper")
    assert made["versions"] == second["versions"] and made["run_id"] == second["run_id"]
    assert tag(lake, "paper-2026") == made                       # the same set again: fine
    with pytest.raises(LakeError, match="already names another set"):
        tag(lake, "paper-2026", first["run_id"])
    old = tag(lake, "before-fix", first["run_id"])
    assert old["versions"] == first["versions"] and old["run_id"] is None
    assert resolve(lake, "paper-2026") == second["versions"] and resolve(lake, "before-fix") == first["versions"]
    assert gdp_target(lake, resolve(lake, "before-fix")) == [7.0]
    assert set(lake.records.tags()) == {"paper-2026", "before-fix"}
    tagged = {(r["table"], r["version"]): r["tags"] for r in history(lake)}
    for t in DELTA_TABLES:
        both = first["versions"][t] == second["versions"][t]
        assert tagged[(t, second["versions"][t])] == ("before-fix,paper-2026" if both else "paper-2026"), t
        assert tagged[(t, first["versions"][t])] == ("before-fix,paper-2026" if both else "before-fix"), t


@pytest.mark.parametrize("name", ["20260101T000000Z-0123abcd", "12", "current", "latest", "two words",
                                  "-dash", "x" * 65, "a/b"])
def test_names_that_cannot_be_tags(copy, name):
    with pytest.raises(LakeError):
        tag(Lake(copy), name)
    assert Lake(copy).records.tags() == {}


def test_the_tag_command(copy, two_runs, capsys):
    from flows.cli import main

    first = two_runs.first
    assert main(["tag", "v1", "--lake", str(copy), "--as-of", first["run_id"], "--note", "first"]) == 0
    assert "tag v1: " in capsys.readouterr().out
    assert main(["tag", "v1", "--lake", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "already names another set" in err and err.count("\n") <= 2
    assert Lake(copy).records.tags()["v1"]["note"] == "first"


# ---- vacuum -------------------------------------------------------------------------------------
def _parquet(root) -> set[str]:
    return {os.path.relpath(f, root) for f in files_under(root) if f.endswith(".parquet") and "_delta_log" not in f
            and ("/silver/" in f or "/gold/" in f)}


def test_vacuum_keeps_a_tagged_set_and_the_current_one(copy, two_runs):
    first, second = two_runs.first, two_runs.second
    lake = Lake(copy)
    before = content(lake, first["versions"])
    now = content(lake)
    tag(lake, "first", first["run_id"])
    files = _parquet(copy)
    assert vacuum(lake, retention_days=0, dry_run=True) == {t: [] for t in DELTA_TABLES}
    removed = vacuum(lake, retention_days=0)
    assert removed == {t: [] for t in DELTA_TABLES}              # every old file is a tagged version's
    assert _parquet(copy) == files
    assert content(lake, resolve(lake, "first")) == before
    assert content(lake) == now and lake.pointer_is_current()


def test_vacuum_after_a_third_run_removes_the_middle_set_only(copy, two_runs, prefect_server):
    """first (tagged), second, third (current: the seeds as they were, 7% again): vacuum removes
    the files only the second set had; the tagged set and the current one read back whole."""
    from flows.flow import gwr_lake
    from flows.settings import Settings

    first, second = two_runs.first, two_runs.second
    lake = Lake(copy)
    tag(lake, "first", first["run_id"])
    third = gwr_lake(settings=Settings(source=str(SEEDS), lake=str(copy)))
    assert third["status"] == "published" and third["work"]["processed"] == 1
    want = {"first": content(lake, first["versions"]), "current": content(lake)}
    assert want["first"] == want["current"]              # the same rows, in other files
    def files(run):
        return {os.path.relpath(f, copy) for t in DELTA_TABLES for f in lake.tables.file_uris(t, run["versions"][t])}

    only_second = files(second) - files(first) - files(third)
    assert only_second
    removed = vacuum(lake, retention_days=0)
    assert {os.path.join(TABLES[t][0], t, f) for t, fs in removed.items() for f in fs} == only_second
    assert not any((copy / f).exists() for f in only_second)
    assert content(lake, resolve(lake, "first")) == want["first"]
    assert content(lake, resolve(lake, None)) == want["current"]
    assert gdp_target(lake, resolve(lake, "first")) == gdp_target(lake, None) == [7.0]
    with pytest.raises((OSError, FileNotFoundError)):
        content(lake, second["versions"])                # its own files are gone, as asked
    assert lake.pointer_is_current()


def test_vacuum_removes_old_files_never_the_current_sets(copy, two_runs):
    first, second = two_runs.first, two_runs.second
    lake = Lake(copy)
    now = content(lake)
    files = _parquet(copy)
    live = {os.path.relpath(f, copy) for t in DELTA_TABLES for f in lake.tables.file_uris(t)}
    assert vacuum(lake, retention_days=30) == {t: [] for t in DELTA_TABLES}   # all younger than 30 days
    would = vacuum(lake, retention_days=0, dry_run=True)
    assert _parquet(copy) == files
    assert sum(map(len, would.values())) > 0
    assert would["indicator_panel"] and would["sources"]           # rows of both were replaced
    removed = vacuum(lake, retention_days=0)
    assert {t: sorted(v) for t, v in removed.items()} == {t: sorted(v) for t, v in would.items()}
    assert _parquet(copy) == live                                  # what is left: the current set's files
    assert content(lake) == now == content(lake, resolve(lake, None))
    assert lake.pointer_is_current()                                # vacuum's own commits change no data
    with pytest.raises((OSError, FileNotFoundError)):
        content(lake, first["versions"])                            # its files are gone, as asked


def test_vacuum_removes_a_file_no_version_names(copy, two_runs):
    """A write killed before its commit leaves a data file no version names: readers never see
    it; vacuum removes it once it is older than the retention, and nothing else."""
    lake = Lake(copy)
    now = content(lake)
    folder = copy / "silver" / "reports"
    orphan = folder / "part-killed-0.parquet"
    shutil.copy(next(folder.glob("*.parquet")), orphan)
    assert content(lake) == now                                      # not in any version
    old = (datetime.now() - timedelta(days=3)).timestamp()
    os.utime(orphan, (old, old))
    vacuum(lake, retention_days=30)
    assert orphan.exists()                                           # younger than 30 days
    vacuum(lake, retention_days=1)
    assert not orphan.exists() and content(lake) == now


def test_the_vacuum_command(copy, capsys):
    from flows.cli import main

    assert main(["vacuum", "--lake", str(copy), "--retention-days", "0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "indicator_panel: would remove" in out
    before = _parquet(copy)
    assert main(["vacuum", "--lake", str(copy), "--retention-days", "0"]) == 0
    assert "indicator_panel: removed" in capsys.readouterr().out
    assert _parquet(copy) < before


# ---- the lake's DuckDB file -------------------------------------------------------------------------
def _views(db) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in TABLES}
    finally:
        con.close()


def test_the_duckdb_file_works_from_a_copy_of_the_lake_folder(two_runs, tmp_path, monkeypatch):
    root = two_runs.lake
    lake = Lake(root)
    want = {t: lake.read(t, resolve(lake, None)).num_rows for t in TABLES}
    shutil.copytree(root, tmp_path / "a" / "lake")
    moved = tmp_path / "b" / "lake"
    shutil.copytree(tmp_path / "a" / "lake", moved)
    shutil.rmtree(tmp_path / "a")                        # nothing left where the file was written
    monkeypatch.chdir(moved)
    assert _views("lake.duckdb") == want
    con = duckdb.connect("lake.duckdb", read_only=True)
    got = con.execute(f"select value from indicator_panel where source_name = '{CHANGED}' "
                      "and indicator = 'gdp' and kind = 'target'").fetchall()
    sqls = " ".join(r[0] for r in con.execute("select sql from duckdb_views() where not internal").fetchall())
    con.close()
    assert got == [(8.0,)]
    assert str(root) not in sqls and "_delta_log" not in sqls


def test_the_duckdb_file_never_reads_removed_files_or_checkpoints(copy, monkeypatch):
    from deltalake import DeltaTable

    from flows.outputs.sql import write_duckdb

    lake = Lake(copy)
    for t in DELTA_TABLES:                                   # a checkpoint beside each table's log
        DeltaTable(lake.tables.uri(t)).create_checkpoint()
    assert any(n.endswith(".checkpoint.parquet") for n in os.listdir(copy / "gold" / "indicator_panel" / "_delta_log"))
    write_duckdb(lake)
    want = {t: lake.read(t, resolve(lake, None)).num_rows for t in TABLES}
    on_disk = duckdb.connect().execute(
        f"select count(*) from read_parquet('{copy}/gold/indicator_panel/**/*.parquet')").fetchone()[0]
    assert on_disk > want["indicator_panel"]          # the replaced rows' files are still there
    monkeypatch.chdir(copy)
    assert _views("lake.duckdb") == want
