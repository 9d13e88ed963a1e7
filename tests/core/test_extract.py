"""One test per extraction rule, each from a real report sentence (seeds or corpus)."""
import pytest

from flows.core.extract import extract_mentions
from helpers import annual, report_of


def report(body, review=2022, plan=2023, tier="city", plan_part=""):
    return report_of(body, review=review, plan=plan, tier=tier, region="某市", plan_part=plan_part)


def test_level_and_growth():
    got = annual(report("全年完成生产总值326.3亿元、超过兴平居咸阳第三,增长6.8%。"))
    assert got[("gdp", "actual", "level")].value == pytest.approx(326.3e8)
    assert got[("gdp", "actual", "growth_pct")].value == 6.8


def test_negative_growth():
    got = annual(report("固定资产投资1972.6亿元、下降8.8%。"))
    assert got[("fixed_asset_investment", "actual", "growth_pct")].value == -8.8


def test_fell_to_is_a_level_not_a_fall():
    got = annual(report("居民消费价格涨幅回落到2.6%。"))
    assert got[("cpi", "actual", "growth_pct")].value == 2.6


def test_flat_is_zero():
    got = annual(report("社会消费品零售总额与上年持平。"))
    assert got[("retail_sales", "actual", "growth_pct")].value == 0


def test_targets_with_qualifiers_and_range():
    got = annual(report("略。", plan_part="今年主要预期目标是:地区生产总值增长6%-7%,规模以上工业增加值增长9%左右,"
                                        "新增就业人数7000人以上,城镇登记失业率控制在3%以下。"))
    g = got[("gdp", "target", "growth_pct")]
    assert (g.value, g.value_high, g.qualifier, g.year) == (6, 7, "range", 2023)
    assert got[("industrial_value_added", "target", "growth_pct")].qualifier == "about"
    assert got[("new_urban_jobs", "target", "level")].qualifier == "at_least"
    assert got[("unemployment_rate_registered", "target", "level")].qualifier == "at_most"


def test_achieved_figure_under_control_is_exact():
    got = annual(report("城镇登记失业率控制在2.27%。"))
    assert got[("unemployment_rate_registered", "actual", "level")].qualifier is None


def test_respectively_lists_and_trailing_qualifier():
    got = annual(report("略。", plan_part="城镇和农村居民人均可支配收入分别增长7%和8%左右。"))
    assert got[("disposable_income_urban", "target", "growth_pct")].value == 7
    assert got[("disposable_income_rural", "target", "growth_pct")].value == 8
    assert got[("disposable_income_urban", "target", "growth_pct")].qualifier == "about"


def test_urban_rural_levels_then_growths():
    got = annual(report("其中城乡居民人均可支配收入达到39529元和16183元,分别增长4.7%和6.6%。"))
    assert got[("disposable_income_urban", "actual", "level")].value == 39529
    assert got[("disposable_income_rural", "actual", "level")].value == 16183
    assert got[("disposable_income_rural", "actual", "growth_pct")].value == 6.6


def test_estimate_reaches_every_figure_of_its_sentence():
    got = annual(report("预计全年地区生产总值比增1.5%,一般公共预算总收入281.9亿元,其中区级一般公共预算收入59.4亿元、比增6.2%。"
                        "工业投资完成28亿元,比增36.6%。"))
    assert got[("gdp", "actual", "growth_pct")].estimate
    assert got[("budget_revenue", "actual", "growth_pct")].estimate
    assert not got[("industrial_investment", "actual", "level")].estimate


def test_partial_and_multi_year_never_annual():
    ms = extract_mentions(report("前三季度,全市实现地区生产总值1887.2亿元、同比增长3.1%。"
                                 "过去五年,地区生产总值年均增长6.5%。"))
    assert {m.period for m in ms} == {"partial_year", "multi_year"}


def test_end_of_review_level_is_that_years_actual():
    got = annual(report("国内生产总值从26.6万亿元增加到51.9万亿元。", review=2012, plan=2013))
    assert got[("gdp", "actual", "level")].value == pytest.approx(51.9e12)


def test_threshold_then_exact_figure():
    got = annual(report("地区生产总值突破千亿元大关,达1000.24亿元,增长4.7%。"))
    m = got[("gdp", "actual", "level")]
    assert m.value == pytest.approx(1000.24e8) and m.qualifier is None


def test_threshold_in_chinese_numerals():
    got = annual(report("略。", plan_part="力争全年工业投资迈上千亿元台阶。"))
    m = got[("industrial_investment", "target", "level")]
    assert m.value == pytest.approx(1e11) and m.qualifier == "at_least" and m.strength == "力争"


def test_share_and_sub_category_are_not_the_indicator():
    got = annual(report("民生支出261.9亿元、占一般公共预算支出78.5%。跨境电商进出口223亿元,增长60%。"
                        "规上工业增加值262.59亿元,铜箔产业增加值同比增长26.2%。"))
    assert ("budget_expenditure", "actual", "growth_pct") not in got
    assert ("foreign_trade", "actual", "level") not in got
    assert ("industrial_value_added", "actual", "growth_pct") not in got


def test_park_figures_are_not_the_city():
    got = annual(report("园区规上企业工业总产值完成350.9亿元,同比增长9.8%;工业增加值完成69.5亿元。"))
    assert not got


def test_strength_column():
    got = annual(report("略。", plan_part="今年预期目标:地区生产总值力争增长6%,确保城镇登记失业率控制在3%以内,固定资产投资增长8%。"))
    assert got[("gdp", "target", "growth_pct")].strength == "力争"
    assert got[("unemployment_rate_registered", "target", "level")].strength == "确保"
    assert got[("fixed_asset_investment", "target", "growth_pct")].strength == "plain"


def test_grain_in_jin_and_bare_output():
    got = annual(report("粮食生产再获丰收,总产108.6亿斤。"))
    assert got[("grain_output", "actual", "level")].value == pytest.approx(108.6e8 * 0.0005)


def test_evidence_offsets_point_into_the_text():
    rep = report("全年实现地区生产总值887亿元。")
    [m] = extract_mentions(rep)
    assert rep.text[m.start:m.end] == m.value_text == "887亿元"
    assert m.quote in rep.text and rep.text[m.sentence_start:m.sentence_end].strip() == m.sentence


def test_explicit_absence_of_a_target():
    # State Council 2020: no GDP target was set
    rep = report("略。", review=2019, plan=2020, plan_part=(
        "需要说明的是,我们没有提出全年经济增速具体目标,主要考虑是全球疫情和经贸形势不确定性很大。"
        "城镇新增就业900万人以上。"))
    ms = extract_mentions(rep)
    [absent] = [m for m in ms if m.status == "no_target"]
    assert (absent.indicator, absent.measure, absent.value, absent.year) == ("gdp", "growth_pct", None, 2020)
    from flows.core.panel import build_panel
    rows = {(r.indicator, r.measure): r for r in build_panel([rep], ms)}
    assert rows[("gdp", "growth_pct")].status == "no_target"
    assert rows[("new_urban_jobs", "level")].status == "reported"


def test_respectively_after_names_that_are_not_indicators():
    got = annual(report("基础设施投资、工业投资分别增长3.2%、6.1%。"))
    assert got[("industrial_investment", "actual", "growth_pct")].value == 6.1


def test_leading_qualifier_holds_for_the_whole_list():
    got = annual(report("城镇和农村居民人均可支配收入分别超过8万元、4.5万元。"))
    assert got[("disposable_income_rural", "actual", "level")].qualifier == "at_least"


def test_branch_figures_are_not_the_whole_region():
    got = annual(report("规模以上工业增加值增长7.3%,能源工业增加值增长8.1%,蔬菜出口量增长30%,"
                        "集成电路、汽车零配件、锂电池出口分别增长107.9%、46.7%、57.4%。"))
    assert ("industry_value_added", "actual", "growth_pct") not in got
    assert ("exports", "actual", "growth_pct") not in got
    assert got[("industrial_value_added", "actual", "growth_pct")].value == 7.3


def test_an_increment_is_not_a_level():
    got = annual(report("一般公共预算收入增加近1000亿元。"))
    assert ("budget_revenue", "actual", "level") not in got


def test_one_value_for_a_list_of_names():
    got = annual(report("略。", plan_part="社会消费品零售总额、固定资产投资增长4%左右。"))
    assert got[("retail_sales", "target", "growth_pct")].value == 4
    assert got[("fixed_asset_investment", "target", "growth_pct")].value == 4
