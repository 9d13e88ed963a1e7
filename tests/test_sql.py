"""`python -m flows sql`: DuckDB views over every table of a lake; sql/views.sql for other tools;
the data dictionary generated from flows/schemas.py. No Prefect: the lake is made with the pure
core and flows/lake.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from conftest import REPO
from flows import panel_rows
from flows.bi import bi_tables
from flows.core.model import as_dicts
from flows.schemas import TABLES, data_dictionary, schema, to_table
from flows.sql import PLACEHOLDER, connect, views_sql
from helpers import CORPUS, items_of


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A lake with the panel and BI tables of the hailar reports; other tables not written."""
    from flows.lake import Lake

    root = tmp_path_factory.mktemp("sql") / "lake"
    panel = to_table("indicator_panel", as_dicts(panel_rows(items_of(sorted(CORPUS.glob("hailar_*.txt"))))))
    lk = Lake(root)
    for name, t in {"indicator_panel": panel, **bi_tables(panel)}.items():
        lk.stage("t", name, t)
    lk.publish("t")
    return root


def cli(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "flows", "sql", *args], capture_output=True,
                          text=True, input=stdin, cwd=REPO, env=env, timeout=120)


def test_views_file_is_current():
    """sql/views.sql is generated from flows/schemas.py: `python -m flows.sql > sql/views.sql`."""
    shipped = (REPO / "sql" / "views.sql").read_text(encoding="utf-8")
    assert shipped == views_sql(), "sql/views.sql is stale: run `python -m flows.sql > sql/views.sql`"
    assert shipped.count("CREATE OR REPLACE VIEW") == len(TABLES)


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


def test_the_views_file_runs_in_duckdb(lake):
    """What another tool does with sql/views.sql: substitute the root, run it, query."""
    con = duckdb.connect()
    sql = (REPO / "sql" / "views.sql").read_text(encoding="utf-8")
    present = [t for t in TABLES if t in ("indicator_panel", "indicator_wide", "target_attainment")]
    for stmt in sql.replace(PLACEHOLDER, lake.as_posix()).split(";"):
        if any(f"VIEW {t} AS" in stmt for t in present):
            con.execute(stmt)
    (n,), = con.execute("select count(*) from indicator_wide where region = '呼伦贝尔市海拉尔区'").fetchall()
    assert n > 5


def test_connect_defines_a_view_per_table(lake):
    con, state = connect(lake)
    assert set(state) == set(TABLES)
    assert state["indicator_panel"] == state["indicator_wide"] == state["target_attainment"] == "files"
    assert state["reports"] == state["source_items"] == state["quarantine"] == "empty"
    for table in TABLES:
        cols = [c[0] for c in con.execute(f"describe {table}").fetchall()]
        assert cols == schema(table).names, table
    assert con.execute("select count(*) from reports").fetchall() == [(0,)]
    (g,), = con.execute("select gdp_growth_pct from indicator_wide where region = '呼伦贝尔市海拉尔区' "
                        "and year = 2012 and kind = 'actual'").fetchall()
    assert g == 18.5
    con.close()


def test_connect_refuses_a_missing_lake(tmp_path):
    with pytest.raises(FileNotFoundError, match="no lake"):
        connect(tmp_path / "nope")


def test_cli_query_formats(lake):
    q = ("select year, status, count(*) as n from target_attainment "
         "where region = '呼伦贝尔市海拉尔区' group by all order by all")
    table = cli("--lake", str(lake), "--query", q)
    assert table.returncode == 0, table.stderr
    assert "│ year  │" in table.stdout and "missed" in table.stdout and "int32" in table.stdout
    rows = json.loads(cli("--lake", str(lake), "-q", q, "--format", "json").stdout)
    assert {r["status"] for r in rows} >= {"met", "missed"} and all(r["n"] > 0 for r in rows)
    csv_out = cli("--lake", str(lake), "-q", q, "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "year,status,n" and len(csv_out) == len(rows) + 1
    md = cli("--lake", str(lake), "-q", q, "--format", "markdown").stdout.splitlines()
    assert md[0] == "| year | status | n |" and md[1] == "|---|---|---|"


def test_cli_errors(lake, tmp_path):
    bad = cli("--lake", str(lake), "-q", "select nope from indicator_panel")
    assert bad.returncode == 1 and "nope" in bad.stderr
    missing = cli("--lake", str(tmp_path / "none"), "-q", "select 1")
    assert missing.returncode == 2 and "no lake" in missing.stderr


def test_cli_session_reads_statements_from_stdin(lake):
    """Without --query: a session; statements end with ';' (piped here, typed in a terminal)."""
    out = cli("--lake", str(lake), "--format", "csv", stdin=(
        ".tables\n"
        "select count(*) as n\n  from indicator_panel;\n"
        "select nope;\n"
        "select 'done' as x;\n"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "indicator_wide" in lines and "reports (empty)" in lines
    assert lines[lines.index("n") + 1].isdigit() and int(lines[lines.index("n") + 1]) > 20
    assert "nope" in out.stderr and lines[-2:] == ["x", "done"]
