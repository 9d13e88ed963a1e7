"""The BI tables: indicator_wide and target_attainment from the panel (flows/core/bi.py,
flows/core/attainment.py), their GX suites, the BI stage's incremental update
(flows/stages/bi.py) against a rebuild, and year partitions a reader filtering on year reads
alone (DuckDB's plan over the views of flows/outputs/sql.py, deltalake's fragments)."""
from __future__ import annotations

import json
import re

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from conftest import REPO
from flows import panel_rows as core_panel_rows
from flows.core.bi import (WideColumnMissing, attainment, bi_tables, bi_update, concat_bi,
                           indicator_wide, region_counts, region_groups)
from flows.core.model import as_dicts
from flows.schemas import BI_TABLES, TABLES, schema, to_table, wide_value_columns
from helpers import CORPUS, SEEDS, items_of, sort_rows

BASE = dict(source_name="a.txt", doc_index=1, region="甲市", tier="city", province="乙省",
            indicator="gdp", kind="actual", measure="growth_pct", year=2022, value=5.0,
            value_high=None, unit="percent", qualifier=None, estimate=False, strength=None,
            status="reported", value_text="5%", quote="增长5%", start=0, end=2,
            rule="direct", subject="explicit", confidence="high")


def panel(*rows: dict) -> pa.Table:
    return to_table("indicator_panel", [dict(BASE, **r) for r in rows])


def panel_of(paths) -> pa.Table:
    return to_table("indicator_panel", as_dicts(core_panel_rows(items_of(paths))))


@pytest.fixture(scope="module")
def real_panel() -> pa.Table:
    """The panel of the seeds and the hailar reports (targets and actuals in different files)."""
    return panel_of(sorted(SEEDS.glob("*.txt")) + sorted(CORPUS.glob("hailar_*.txt")))


@pytest.fixture(scope="module")
def national_panel() -> pa.Table:
    """The State Council's reports: targets qualified 左右 (about) beside their actuals."""
    return panel_of([CORPUS / "national_2010_2023.jsonl"])


# ---- indicator_wide ---------------------------------------------------------------------------
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
    assert got["target_attainment"].schema == schema("target_attainment")


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


# ---- region by region: an update, groups, a large panel -------------------------------------------
@pytest.mark.parametrize("pick", [slice(0, 1), slice(1, 4), slice(None, None, 3)])
def test_bi_update_of_some_regions_equals_a_rebuild(real_panel, pick):
    """Changing the panel rows of some regions and rebuilding only those regions gives the
    tables a rebuild from the whole new panel gives: rows of other regions are kept, rows of a
    changed region are replaced (some dropped, some new, one region gone entirely)."""
    before = bi_tables(real_panel)
    regions = sorted({r for r in real_panel["region"].to_pylist() if r})
    changed = regions[pick]
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
        kept = whole[name].filter(pc.invert(pc.is_in(whole[name]["region"], value_set=pa.array(changed))))
        assert kept.num_rows == whole[name].num_rows - rebuilt[name].num_rows


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_bi_tables_of_region_groups_equal_the_whole(real_panel, parts):
    placed = real_panel.filter(pc.is_valid(real_panel["region"]))
    groups = [placed.filter(pc.is_in(placed["region"], value_set=pa.array(g, pa.string())))
              for g in region_groups(region_counts(placed), parts)]
    assert 1 <= len(groups) <= parts
    regions = [set(g["region"].to_pylist()) for g in groups]
    assert all(a.isdisjoint(b) for i, a in enumerate(regions) for b in regions[i + 1:])
    whole, joined = bi_tables(real_panel), concat_bi([bi_tables(g) for g in groups])
    for name in whole:
        assert sort_rows(name, joined[name]).equals(sort_rows(name, whole[name])), name


def test_a_large_panel_is_done_in_groups_of_regions_with_the_same_rows(real_panel):
    """bi_tables keeps memory that of a group of regions (group_rows panel rows at a time)."""
    whole = bi_tables(real_panel)
    grouped = bi_tables(real_panel, group_rows=50)
    for name in BI_TABLES:
        assert sort_rows(name, grouped[name]).equals(sort_rows(name, whole[name])), name


# ---- target_attainment -----------------------------------------------------------------------
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


def test_attainment_of_about_targets_in_the_state_councils_reports(national_panel):
    """The State Council's 2010 report planned CPI 'about 3%' (a cap: lower is better); the 2011
    report reviewed 3.3%: missed by 0.3 points, within the 0.5 of an about target: met_about.
    2022's GDP 'about 5.5%' against 3.0% is 2.5 points short: missed, whatever the qualifier."""
    rows = {(r["indicator"], r["year"]): r for r in attainment(national_panel).to_pylist()}
    cpi, gdp = rows[("cpi", 2010)], rows[("gdp", 2022)]
    assert (cpi["target"], cpi["target_qualifier"], cpi["actual"], cpi["status"]) == (3.0, "about", 3.3, "met_about")
    assert cpi["gap"] == pytest.approx(0.3)
    assert (gdp["target"], gdp["target_qualifier"], gdp["actual"], gdp["status"], gdp["gap"]) == \
        (5.5, "about", 3.0, "missed", -2.5)
    assert rows[("gdp", 2010)]["status"] == "met"   # about 8%, 10.3% reviewed
    # a tighter tolerance (Settings.attainment_tolerance) turns the CPI pair into a miss
    tight = {(r["indicator"], r["year"]): r for r in attainment(national_panel, tolerance=0.2).to_pylist()}
    assert tight[("cpi", 2010)]["status"] == "missed" and tight[("gdp", 2010)]["status"] == "met"


def _status(target: dict, actual: dict, tolerance: float = 0.5) -> tuple[str, float | None]:
    t = dict(target, kind="target", year=2023, source_name="plan.txt")
    a = dict(actual, kind="actual", year=2023, source_name="review.txt")
    (row,) = attainment(panel(t, a), tolerance=tolerance).to_pylist()
    return row["status"], row["gap"]


@pytest.mark.parametrize("target, actual, tolerance, status", [
    # a rate 'about 7.5%': within 0.5 points below is met_about, further below missed
    ({"value": 7.5, "qualifier": "about"}, {"value": 7.5}, 0.5, "met"),
    ({"value": 7.5, "qualifier": "about"}, {"value": 7.8}, 0.5, "met"),
    ({"value": 7.5, "qualifier": "about"}, {"value": 7.4}, 0.5, "met_about"),
    ({"value": 7.5, "qualifier": "about"}, {"value": 7.0}, 0.5, "met_about"),     # on the edge
    ({"value": 7.5, "qualifier": "about"}, {"value": 6.9}, 0.5, "missed"),
    ({"value": 7.5, "qualifier": "about"}, {"value": 7.4}, 0.0, "missed"),        # no tolerance
    ({"value": 7.5, "qualifier": "about"}, {"value": 7.2}, 1.0, "met_about"),     # a wider one
    # the tolerance is for 'about' only: a plain or at_least target missed by 0.1 is missed
    ({"value": 7.5}, {"value": 7.4}, 0.5, "missed"),
    ({"value": 7.5, "qualifier": "at_least"}, {"value": 7.4}, 0.5, "missed"),
    # a cap (CPI: lower is better) 'about 3%': 3.3 is within, 3.6 is not, 2.0 is met
    ({"indicator": "cpi", "value": 3.0, "qualifier": "about"}, {"indicator": "cpi", "value": 3.3}, 0.5,
     "met_about"),
    ({"indicator": "cpi", "value": 3.0, "qualifier": "about"}, {"indicator": "cpi", "value": 3.6}, 0.5,
     "missed"),
    ({"indicator": "cpi", "value": 3.0, "qualifier": "about"}, {"indicator": "cpi", "value": 2.0}, 0.5, "met"),
    # a level 'about 1000亿元': the tolerance is 0.5 percent of the target (5亿元)
    ({"measure": "level", "unit": "yuan", "value": 1e11, "qualifier": "about"},
     {"measure": "level", "unit": "yuan", "value": 0.996e11}, 0.5, "met_about"),
    ({"measure": "level", "unit": "yuan", "value": 1e11, "qualifier": "about"},
     {"measure": "level", "unit": "yuan", "value": 0.994e11}, 0.5, "missed"),
    ({"measure": "level", "unit": "yuan", "value": 1e11, "qualifier": "about"},
     {"measure": "level", "unit": "yuan", "value": 1.2e11}, 0.5, "met"),
])
def test_met_about_is_an_about_target_missed_within_the_tolerance(target, actual, tolerance, status):
    got, gap = _status(target, actual, tolerance)
    assert got == status
    # the gap is kept raw whatever the status: actual - target
    assert gap == pytest.approx(actual["value"] - target["value"])


def test_an_about_target_without_an_actual_is_unknown():
    (row,) = attainment(panel({"kind": "target", "year": 2030, "qualifier": "about"})).to_pylist()
    assert (row["status"], row["actual"], row["gap"]) == ("unknown", None, None)


# ---- the GX suites of the BI tables -----------------------------------------------------------
@pytest.mark.parametrize("table", BI_TABLES)
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


def test_the_attainment_suite_knows_met_about():
    suite = json.loads((REPO / "expectations" / "target_attainment.json").read_text(encoding="utf-8"))
    sets = [e["kwargs"]["value_set"] for e in suite["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"].get("column") == "status"]
    assert sets and set(sets[0]) == {"met", "met_about", "missed", "unknown"}


def test_bi_suites_pass_on_real_tables_and_catch_broken_ones(real_panel, national_panel):
    from flows.quality import validate_tables

    tables = bi_tables(pa.concat_tables([real_panel, national_panel]))
    assert "met_about" in tables["target_attainment"]["status"].to_pylist()
    ok = validate_tables(tables)
    assert ok.success, [f.line() for f in ok.failures]
    assert set(ok.gx_results) == set(BI_TABLES)

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

    growth = pc.and_(pc.equal(real_panel["indicator"], "gdp"), pc.equal(real_panel["measure"], "growth_pct"))
    i = real_panel.schema.get_field_index("value")
    broken = real_panel.set_column(i, "value", pc.if_else(growth, 5000.0, real_panel["value"]))
    assert validate_tables({"indicator_panel": real_panel}).success
    bad = validate_tables({"indicator_panel": broken})
    ranges = [f for f in bad.failures if f.expectation == "expect_column_values_to_be_between"]
    assert [(f.kwargs["column"], f.examples[0]) for f in ranges] == [("value", 5000.0)]
    assert "growth_pct" in str(ranges[0].kwargs["row_condition"])


# ---- the BI stage on a lake: an incremental update equals a rebuild ------------------------------
def _seed_lake(root, panel_table: pa.Table):
    """A lake whose panel and BI tables are those of panel_table (one commit each, a pointer)."""
    from flows.lake import Lake

    lake = Lake(root)
    for name, t in {"indicator_panel": panel_table, **bi_tables(panel_table)}.items():
        lake.commit(name, t, "seed", "cv")
    lake.point("seed", "cv")
    return lake


def test_the_bi_stage_updates_the_changed_regions_as_a_rebuild_would(real_panel, national_panel, tmp_path):
    """A run that re-reads two sources (their values changed, some rows gone) and adds a new
    one: build_bi rebuilds the regions of those sources only, the publish replaces their rows,
    and the published BI tables equal bi_tables of the whole published panel."""
    from flows.stages.bi import build_bi
    from flows.stages.publish import publish

    lake = _seed_lake(tmp_path / "lake", real_panel)
    replaced = ["hailar_2013.txt", sorted({s for s in real_panel["source_name"].to_pylist()
                                           if not s.startswith("hailar")})[0]]
    again = real_panel.filter(pc.is_in(real_panel["source_name"], value_set=pa.array(replaced)))
    changed = [dict(r, value=r["value"] * 1.1 if r["value"] is not None else None)
               for i, r in enumerate(again.to_pylist()) if i % 3]
    staged = pa.concat_tables([pa.Table.from_pylist(changed, schema=real_panel.schema), national_panel])
    run = "run-2"
    lake.staging.write(run, "indicator_panel", "chunk-0001", staged)
    before = {t: lake.read(t) for t in BI_TABLES}

    res = build_bi(str(lake.location()), run, replaced, False, None, 0.5)
    assert res.ok, res.report.summary()
    regions = set(res.regions)
    all_regions = {r for r in real_panel["region"].to_pylist() if r} | {"全国"}
    assert "全国" in regions and "呼伦贝尔市海拉尔区" in regions and regions < all_regions
    pub = publish(str(lake.location()), run, "cv", replaced + ["national_2010_2023.jsonl"], [],
                  res.regions, True, bi_panel_version=res.panel_version, replaced=replaced)
    assert set(BI_TABLES) <= set(pub.committed)

    published_panel = lake.read("indicator_panel")
    expected = bi_tables(published_panel)
    for name in BI_TABLES:
        got = lake.read(name)
        assert sort_rows(name, got).equals(sort_rows(name, expected[name])), name
        # the other regions' rows are the very rows that were there
        other = pa.array(sorted(all_regions - regions))
        assert sort_rows(name, got.filter(pc.is_in(got["region"], value_set=other))).equals(
            sort_rows(name, before[name].filter(pc.is_in(before[name]["region"], value_set=other)))), name
    assert lake.records.current()["versions"] == lake.latest_versions()


def test_the_bi_stage_applies_the_tolerance_it_is_given(national_panel, tmp_path):
    from flows.lake import Lake
    from flows.stages.bi import build_bi

    lake = Lake(tmp_path / "lake")
    lake.staging.write("r", "indicator_panel", "chunk-0001", national_panel)
    statuses = {}
    for tol in (0.5, 0.2):
        res = build_bi(str(lake.location()), "r", [], True, None, tol)
        assert res.regions is None and res.ok
        att = lake.staging.read("r", "target_attainment")
        (cpi,) = [r for r in att.to_pylist() if (r["indicator"], r["year"]) == ("cpi", 2010)]
        statuses[tol] = cpi["status"]
    assert statuses == {0.5: "met_about", 0.2: "missed"}


# ---- partitions: a reader filtering on year reads that year's files only ------------------------
@pytest.fixture(scope="module")
def bi_lake(real_panel, tmp_path_factory):
    from flows.outputs.sql import write_duckdb

    lake = _seed_lake(tmp_path_factory.mktemp("bi") / "lake", real_panel)
    write_duckdb(lake)
    return lake


def _plan(con, sql: str) -> str:
    return "\n".join(r[1] for r in con.execute(f"explain analyze {sql}").fetchall())


def _live_rows(lake, table: str, year: int) -> int:
    return sum(1 for y in lake.read(table, columns=["year"])["year"].to_pylist() if y == year)


@pytest.mark.parametrize("table", ["indicator_panel", "indicator_wide", "target_attainment"])
def test_year_filter_reads_one_partition_duckdb(bi_lake, table):
    """EXPLAIN ANALYZE through the views of flows/outputs/sql.py (the pointer's set) and through
    the lake's own lake.duckdb: DuckDB opens one file of many."""
    from flows.outputs.sql import connect

    n_files = len(bi_lake.tables.files(table))
    assert n_files > 3 and all(f.startswith("year=") for f in bi_lake.tables.files(table))
    con, state, _ = connect(bi_lake.location())
    own = duckdb.connect(bi_lake.storage.path("lake.duckdb"), read_only=True)
    own.execute(f"SET file_search_path = '{bi_lake.location()}'")
    assert state[table] == "files"
    for c in (con, own):
        # (a bare count(*) may be answered from Parquet metadata, with no scan to show)
        plan = _plan(c, f"select region, year from {table} where year = 2012")
        m = re.search(r"Scanning Files: (\d+)/(\d+)", plan)
        assert m and (int(m.group(1)), int(m.group(2))) == (1, n_files), plan
        assert "Total Files Read: 1" in plan and "year=2012" in plan, plan
        plan_all = _plan(c, f"select region, year from {table}")   # no filter: every file
        assert f"Total Files Read: {n_files}" in plan_all, plan_all
        (n,), = c.execute(f"select count(*) from {table} where year = 2012").fetchall()
        assert n == _live_rows(bi_lake, table, 2012) > 0
    con.close()
    own.close()


@pytest.mark.parametrize("table", ["indicator_panel", "indicator_wide", "target_attainment"])
def test_year_filter_reads_one_partition_deltalake(bi_lake, table):
    import pyarrow.dataset as ds

    dataset = bi_lake.tables.open(table).to_pyarrow_dataset()
    files = [f.path for f in dataset.get_fragments(filter=ds.field("year") == 2012)]
    assert files and all(("/" + f).rsplit("/", 2)[-2] == "year=2012" for f in files), files
    assert len(files) < len(bi_lake.tables.files(table))
    assert dataset.to_table(filter=ds.field("year") == 2012).num_rows == _live_rows(bi_lake, table, 2012) > 0


def test_duckdb_reads_the_partition_column_as_the_schema_says(bi_lake):
    from flows.outputs.sql import connect

    con, _, _ = connect(bi_lake.location())
    for table in BI_TABLES:
        cols = con.execute(f"describe {table}").fetchall()
        assert [c[0] for c in cols] == schema(table).names
        assert dict((c[0], c[1]) for c in cols)["year"] == "INTEGER"
        assert TABLES[table][2] == "year"
    con.close()
