"""Analysts' corrections (<lake>/corrections.csv) through the flow: a value fixed, a value the
extractor missed added, a row dropped; they are part of their source's version, so only that
source is processed again, and they survive every re-run (nothing new, a code change); one that
matches nothing is reported in the run's summary; removing them brings the extractor's rows back."""
from __future__ import annotations

import shutil

import pyarrow.compute as pc
import pytest

from flowkit import SEEDS, duck, lake_of, rows, run, run_state, same_rows, table

pytestmark = pytest.mark.timeout(300)
DOC = "001_9eeac6bb57bd8a70#1"
SOURCE = "001_9eeac6bb57bd8a70.txt"
CSV = f"""doc_id,indicator,kind,measure,action,value,unit,qualifier,reason,author
{DOC},gdp,actual,growth_pct,value,7.9,%,,the bulletin says 7.9,li
{DOC},retail_sales,target,growth_pct,value,8,%,about,the target the extractor missed,wang
{DOC},rd_intensity,target,level,drop,,,,not an R&D intensity,li
nosuch_report#1,gdp,actual,level,value,1,亿元,,a report not in the lake,li
{DOC},grain_output,actual,level,drop,,,,nothing there to drop,wang
{DOC},budget_revenue,actual,growth_pct,value,17.9,%,,read right already,wang
"""


def panel_of(lake) -> dict:
    got = rows(duck(lake), "select indicator, kind, measure, value, unit, qualifier, correction, quote "
                           f"from indicator_panel where source_name = '{SOURCE}' and doc_index = 1")
    return {r[:3]: r[3:] for r in got}


def assert_corrected(lake) -> None:
    p = panel_of(lake)
    value, unit, _, note, _ = p[("gdp", "actual", "growth_pct")]
    assert (value, unit) == (7.9, "percent") and note.startswith("was 8.0%; value by li: the bulletin says 7.9")
    value, unit, qualifier, note, quote = p[("retail_sales", "target", "growth_pct")]
    assert (value, unit, qualifier) == (8.0, "percent", "about") and note.startswith("added; value by wang")
    assert quote == "(analyst: the target the extractor missed)"
    assert ("rd_intensity", "target", "level") not in p
    assert p[("budget_revenue", "actual", "growth_pct")][3] is None          # untouched
    assert rows(duck(lake), "select count(*) from indicator_panel where correction is not null") == [(2,)]


@pytest.fixture(scope="module")
def corrected_once(seeded_lake, tmp_path_factory):
    """A copy of the seeded lake with the corrections file, and the run that applied it (the
    tests read it; those that change it take a copy: `corrected`)."""
    lake = tmp_path_factory.mktemp("corrected") / "lake"
    shutil.copytree(seeded_lake[0], lake)
    before = table(lake, "indicator_panel")
    assert ("rd_intensity", "target", "level") in panel_of(lake)
    (lake / "corrections.csv").write_text(CSV, encoding="utf-8")
    return lake, run(SEEDS, lake), before


@pytest.fixture
def corrected(corrected_once, tmp_path):
    lake, s, before = corrected_once
    shutil.copytree(lake, tmp_path / "lake")
    return tmp_path / "lake", s, before


def test_corrections_are_applied_to_their_source_only(corrected_once):
    lake, s, before = corrected_once
    assert s["status"] == "published" and s["validation"]["success"]
    assert (s["work"]["processed"], s["work"]["unchanged"]) == (1, 4)     # the source they correct
    assert_corrected(lake)
    assert len(s["corrected"]) == 3 and all(c.startswith(f"{SOURCE}: ") for c in s["corrected"])
    # every other row as it was
    keep = lambda t: t.filter(pc.not_equal(t["source_name"], SOURCE))  # noqa: E731
    same_rows(keep(table(lake, "indicator_panel")), keep(before), "indicator_panel")
    # the BI tables are of the corrected panel
    assert rows(duck(lake), "select count(*) from indicator_wide where retail_sales_growth_pct = 8 "
                            f"and sources like '%{DOC.split('#')[0]}%' and kind = 'target'") == [(1,)]


def test_unmatched_corrections_are_reported(corrected_once):
    from flows.stages.summary import format_summary

    _, s, _ = corrected_once
    unmatched = s["corrections_unmatched"]
    assert len(unmatched) == 3, unmatched
    said = " | ".join(unmatched)
    assert "nosuch_report#1 is no document of the lake" in said
    assert "nothing to drop at grain_output/actual/level" in said
    assert "budget_revenue/actual/growth_pct is read as 17.9% already" in said
    text = format_summary(s)
    assert "corrections that match nothing (remove or fix them): 3" in text
    assert "corrections applied (corrections.csv): 3" in text


def test_corrections_survive_reruns(corrected, monkeypatch):
    import flows.stages.process as process

    lake, _, _ = corrected
    s = run(SEEDS, lake)
    assert s["status"] == "nothing_new"
    assert_corrected(lake)
    # an orphan is still said on a run with nothing new
    assert any("nosuch_report#1" in u for u in s["corrections_unmatched"])
    monkeypatch.setattr(process, "code_version", lambda: "another-extractor")
    s = run(SEEDS, lake)
    assert s["status"] == "published" and s["work"]["processed"] == 5
    assert_corrected(lake)


def test_removing_the_corrections_brings_the_extractors_rows_back(corrected):
    lake, _, before = corrected
    (lake / "corrections.csv").unlink()
    s = run(SEEDS, lake)
    assert s["status"] == "published" and s["work"]["processed"] == 1 and s["corrected"] == []
    same_rows(table(lake, "indicator_panel"), before, "indicator_panel")


def test_a_bad_corrections_file_stops_the_run_saying_where(lake_copy):
    (lake_copy / "corrections.csv").write_text(CSV.replace("retail_sales", "retail_saels"), encoding="utf-8")
    versions = lake_of(lake_copy).latest_versions()
    state = run_state(SEEDS, lake_copy)
    assert state.is_failed() and "corrections.csv line 3" in state.message and "retail_saels" in state.message
    assert lake_of(lake_copy).latest_versions() == versions
