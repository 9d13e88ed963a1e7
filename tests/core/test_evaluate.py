"""The scorer on a tiny hand-made reference."""
from __future__ import annotations

import json

import pytest

from flows.evaluate import doc_id, format_report, panel_to_rows, read_gold, score
from flows.lake import Lake
from flows.schemas import to_table

GOLD = """doc_id,region,indicator,kind,measure,value,value_high,unit,qualifier,estimate,year,quote
r1#1,甲市,gdp,actual,level,887,,亿元,,0,2023,地区生产总值887亿元
r1#1,甲市,gdp,actual,growth_pct,6.5,,%,about,1,2023,预计增长6.5%左右
r1#1,甲市,grain_output,actual,level,5,,亿斤,,0,2023,粮食产量5亿斤
r1#1,甲市,new_urban_jobs,target,level,1.2,,万人,at_least,0,2024,城镇新增就业1.2万人以上
r1#2,乙县,retail_sales,target,growth_pct,6,7,%,range,0,2024,社零增长6%-7%
r1#2,乙县,fdi,actual,level,3,,亿美元,,0,2023,实际利用外资3亿美元
"""


def panel(source, doc, ind, kind, measure, value, unit, **kw):
    row = dict(source_name=source, doc_index=doc, region=None, tier=None, province=None,
               indicator=ind, kind=kind, measure=measure, year=kw.get("year", 2023), value=value,
               value_high=kw.get("value_high"), unit=unit, qualifier=kw.get("qualifier"),
               estimate=kw.get("estimate", False), strength=None, status=kw.get("status", "reported"),
               value_text="", quote=kw.get("quote", "our quote"), start=0, end=1,
               rule=kw.get("rule", "direct"), subject=kw.get("subject", "explicit"),
               confidence=kw.get("confidence", "high"))
    return row


PRED = [
    panel("r1.txt", 1, "gdp", "actual", "level", 8.87e10, "yuan"),                       # right
    panel("r1.txt", 1, "gdp", "actual", "growth_pct", 6.5, "percent", qualifier="about"),  # right, estimate wrong
    panel("r1.txt", 1, "grain_output", "actual", "level", 250000.0, "tonne"),            # right: 5亿斤
    panel("r1.txt", 1, "new_urban_jobs", "target", "level", 1.3e4, "person",
          year=2024, qualifier="at_least", quote="wrong value",
          rule="list_pairs", subject="list", confidence="medium"),                       # wrong value
    panel("r1.txt", 2, "retail_sales", "target", "growth_pct", 6.0, "percent",
          year=2024, value_high=7.0, qualifier="range",
          rule="list_pairs", subject="list", confidence="medium"),                       # right
    panel("r1.txt", 2, "fdi", "actual", "level", 3e8, "yuan"),                           # wrong currency
    panel("r1.txt", 2, "cpi", "actual", "growth_pct", 2.0, "percent", quote="extra",
          rule="implied_plan_gdp", subject="implied", confidence="low"),                # not in gold
    panel("r1.txt", 2, "cpi", "target", "growth_pct", None, None, status="no_target"),   # ignored
    panel("other.txt", 1, "gdp", "actual", "level", 1.0, "yuan"),                       # other source: ignored
]


@pytest.fixture
def gold_csv(tmp_path):
    p = tmp_path / "gold.csv"
    p.write_text(GOLD, encoding="utf-8")
    return p


def test_reference_values_are_normalized(gold_csv):
    rows = {(r.indicator, r.measure): r for r in read_gold(str(gold_csv))}
    assert rows["gdp", "level"].value == pytest.approx(8.87e10) and rows["gdp", "level"].unit == "yuan"
    assert rows["grain_output", "level"].value == pytest.approx(250000) and rows["grain_output", "level"].unit == "tonne"
    assert rows["new_urban_jobs", "level"].value == pytest.approx(12000) and rows["new_urban_jobs", "level"].unit == "person"
    assert rows["fdi", "level"].unit == "usd" and rows["fdi", "level"].value == pytest.approx(3e8)
    assert rows["retail_sales", "growth_pct"].value_high == 7 and rows["gdp", "growth_pct"].estimate is True


def test_doc_id_uses_the_file_stem():
    assert doc_id("002_6b340ccef4bd5f14.txt", 3) == "002_6b340ccef4bd5f14#3"
    assert doc_id("sub/dir/x.csv", 1) == "x#1"


def test_scores(gold_csv):
    s = score(read_gold(str(gold_csv)), panel_to_rows(PRED))
    o = s.overall
    assert (o.tp, o.n_pred, o.n_gold) == (4, 7, 6)
    assert o.precision == pytest.approx(4 / 7) and o.recall == pytest.approx(4 / 6)
    assert o.f1 == pytest.approx(2 * (4 / 7) * (4 / 6) / (4 / 7 + 4 / 6))
    assert s.by_indicator["gdp"].tp == 2 and s.by_indicator["gdp"].recall == 1.0
    assert s.by_indicator["cpi"].n_gold == 0 and s.by_indicator["cpi"].n_pred == 1
    missed = {(g.doc_id, g.indicator) for g, _ in s.misses}
    assert missed == {("r1#1", "new_urban_jobs"), ("r1#2", "fdi")}
    assert {g.quote for g, _ in s.misses} >= {"城镇新增就业1.2万人以上"}
    fps = {(p.doc_id, p.indicator): p.quote for p, _ in s.false_positives}
    assert fps == {("r1#1", "new_urban_jobs"): "wrong value", ("r1#2", "fdi"): "our quote",
                   ("r1#2", "cpi"): "extra"}
    # field accuracy over the 6 keys both sides have (right value or not)
    assert s.field_accuracy["year"] == (6, 6)
    assert s.field_accuracy["estimate"] == (5, 6)
    assert s.field_accuracy["qualifier"] == (6, 6)
    assert s.field_accuracy["value_high"] == (6, 6)
    json.dumps(s.as_dict())  # serializable


def test_perfect_prediction_scores_one(gold_csv):
    gold = read_gold(str(gold_csv))
    s = score(gold, gold)
    assert s.overall.precision == s.overall.recall == s.overall.f1 == 1.0
    assert not s.misses and not s.false_positives


def test_cli_thresholds(gold_csv, tmp_path, capsys):
    from flows.cli import main

    lake = Lake(tmp_path / "lake")
    lake.commit("indicator_panel", to_table("indicator_panel", PRED), "r1", "test")
    lake.point("r1", "test")
    args = ["evaluate", "--gold", str(gold_csv), "--lake", str(lake.location())]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "precision 0.571" in out and "recall 0.667" in out
    assert "城镇新增就业1.2万人以上" in out and "false positives: 3" in out
    assert main(args + ["--min-precision", "0.5", "--min-recall", "0.6"]) == 0
    assert main(args + ["--min-precision", "0.6"]) == 1
    assert main(args + ["--min-recall", "0.7", "--json", str(tmp_path / "s.json")]) == 1
    assert json.loads((tmp_path / "s.json").read_text())["overall"]["tp"] == 4
    assert main(["evaluate", "--gold", str(gold_csv), "--lake", str(tmp_path / "empty")]) == 2


def test_precision_by_rule_subject_and_confidence(gold_csv):
    """An analyst reviews the doubtful readings first: precision of our values by the rule that
    read them, by how their subject was named and by their confidence, lowest first."""
    s = score(read_gold(str(gold_csv)), panel_to_rows(PRED))
    assert {k: (c.tp, c.n_pred) for k, c in s.by_rule.items()} == {
        "direct": (3, 4), "list_pairs": (1, 2), "implied_plan_gdp": (0, 1)}
    assert {k: (c.tp, c.n_pred) for k, c in s.by_subject.items()} == {
        "explicit": (3, 4), "list": (1, 2), "implied": (0, 1)}
    assert {k: (c.tp, c.n_pred) for k, c in s.by_confidence.items()} == {
        "high": (3, 4), "medium": (1, 2), "low": (0, 1)}
    d = s.as_dict()
    assert d["by_rule"]["list_pairs"] == {"tp": 1, "predicted": 2, "precision": 0.5}
    assert d["by_confidence"]["low"]["precision"] == 0.0
    report = format_report(s)
    table = report[report.index("precision by rule"):report.index("precision by subject")].splitlines()
    assert [line.split()[0] for line in table[1:] if line] == ["implied_plan_gdp", "list_pairs", "direct"]
    # a panel without these columns (an older lake) still scores: "unknown"
    old = [{k: v for k, v in r.items() if k not in ("rule", "subject", "confidence")} for r in PRED]
    assert score(read_gold(str(gold_csv)), panel_to_rows(old)).by_rule["unknown"].n_pred == 7
