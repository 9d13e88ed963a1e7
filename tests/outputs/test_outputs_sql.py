"""`python -m flows sql`: DuckDB views over every table of a lake, as of a consistent set of
versions (--as-of a run, a tag, a time, a version); sql/views.sql for other tools (through
DuckDB's Delta extension); the data dictionary generated from flows/schemas.py. No Prefect: the
lakes are made with the pure core and flows/lake/ (a commit per table, the pointer, a manifest as
a run's finish writes it)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import duckdb
import pyarrow as pa
import pytest

from conftest import REPO
from flows import panel_rows
from flows.core.bi import bi_tables
from flows.core.model import as_dicts
from flows.lake.errors import LakeError
from flows.outputs.sql import PLACEHOLDER, connect, views_sql
from flows.outputs.dictionary import data_dictionary
from flows.schemas import DELTA_TABLES, TABLES, schema, to_table
from helpers import CORPUS, items_of

HAILAR = "呼伦贝尔市海拉尔区"


def publish_set(lake, run_id: str, tables: dict[str, pa.Table]) -> dict:
    """What a run's publish and finish leave: a commit per table (the whole table), the pointer,
    the run's manifest. -> the pointer."""
    for name, t in tables.items():
        lake.commit(name, t, run_id, "cv", whole=lake.tables.exists(name))
    pointer = lake.point(run_id, "cv")
    lake.records.write_manifest(run_id, {"run_id": run_id, "status": "published",
                                         "versions": pointer["versions"], "published_at": pointer["published_at"]})
    return pointer


def gold_of(paths) -> dict[str, pa.Table]:
    panel = to_table("indicator_panel", as_dicts(panel_rows(items_of(paths))))
    return {"indicator_panel": panel, **bi_tables(panel)}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A lake with the panel and BI tables of the hailar reports; the other tables not written."""
    from flows.lake import Lake

    root = tmp_path_factory.mktemp("sql") / "lake"
    publish_set(Lake(root), "20260101T000000Z-0000000a", gold_of(sorted(CORPUS.glob("hailar_*.txt"))))
    return root


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    """A lake published twice: first the hailar reports of 2012-2014, then all five; the first
    set tagged. -> (root, first pointer, second pointer, a time between the two)."""
    from flows.lake import Lake
    from flows.lake.versions import tag

    root = tmp_path_factory.mktemp("asof") / "lake"
    lk = Lake(root)
    files = sorted(CORPUS.glob("hailar_*.txt"))
    first = publish_set(lk, "20260101T000000Z-0000000a", gold_of(files[:3]))
    tag(lk, "first-three")
    between = first["published_at"]
    second = publish_set(lk, "20260102T000000Z-0000000b", gold_of(files))
    return root, first, second, between


def cli(*args, stdin: str | None = None, tmp=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if tmp is not None:
        env["XDG_CACHE_HOME"] = str(tmp)   # the command line's log of details
    return subprocess.run([sys.executable, "-m", "flows", *args], capture_output=True,
                          text=True, input=stdin, cwd=REPO, env=env, timeout=120)


def count(root, as_of: str | None = None, table: str = "indicator_panel", tmp=None) -> int:
    args = ["sql", "--lake", str(root), "-q", f"select count(*) as n from {table}", "--format", "csv"]
    out = cli(*args, *(["--as-of", as_of] if as_of else []), tmp=tmp)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.splitlines()[1])


# ---- generated files --------------------------------------------------------------------------
def test_views_file_is_current():
    """sql/views.sql is generated from flows/schemas.py: `python -m flows.outputs.sql > sql/views.sql`."""
    shipped = (REPO / "sql" / "views.sql").read_text(encoding="utf-8")
    assert shipped == views_sql(), "sql/views.sql is stale: run `python -m flows.outputs.sql > sql/views.sql`"
    assert shipped.count("CREATE OR REPLACE VIEW") == len(TABLES)
    for t in DELTA_TABLES:
        assert f"delta_scan('{PLACEHOLDER}/{TABLES[t][0]}/{t}')" in shipped, t


def test_data_dictionary_file_is_current():
    """docs/data-dictionary.md is generated: `python -m flows.schemas > docs/data-dictionary.md`."""
    shipped = (REPO / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert shipped == data_dictionary() + "\n", \
        "docs/data-dictionary.md is stale: run `python -m flows.schemas > docs/data-dictionary.md`"


def test_data_dictionary_has_every_column_with_unit_and_example():
    text = data_dictionary()
    for table, (layer, sch, _) in TABLES.items():
        section = text.split(f"## {layer}/{table}\n", 1)[1].split("\n## ", 1)[0]
        for f in sch:
            line = next((ln for ln in section.splitlines() if ln.startswith(f"| {f.name} |")), None)
            assert line, (table, f.name)
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            assert cells[1] == str(f.type) and cells[5].startswith("`"), (table, line)
    assert "| gdp_level_yuan | double | yes | yuan |" in text
    assert "| gdp_growth_pct | double | yes | percent |" in text
    assert "| grain_output_level_tonne | double | yes | tonne |" in text
    assert "met_about" in text and "| correction | string | yes |" in text


def _delta_scan(con, root) -> str:
    """DuckDB's Delta extension when it loads; offline, a stand-in with its signature: a table
    macro reading the Parquet files of each table's latest Delta version."""
    try:
        con.execute("LOAD delta")
        return "the delta extension"
    except duckdb.Error:
        pass
    from deltalake import DeltaTable

    files = {}
    for t in DELTA_TABLES:
        uri = f"{root.as_posix()}/{TABLES[t][0]}/{t}"
        if DeltaTable.is_deltatable(uri):
            files[uri] = list(DeltaTable(uri).file_uris())
    con.execute("SET VARIABLE delta_files = MAP {" + ", ".join(f"'{k}': {v!r}" for k, v in files.items()) + "}")
    con.execute("CREATE MACRO delta_scan(p) AS TABLE "
                "SELECT * FROM read_parquet(getvariable('delta_files')[p], hive_partitioning = true)")
    return "a stand-in macro"


def test_the_views_file_runs_in_duckdb(lake):
    """What another tool does with sql/views.sql: substitute the root, run it, query."""
    con = duckdb.connect()
    _delta_scan(con, lake)
    sql = (REPO / "sql" / "views.sql").read_text(encoding="utf-8")
    present = ("indicator_panel", "indicator_wide", "target_attainment")
    for stmt in sql.replace(PLACEHOLDER, lake.as_posix()).split(";"):
        if any(f"VIEW {t} AS" in stmt for t in present):
            con.execute(stmt)
    for t in present:
        assert [c[0] for c in con.execute(f"describe {t}").fetchall()] == schema(t).names, t
    (n,), = con.execute(f"select count(*) from indicator_wide where region = '{HAILAR}'").fetchall()
    assert n > 5
    (g,), = con.execute(f"select gdp_growth_pct from indicator_wide where region = '{HAILAR}' "
                        "and year = 2012 and kind = 'actual'").fetchall()
    assert g == 18.5


# ---- connect: the pointer's set -----------------------------------------------------------------
def test_connect_defines_a_view_per_table(lake):
    con, state, versions = connect(lake)
    assert set(state) == set(TABLES)
    assert state["indicator_panel"] == state["indicator_wide"] == state["target_attainment"] == "files"
    assert state["reports"] == state["source_items"] == state["quarantine"] == state["sources"] == "empty"
    from flows.lake import Lake

    assert versions == Lake(lake).latest_versions()
    assert set(versions) == {"indicator_panel", "indicator_wide", "target_attainment"}
    for table in TABLES:
        cols = [c[0] for c in con.execute(f"describe {table}").fetchall()]
        assert cols == schema(table).names, table
    assert con.execute("select count(*) from reports").fetchall() == [(0,)]
    (g,), = con.execute(f"select gdp_growth_pct from indicator_wide where region = '{HAILAR}' "
                        "and year = 2012 and kind = 'actual'").fetchall()
    assert g == 18.5
    con.close()


def test_connect_refuses_a_missing_lake(tmp_path):
    with pytest.raises(LakeError, match="no lake"):
        connect(tmp_path / "nope")
    with pytest.raises(LakeError, match="local lake"):
        connect("s3://bucket/lake")


def test_connect_reads_the_pointers_set_not_the_latest_commit(two_sets, tmp_path):
    """A commit after the last publish (a run that died before its pointer) is not seen."""
    from flows.lake import Lake

    root = tmp_path / "lake"
    shutil.copytree(two_sets[0], root)
    second = two_sets[2]
    lk = Lake(root)
    lk.commit("indicator_panel", lk.read("indicator_panel").slice(0, 3), "20260103T000000Z-0000000c", "cv",
              whole=True)
    assert lk.latest_versions()["indicator_panel"] == second["versions"]["indicator_panel"] + 1
    con, _, versions = connect(root)
    n = con.execute("select count(*) from indicator_panel").fetchall()[0][0]
    con.close()
    assert versions == second["versions"]
    assert n == lk.read("indicator_panel", second["versions"]).num_rows > 3
    con, _, versions = connect(root, "latest")
    assert con.execute("select count(*) from indicator_panel").fetchall()[0][0] == 3
    con.close()


@pytest.mark.parametrize("spec", ["run", "tag", "version", "time", "current", "latest"])
def test_connect_as_of(two_sets, spec):
    root, first, second, between = two_sets
    want = {"run": first, "tag": first, "version": first, "time": first, "current": second,
            "latest": second}[spec]
    as_of = {"run": first["run_id"], "tag": "first-three", "version": str(first["versions"]["indicator_panel"]),
             "time": between, "current": None, "latest": "latest"}[spec]
    con, _, versions = connect(root, as_of)
    assert versions == want["versions"]
    for t in ("indicator_panel", "indicator_wide", "target_attainment"):
        from flows.lake import Lake

        (n,), = con.execute(f"select count(*) from {t}").fetchall()
        assert n == Lake(root).read(t, want["versions"]).num_rows, t
    con.close()


# ---- the command line -------------------------------------------------------------------------
def test_cli_as_of(two_sets, tmp_path):
    root, first, second, between = two_sets
    old, new = count(root, first["run_id"], tmp=tmp_path), count(root, tmp=tmp_path)
    assert 0 < old < new
    assert count(root, "first-three", tmp=tmp_path) == count(root, between, tmp=tmp_path) == old
    assert count(root, str(second["versions"]["indicator_panel"]), tmp=tmp_path) == new
    bad = cli("sql", "--lake", str(root), "--as-of", "no-such-tag", "-q", "select 1", tmp=tmp_path)
    assert bad.returncode == 1 and "no-such-tag" in bad.stderr and "Traceback" not in bad.stderr
    assert len([ln for ln in bad.stderr.splitlines() if ln.strip()]) == 1, bad.stderr
    early = cli("sql", "--lake", str(root), "--as-of", "2000-01-01T00:00", "-q", "select 1", tmp=tmp_path)
    assert early.returncode == 1 and "nothing was published" in early.stderr


def test_cli_query_formats(lake, tmp_path):
    q = ("select year, status, count(*) as n from target_attainment "
         f"where region = '{HAILAR}' group by all order by all")
    table = cli("sql", "--lake", str(lake), "--query", q, tmp=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "│ year  │" in table.stdout and "missed" in table.stdout and "int32" in table.stdout
    rows = json.loads(cli("sql", "--lake", str(lake), "-q", q, "--format", "json", tmp=tmp_path).stdout)
    assert {r["status"] for r in rows} >= {"met", "missed"} and all(r["n"] > 0 for r in rows)
    csv_out = cli("sql", "--lake", str(lake), "-q", q, "--format", "csv", tmp=tmp_path).stdout.splitlines()
    assert csv_out[0] == "year,status,n" and len(csv_out) == len(rows) + 1
    md = cli("sql", "--lake", str(lake), "-q", q, "--format", "markdown", tmp=tmp_path).stdout.splitlines()
    assert md[0] == "| year | status | n |" and md[1] == "|---|---|---|"


def test_cli_errors(lake, tmp_path):
    bad = cli("sql", "--lake", str(lake), "-q", "select nope from indicator_panel", tmp=tmp_path)
    assert bad.returncode == 1 and "nope" in bad.stderr
    missing = cli("sql", "--lake", str(tmp_path / "none"), "-q", "select 1", tmp=tmp_path)
    assert missing.returncode == 1 and "no lake" in missing.stderr and "Traceback" not in missing.stderr


def test_cli_session_reads_statements_from_stdin(lake, tmp_path):
    """Without --query: a session; statements end with ';' (piped here, typed in a terminal)."""
    out = cli("sql", "--lake", str(lake), "--format", "csv", tmp=tmp_path, stdin=(
        ".tables\n"
        "select count(*) as n\n  from indicator_panel;\n"
        "select nope;\n"
        "select 'done' as x;\n"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "indicator_wide" in lines and "reports (empty)" in lines
    assert lines[lines.index("n") + 1].isdigit() and int(lines[lines.index("n") + 1]) > 20
    assert "nope" in out.stderr and lines[-2:] == ["x", "done"]
