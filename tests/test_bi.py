"""BI gold (flows/bi.py): indicator_wide and target_attainment from the panel, their GX suites,
and year partitions a reader filtering on year reads alone."""
from __future__ import annotations

import json
import re

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from conftest import REPO
from flows import panel_rows as core_panel_rows
from flows.bi import (WideColumnMissing, attainment, bi_tables, bi_update, concat_bi,
                      indicator_wide, region_counts, region_groups)
from flows.core.model import as_dicts
from flows.schemas import TABLES, schema, to_table, wide_value_columns
from helpers import CORPUS, SEEDS, items_of


def panel(*rows: dict) -> pa.Table:
    base = dict(source_name="a.txt", doc_index=1, region="甲市", tier="city", province="乙省",
                indicator="gdp", kind="actual", measure="growth_pct", year=2022, value=5.0,
                value_high=None, unit="percent", qualifier=None, estimate=False, strength=None,
                status="reported", value_text="5%", quote="增长5%", start=0, end=2,
                rule="direct", subject="explicit", confidence="high")
    return to_table("indicator_panel", [dict(base, **r) for r in rows])


@pytest.fixture(scope="module")
def real_panel() -> pa.Table:
    """The panel of the seeds and the hailar reports (targets and actuals in different files)."""
    files = sorted(SEEDS.glob("*.txt")) + sorted(CORPUS.glob("hailar_*.txt"))
    return to_table("indicator_panel", as_dicts(core_panel_rows(items_of(files))))


def test_wide_columns_carry_the_normalized_unit():
    cols = wide_value_columns()
    assert cols[("gdp", "level", "yuan")] == "gdp_level_yuan"
    assert cols[("gdp", "growth_pct", "percent")] == "gdp_growth_pct"
    assert cols[("grain_output", "level", "tonne")] == "grain_output_level_tonne"
    assert cols[("fdi", "level", "usd")] == "fdi_level_usd"
    assert cols[("new_urban_jobs", "level", "person")] == "new_urban_jobs_level_person"
    assert cols[("unemployment_rate_surveyed", "level", "percent")] == "unemployment_rate_surveyed_level_pct"
    assert ("cpi", "level", "yuan") not in cols   # CPI has a growth rate only
    names = schema("indicator_wide").names
    assert names[:5] == ["region", "tier", "province", "year", "kind"]
    assert names[5:5 + len(cols)] == list(cols.values())
    assert all(schema("indicator_wide").field(c).type == pa.float64() for c in cols.values())


def test_wide_pivots_one_row_per_region_year_kind():
    t = indicator_wide(panel(
        {},
        {"measure": "level", "value": 8.87e10, "unit": "yuan", "value_text": "887亿元"},
        {"indicator": "grain_output", "measure": "level", "value": 6.5e6, "unit": "tonne"},
        {"indicator": "fdi", "measure": "level", "value": 5.6e9, "unit": "usd"},
        {"kind": "target", "year": 2023, "value": 6.0, "qualifier": "about"},
        {"kind": "target", "year": 2023, "indicator": "cpi", "value": None, "unit": None,
         "status": "no_target"},
        {"region": None, "value": 1.0, "indicator": "cpi"},       # cannot be placed
        {"year": None, "indicator": "cpi", "value": 2.0},          # cannot be placed
    ))
    rows = {(r["region"], r["year"], r["kind"]): r for r in t.to_pylist()}
    assert set(rows) == {("甲市", 2022, "actual"), ("甲市", 2023, "target")}
    a, tg = rows[("甲市", 2022, "actual")], rows[("甲市", 2023, "target")]
    assert (a["gdp_growth_pct"], a["gdp_level_yuan"], a["grain_output_level_tonne"],
            a["fdi_level_usd"]) == (5.0, 8.87e10, 6.5e6, 5.6e9)
    assert a["fdi_level_yuan"] is None and a["cpi_growth_pct"] is None
    assert a["n_values"] == 4 and a["estimate"] is False and a["sources"] == "a#1"
    assert a["tier"] == "city" and a["province"] == "乙省"
    assert tg["gdp_growth_pct"] == 6.0 and tg["n_values"] == 1
    assert tg["no_target"] == "cpi_growth_pct" and tg["cpi_growth_pct"] is None
    assert t.schema == schema("indicator_wide")


def test_wide_prefers_the_final_figure_then_the_first_source():
    t = indicator_wide(panel(
        {"source_name": "a.txt", "value": 5.0, "estimate": True},
        {"source_name": "b.txt", "value": 5.2},
        {"source_name": "c.txt", "value": 5.4},
        {"source_name": "c.txt", "indicator": "cpi", "value": 2.0, "estimate": True},
    ))
    (row,) = t.to_pylist()
    assert row["gdp_growth_pct"] == 5.2 and row["cpi_growth_pct"] == 2.0
    assert row["estimate"] is True   # the cpi figure is an estimate
    assert row["sources"] == "b#1,c#1"


def test_documents_of_two_folders_with_one_file_name_are_told_apart():
    """The evidence names a document by its source without the extension: a source in a
    subfolder keeps the folder, or 2022/report.txt and 2023/report.txt would both be report#1."""
    t = indicator_wide(panel(
        {"source_name": "2022/report.txt", "value": 5.0},
        {"source_name": "2023/report.txt", "indicator": "cpi", "value": 2.0},
    ))
    (row,) = t.to_pylist()
    assert row["sources"] == "2022/report#1,2023/report#1"
    a = attainment(panel(
        {"source_name": "2022/report.txt", "kind": "target", "year": 2023, "value": 6.0,
         "qualifier": "about"},
        {"source_name": "2023/report.txt", "year": 2023, "value": 6.5},
    )).to_pylist()
    assert [(r["target_source"], r["actual_source"]) for r in a] == [("2022/report#1", "2023/report#1")]


def test_wide_refuses_a_value_it_has_no_column_for():
    with pytest.raises(WideColumnMissing, match="gdp level in 'tonne'"):
        indicator_wide(panel({"measure": "level", "unit": "tonne", "value": 1.0}))


def test_bi_tables_of_an_empty_panel_are_empty():
    got = bi_tables(schema("indicator_panel").empty_table())
    assert {k: v.num_rows for k, v in got.items()} == {"indicator_wide": 0, "target_attainment": 0}
    assert got["indicator_wide"].schema == schema("indicator_wide")


@pytest.mark.parametrize("pick", [slice(0, 1), slice(1, 4), slice(None, None, 3)])
def test_bi_update_of_some_regions_equals_a_rebuild(real_panel, pick):
    """Changing the panel rows of some regions and rebuilding only those regions gives the
    tables a rebuild from the whole new panel gives: rows of other regions are kept, rows of a
    changed region are replaced (some dropped, some new, one region gone entirely)."""
    import pyarrow.compute as pc

    from flows.lake import sort_rows

    before = bi_tables(real_panel)
    regions = sorted({r for r in real_panel["region"].to_pylist() if r})
    changed = regions[pick]
    # the new panel: in the changed regions, every other row gone and the values moved
    rows = real_panel.to_pylist()
    new_rows = []
    for i, r in enumerate(rows):
        if r["region"] in changed:
            if i % 2 or r["region"] == changed[0] and len(changed) > 1:
                continue
            if r["value"] is not None and r["measure"] == "level":
                r = dict(r, value=r["value"] * 1.5)
        new_rows.append(r)
    new_panel = pa.Table.from_pylist(new_rows, schema=real_panel.schema)
    rebuilt, whole = bi_update(before, new_panel, changed)
    full = bi_tables(new_panel)
    for name in full:
        assert sort_rows(name, whole[name]).equals(sort_rows(name, full[name])), name
        assert set(rebuilt[name]["region"].to_pylist()) <= set(changed)
        kept = whole[name].filter(pc.invert(pc.is_in(whole[name]["region"],
                                                     value_set=pa.array(changed))))
        assert kept.num_rows == whole[name].num_rows - rebuilt[name].num_rows


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_bi_tables_of_region_groups_equal_the_whole(real_panel, parts):
    import pyarrow.compute as pc

    from flows.lake import sort_rows

    # as a whole rebuild splits the panel (work.bi_of_regions: one job per group of regions)
    placed = real_panel.filter(pc.is_valid(real_panel["region"]))
    groups = [placed.filter(pc.is_in(placed["region"], value_set=pa.array(g, pa.string())))
              for g in region_groups(region_counts(placed), parts)]
    assert 1 <= len(groups) <= parts
    regions = [set(g["region"].to_pylist()) for g in groups]
    assert all(a.isdisjoint(b) for i, a in enumerate(regions) for b in regions[i + 1:])
    whole, joined = bi_tables(real_panel), concat_bi([bi_tables(g) for g in groups])
    for name in whole:
        assert sort_rows(name, joined[name]).equals(sort_rows(name, whole[name])), name


def test_attainment_pairs_a_target_and_an_actual_from_two_files(real_panel):
    t = attainment(real_panel)
    assert t.schema == schema("target_attainment")
    rows = {(r["indicator"], r["measure"], r["year"]): r for r in t.to_pylist()
            if r["region"] == "呼伦贝尔市海拉尔区"}
    gdp = rows[("gdp", "growth_pct", 2012)]
    # hailar_2012.txt planned 2012 (地区生产总值...同比增长21%), hailar_2013.txt reviewed it (18.5%)
    assert (gdp["target"], gdp["actual"], gdp["status"], gdp["gap"]) == (21.0, 18.5, "missed", -2.5)
    assert (gdp["target_source"], gdp["actual_source"]) == ("hailar_2012#1", "hailar_2013#1")
    assert "21%" in gdp["target_quote"] and "18.5%" in gdp["actual_quote"]
    assert {r["status"] for r in t.to_pylist()} >= {"met", "missed", "unknown"}


def test_real_wide_table_has_the_panel_values(real_panel):
    wide = indicator_wide(real_panel)
    keys = [(r["region"], r["year"], r["kind"]) for r in wide.to_pylist()]
    assert len(keys) == len(set(keys)) > 20
    hailar = {(r["year"], r["kind"]): r for r in wide.to_pylist() if r["region"] == "呼伦贝尔市海拉尔区"}
    assert hailar[(2012, "actual")]["gdp_level_yuan"] == 2.352e10
    assert hailar[(2012, "actual")]["gdp_growth_pct"] == 18.5
    assert hailar[(2012, "target")]["gdp_growth_pct"] == 21.0
    # every placed panel value is in the wide table
    n = sum(1 for r in real_panel.to_pylist()
            if r["status"] == "reported" and r["region"] and r["year"] is not None)
    assert sum(r["n_values"] for r in wide.to_pylist()) == n


# ---- the GX suites of the BI tables -------------------------------------------------------
@pytest.mark.parametrize("table", ["indicator_wide", "target_attainment"])
def test_bi_suites_match_the_schema(table):
    suite = json.loads((REPO / "expectations" / f"{table}.json").read_text(encoding="utf-8"))
    assert suite["name"] == table
    ordered = [e for e in suite["expectations"] if e["type"] == "expect_table_columns_to_match_ordered_list"]
    assert ordered and ordered[0]["kwargs"]["column_list"] == schema(table).names
    for e in suite["expectations"]:
        assert e["type"].startswith("expect_") and e.get("meta", {}).get("why"), e
        for key in ("column", "column_A", "column_B"):
            if key in e["kwargs"]:
                assert e["kwargs"][key] in schema(table).names, e


def test_bi_suites_pass_on_real_tables_and_catch_broken_ones(real_panel):
    from flows.quality import validate_tables

    tables = bi_tables(real_panel)
    ok = validate_tables(tables)
    assert ok.success, [f.line() for f in ok.failures]
    assert set(ok.gx_results) == {"indicator_wide", "target_attainment"}

    wide = tables["indicator_wide"]
    broken_wide = pa.concat_tables([wide, wide.slice(0, 1)])  # a duplicate key
    att = tables["target_attainment"]
    j = att.schema.get_field_index("status")
    broken_att = att.set_column(j, "status", pa.array(["met"] * att.num_rows))  # met, no actual
    bad = validate_tables({"indicator_wide": broken_wide, "target_attainment": broken_att})
    assert not bad.success
    failed = {(f.table, f.expectation, f.kwargs.get("column")) for f in bad.failures}
    assert ("indicator_wide", "expect_compound_columns_to_be_unique", None) in failed
    assert ("target_attainment", "expect_column_values_to_not_be_null", "actual") in failed


def test_an_implausible_wide_value_is_caught_in_the_panel(real_panel):
    """indicator_wide holds the panel's values (test_real_wide_table_has_the_panel_values), so a
    GDP growth of 5000% is caught by the panel's suite, before the wide table is built from it
    (tests/quality/test_quality_suites.py: every wide value column's range)."""
    from flows.quality import validate_tables

    growth = pc.and_(pc.equal(real_panel["indicator"], "gdp"),
                     pc.equal(real_panel["measure"], "growth_pct"))
    i = real_panel.schema.get_field_index("value")
    broken = real_panel.set_column(i, "value", pc.if_else(growth, 5000.0, real_panel["value"]))
    assert validate_tables({"indicator_panel": real_panel}).success
    bad = validate_tables({"indicator_panel": broken})
    ranges = [f for f in bad.failures if f.expectation == "expect_column_values_to_be_between"]
    assert [(f.kwargs["column"], f.examples[0]) for f in ranges] == [("value", 5000.0)]
    assert "growth_pct" in str(ranges[0].kwargs["row_condition"])


# ---- partitions: a reader filtering on year reads that year's files only --------------------
@pytest.fixture(scope="module")
def bi_lake(real_panel, tmp_path_factory):
    from flows.lake import Lake

    root = tmp_path_factory.mktemp("bi") / "lake"
    lake = Lake(root)
    tables = {"indicator_panel": real_panel, **bi_tables(real_panel)}
    for name, t in tables.items():
        lake.stage("test", name, t)
    lake.publish("test")
    return root


@pytest.mark.parametrize("table", ["indicator_panel", "indicator_wide", "target_attainment"])
def test_year_filter_reads_one_partition_pyarrow(bi_lake, table):
    folder = bi_lake / "gold" / table
    years = sorted(int(p.name.split("=")[1]) for p in folder.iterdir())
    assert len(years) > 3 and all(p.name.startswith("year=") for p in folder.iterdir())
    dataset = ds.dataset(folder, format="parquet", partitioning="hive")
    year = 2012
    files = [f.path for f in dataset.get_fragments(filter=ds.field("year") == year)]
    assert files and all(f"/year={year}/" in f for f in files)
    assert len(files) < len(list(folder.rglob("*.parquet")))
    got = dataset.to_table(filter=ds.field("year") == year)
    assert got.num_rows == sum(1 for r in live_rows(bi_lake, table) if r["year"] == year) > 0


def live_rows(root, table) -> list[dict]:
    from flows.lake import Lake

    return Lake(root).read_table(table).to_pylist()


@pytest.mark.parametrize("table", ["indicator_panel", "indicator_wide", "target_attainment"])
def test_year_filter_reads_one_partition_duckdb(bi_lake, table):
    """EXPLAIN ANALYZE through the view of flows/sql.py: DuckDB opens one file of many."""
    from flows.sql import connect

    con, state = connect(bi_lake)
    assert state[table] == "files"
    n_files = len(list((bi_lake / "gold" / table).rglob("*.parquet")))
    # (a bare count(*) may be answered from Parquet metadata, with no scan to show)
    plan = "\n".join(r[1] for r in con.execute(
        f"explain analyze select region, year from {table} where year = 2012").fetchall())
    m = re.search(r"Scanning Files: (\d+)/(\d+)", plan)
    assert m, plan
    assert (int(m.group(1)), int(m.group(2))) == (1, n_files) and n_files > 3, plan
    assert "Total Files Read: 1" in plan and "year=2012" in plan, plan
    # the same filter without pruning would read every file
    plan_all = "\n".join(r[1] for r in con.execute(
        f"explain analyze select region, year from {table}").fetchall())
    assert f"Total Files Read: {n_files}" in plan_all, plan_all
    (n,), = con.execute(f"select count(*) from {table} where year = 2012").fetchall()
    assert n == sum(1 for r in live_rows(bi_lake, table) if r["year"] == 2012) > 0
    con.close()


def test_duckdb_reads_the_partition_column_as_the_schema_says(bi_lake):
    from flows.sql import connect

    con, _ = connect(bi_lake)
    for table in ("indicator_wide", "target_attainment"):
        cols = con.execute(f"describe {table}").fetchall()
        assert [c[0] for c in cols] == schema(table).names
        assert dict((c[0], c[1]) for c in cols)["year"] == "INTEGER"
    assert TABLES["indicator_wide"][2] == "year"
    con.close()


def test_duckdb_plain_glob_also_prunes(bi_lake):
    """Without our views: read_parquet with hive_partitioning, as the README shows."""
    glob = f"{bi_lake}/gold/indicator_wide/**/*.parquet"
    plan = "\n".join(r[1] for r in duckdb.connect().execute(
        f"explain analyze select region from read_parquet('{glob}', hive_partitioning=true) "
        "where year = 2013").fetchall())
    assert "Total Files Read: 1" in plan and "year=2013" in plan, plan
