"""flows/core/corrections.py: an analyst's fix of a value, an added value, a drop; what no longer
matches is reported; a bad file says which line."""
from __future__ import annotations

import pytest

from flows.core.corrections import Correction, apply, digest, for_source, parse
from flows.core.model import SourceError
from helpers import SEEDS, items_of
from flows.stages.process import run_core

HEAD = "doc_id,indicator,kind,measure,action,value,unit,qualifier,reason,author\n"


@pytest.fixture(scope="module")
def jinwan():
    path = next(SEEDS.glob("000_*.txt"))
    return run_core(path.name, "0" * 64, items_of([path]))


def test_parse_normalizes_and_names_the_bad_line():
    [c] = parse(HEAD + "000_c9b0bbd917161d38#1,gdp,actual,level,value,888,亿元,,typo,li\n")
    assert (c.value, c.unit, c.line, c.author) == (8.88e10, "yuan", 2, "li")
    with pytest.raises(SourceError, match="line 2: reason, author missing"):
        parse(HEAD + "x#1,gdp,actual,level,value,1,亿元,,,\n")
    with pytest.raises(SourceError, match="line 2: unknown indicator"):
        parse(HEAD + "x#1,gross,actual,level,drop,,,,why,li\n", {"gdp"})
    with pytest.raises(SourceError, match="value and unit"):
        parse(HEAD + "x#1,gdp,actual,level,value,lots,亿元,,why,li\n")


def test_value_add_and_drop_on_a_real_report(jinwan):
    text = HEAD + ("000_c9b0bbd917161d38#1,gdp,actual,level,value,888,亿元,,typo,li\n"
                   "000_c9b0bbd917161d38#1,industrial_output,actual,level,drop,,,,not the region's,li\n"
                   "000_c9b0bbd917161d38#1,rd_intensity,target,level,value,3.5,%,about,missed by the rules,li\n"
                   "000_c9b0bbd917161d38#1,retail_sales,target,level,drop,,,,nothing there,li\n"
                   "000_c9b0bbd917161d38#7,gdp,actual,level,drop,,,,no such report,li\n")
    corr = for_source(parse(text), "000_c9b0bbd917161d38.txt")
    rows, applied, unmatched = apply(jinwan.panel, jinwan.reports, corr)
    by = {(r.indicator, r.kind, r.measure): r for r in rows}
    assert by[("gdp", "actual", "level")].value == 8.88e10
    assert by[("gdp", "actual", "level")].correction.startswith("was 887亿元; value by li: typo")
    assert ("industrial_output", "actual", "level") not in by
    added = by[("rd_intensity", "target", "level")]
    assert (added.value, added.qualifier, added.year, added.region) == (3.5, "about", 2024, "珠海市金湾区")
    assert len(rows) == len(jinwan.panel) and len(applied) == 3
    assert any("nothing to drop" in u for u in unmatched) and any("#7 is not a report" in u for u in unmatched)


def test_a_correction_the_extractor_now_makes_itself_is_reported(jinwan):
    corr = parse(HEAD + "000_c9b0bbd917161d38#1,gdp,actual,level,value,887,亿元,,typo,li\n")
    rows, applied, unmatched = apply(jinwan.panel, jinwan.reports, corr)
    assert not applied and "read as 887亿元 already" in unmatched[0]


def test_digest_changes_with_the_corrections_only():
    a = parse(HEAD + "x#1,gdp,actual,level,drop,,,,why,li\n")
    b = parse(HEAD + "x#1,gdp,actual,level,drop,,,,another reason,li\n")
    assert digest(a) == digest(parse(HEAD + "x#1,gdp,actual,level,drop,,,,why,li\n")) != digest(b)
    assert digest([]) == "" and isinstance(a[0], Correction)


def test_a_doc_id_with_its_folder_names_the_same_document(jinwan):
    from dataclasses import replace as copy

    rows = [copy(r, source_name="2023/" + r.source_name) for r in jinwan.panel]
    reports = [copy(r, source_name="2023/" + r.source_name) for r in jinwan.reports]
    for doc in ("000_c9b0bbd917161d38#1", "2023/000_c9b0bbd917161d38#1"):
        corr = for_source(parse(HEAD + f"{doc},gdp,actual,level,value,888,亿元,,typo,li\n"),
                          "2023/000_c9b0bbd917161d38.txt")
        got, applied, unmatched = apply(rows, reports, corr)
        assert applied and not unmatched, (doc, unmatched)
    assert not for_source(parse(HEAD + "1999/000_c9b0bbd917161d38#1,gdp,actual,level,drop,,,,x,li\n"),
                          "2023/000_c9b0bbd917161d38.txt")
