"""The families of wording of issue 23: one test per rule, each from a real sentence of the corpus
(tests/data/corpus: the 2026 and 2025 provincial reports, the State Council JSON Lines, 海拉尔区,
the vendor workbook of 保定 counties) or of the seeds. The rule tags are flows/vocab/rules.csv."""
import pytest

from flows.core.extract import extract_mentions
from flows.core.panel import build_panel
from helpers import annual, report_of


def report(body, review=2025, plan=2026, tier="province", plan_part=""):
    return report_of(body, review=review, plan=plan, tier=tier, region="某地", plan_part=plan_part)


def panel(rep):
    return {(r.indicator, r.kind, r.measure): r for r in build_panel([rep], extract_mentions(rep))}


def values(got):
    return {k: m.value for k, m in got.items()}


# ---- compound subjects over a list -----------------------------------------------------------

def test_shared_head_completes_a_list_item():
    # 青海 2025: 粮食 + (蔬菜)产量 = 粮食产量; 油料, 蔬菜产量 are no indicators
    got = annual(report("农牧业增产丰收,粮食、油料、蔬菜产量分别达118.3万吨、33万吨、165万吨,均创十年新高,牛羊出栏937万头只。",
                        review=2024, plan=2025))
    m = got[("grain_output", "actual", "level")]
    assert m.value == pytest.approx(1.183e6) and (m.rule, m.subject) == ("list_compound", "list")
    assert len(got) == 1


def test_shared_head_of_investments():
    # 陕西 2026: 工业 + (工业技改)投资 = 工业投资; 制造业投资 and 工业技改投资 take their values
    got = annual(report("工业、制造业、工业技改投资分别增长9.4%、13.3%、6.1%,民间投资增长4.6%,投资结构和效益进一步优化提升。"))
    assert values(got) == {("industrial_investment", "actual", "growth_pct"): 9.4}


def test_first_second_third_industry_lists():
    # 广西 2026: the third is the tertiary sector; 一产 is not agri_value_added
    got = annual(report("一、二、三产业增加值分别增长4.2%、5%、5.4%。"))
    assert values(got) == {("tertiary_value_added", "actual", "growth_pct"): 5.4}
    assert got[("tertiary_value_added", "actual", "growth_pct")].rule == "list_respectively"


def test_shared_stem_completes_a_later_item():
    # 保定 vendor row (2021): 规上工业产值 and (规上工业)增加值
    got = annual(report("规上工业产值和增加值分别达到92亿元和26.4亿元。", review=2020, plan=2021, tier="county"))
    assert got[("industrial_output", "actual", "level")].value == pytest.approx(92e8)
    m = got[("industrial_value_added", "actual", "level")]
    assert m.value == pytest.approx(26.4e8) and m.rule == "list_compound"


def test_urban_item_completed_from_the_rural_name():
    # 福建 2026
    got = annual(report("城镇居民、农村居民人均可支配收入分别增长4.5%、5.7%,城镇调查失业率4.7%。"))
    assert got[("disposable_income_urban", "actual", "growth_pct")].value == 4.5
    assert got[("disposable_income_rural", "actual", "growth_pct")].value == 5.7


def test_an_item_that_is_no_indicator_takes_its_value_then_a_second_list():
    # 保定 vendor row (2015): 农民人均纯收入 is not disposable income; 同比分别增长 reads the list again
    got = annual(report("城镇居民人均可支配收入、农民人均纯收入预计分别完成22565元、10860元,同比分别增长8.9%、9.1%。",
                        review=2014, plan=2015, tier="county"))
    assert values(got) == {("disposable_income_urban", "actual", "level"): 22565,
                           ("disposable_income_urban", "actual", "growth_pct"): 8.9}
    assert got[("disposable_income_urban", "actual", "level")].estimate
    assert got[("disposable_income_urban", "actual", "growth_pct")].rule == "list_second"


def test_two_names_and_two_values_without_respectively():
    # State Council 2012 (reviewing 2011); 保定 vendor row (2010 targets)
    got = annual(report("城镇新增就业1221万人,城镇居民人均可支配收入和农村居民人均纯收入实际增长8.4%和11.4%。",
                        review=2011, plan=2012, tier="national"))
    m = got[("disposable_income_urban", "actual", "growth_pct")]
    assert m.value == 8.4 and m.rule == "list_pairs"
    got = annual(report("略。", review=2009, plan=2010, tier="county", plan_part=(
        "2010年经济社会发展初定预期目标是:地方生产总值增长12%;规模以上工业增加值增长18%;"
        "全部财政收入和地方一般预算收入可比增长13%和13%;社会消费品零售总额增长18%。")))
    assert got[("fiscal_revenue", "target", "growth_pct")].value == 13
    assert got[("budget_revenue", "target", "growth_pct")].value == 13


def test_a_second_list_of_values_without_respectively():
    # 保定 vendor row (2020)
    got = annual(report("城乡居民人均可支配收入分别完成23538元、9292元,增长10.5%、13.7%。", review=2019, plan=2020, tier="county"))
    assert values(got) == {("disposable_income_urban", "actual", "level"): 23538,
                           ("disposable_income_rural", "actual", "level"): 9292,
                           ("disposable_income_urban", "actual", "growth_pct"): 10.5,
                           ("disposable_income_rural", "actual", "growth_pct"): 13.7}


def test_inner_and_foreign_investment_together():
    # 陕西 2026; seed 002#17 (a leading 以上 after the list holds for every item)
    got = annual(report("新设外资企业428家,三星V8闪存芯片、人和集团新能源材料等外资项目落地投产,实际使用内外资分别增长10%、6.4%。"))
    assert values(got) == {("fdi", "actual", "growth_pct"): 6.4}
    got = annual(report("略。", plan_part="全年利用内外资分别增长12%和15%以上。"))
    assert got[("fdi", "target", "growth_pct")].value == 15


def test_one_value_for_a_list_with_names_we_do_not_know():
    # seed 002#11 (均) and 保定 vendor row (2023, no 均)
    got = annual(report("略。", plan_part="力争工业投资、技改投资均增长15%。"))
    assert got[("industrial_investment", "target", "growth_pct")].value == 15
    got = annual(report("略。", plan_part="有序启动潘家田铁矿露天转地下开采工程等7个重点项目前期工作,力争全年工业投资、技改投资增长20%以上。"))
    m = got[("industrial_investment", "target", "growth_pct")]
    assert (m.value, m.qualifier, m.rule) == (20, "at_least", "list_shared")


# ---- one figure for urban and rural ------------------------------------------------------------

def test_one_figure_without_a_list_is_all_residents():
    # 保定 vendor row (2023 targets); 海拉尔区 2013
    got = annual(report("略。", review=2022, plan=2023, tier="district", plan_part=(
        "全区经济社会发展的预期目标是:地区生产总值增长7%,一般公共预算收入可比增长7%,城乡居民人均可支配收入增长7%,"
        "力争主要经济指标总量(增速)进入全市前列。")))
    m = got[("disposable_income", "target", "growth_pct")]
    assert (m.value, m.rule, m.subject) == (7, "single_all_residents", "implied")
    assert ("disposable_income_urban", "target", "growth_pct") not in got
    got = annual(report("略。", review=2012, plan=2013, tier="district", plan_part="城乡居民可支配收入增长18%。"))
    assert set(got) == {("disposable_income", "target", "growth_pct")}


def test_one_figure_with_respectively_holds_for_every_name():
    # 保定 vendor row (2012 targets): 农民人均纯收入 stays unmapped
    got = annual(report("略。", review=2011, plan=2012, tier="county", plan_part=(
        "奋斗目标是:地区生产总值增长12%左右,城镇居民人均可支配收入、农民人均纯收入分别增长12%,"
        "万元生产总值综合能耗和二氧化碳排放量分别下降3%。")))
    m = got[("disposable_income_urban", "target", "growth_pct")]
    assert (m.value, m.rule) == (12, "single_for_both")
    assert ("disposable_income", "target", "growth_pct") not in got


# ---- implied subjects in the plan ----------------------------------------------------------------

def test_economic_growth_in_the_targets_is_gdp():
    # 河南 2026; 陕西 2026's 县域经济增长 in the review is not
    got = annual(report("略。", plan_part="主要预期目标是:经济增长5%左右、在实际工作中努力争取更好结果,规上工业增加值增长6.5%左右。"))
    m = got[("gdp", "target", "growth_pct")]
    assert (m.value, m.qualifier, m.rule, m.subject) == (5, "about", "implied_plan_gdp", "implied")
    got = annual(report("分类推进县域经济特色化差异化发展,县域经济增长5.5%以上,主导产业产值突破1.5万亿元。"))
    assert not got


def test_investment_in_a_province_targets_is_not_industry_investment():
    # 云南 2025's targets: 产业投资 is no fixed-asset investment (a bare 投资 would be)
    got = annual(report("略。", review=2024, plan=2025, plan_part=(
        "今年全省经济社会发展的主要预期目标是:地区生产总值增长5%左右,产业投资增长7%左右,地方一般公共预算收入增长3%。")))
    assert ("fixed_asset_investment", "target", "growth_pct") not in got
    assert got[("gdp", "target", "growth_pct")].value == 5


def test_county_gdp_in_a_county_report():
    # 保定 vendor row (2021): 县域生产总值 is the county's GDP; a city's 县域 figure is not its own
    sentence = ("今年经济社会发展的主要预期目标是:县域生产总值增长8%以上,一般公共财政预算收入增长7%以上,"
                "固定资产投资增长10%以上。")
    got = annual(report("略。", review=2020, plan=2021, tier="county", plan_part=sentence))
    m = got[("gdp", "target", "growth_pct")]
    assert (m.value, m.qualifier, m.rule) == (8, "at_least", "implied_county_gdp")
    assert ("gdp", "target", "growth_pct") not in annual(report("略。", tier="city", plan_part=sentence))


def test_household_income_in_a_state_council_report():
    # State Council 2023 targets: 居民收入 is disposable income there, but this one has no figure
    got = annual(report("略。", review=2022, plan=2023, tier="national", plan_part=(
        "今年发展主要预期目标是:国内生产总值增长5%左右;城镇新增就业1200万人左右,城镇调查失业率5.5%左右;"
        "居民消费价格涨幅3%左右;居民收入增长与经济增长基本同步;进出口促稳提质,国际收支基本平衡;"
        "粮食产量保持在1.3万亿斤以上;单位国内生产总值能耗和主要污染物排放量继续下降,重点控制化石能源消费,"
        "生态环境质量稳定改善。")))
    assert ("disposable_income", "target", "growth_pct") not in got
    assert got[("cpi", "target", "growth_pct")].value == 3
    assert got[("grain_output", "target", "level")].qualifier == "at_least"   # a floor as a target


def test_state_council_budget_spending_in_the_plan():
    # State Council 2019
    got = annual(report("略。", review=2018, plan=2019, tier="national", plan_part="今年财政支出超过23万亿元,增长6.5%。"))
    assert got[("budget_expenditure", "target", "level")].value == pytest.approx(23e12)
    assert got[("budget_expenditure", "target", "growth_pct")].value == 6.5
    # in a review, 全国财政支出 on some sectors is not the budget's total
    got = annual(report("各级政府加大对科技、教育、文化、卫生、体育事业的投入,全国财政支出2.82万亿元。",
                        review=2011, plan=2012, tier="national"))
    assert not got


# ---- end levels of multi-year reviews ------------------------------------------------------------

def test_end_level_of_a_from_to_review():
    # 保定 vendor row (2003): the level of 2002, not of 1998
    got = annual(report("2002年与1998年相比,国内生产总值由21.70亿元增加到29.44亿元,年均增长11.4%;"
                        "财政收入由7680万元增加到16080万元,按可比口径,年均增长7.5%。", review=2002, plan=2003, tier="county"))
    m = got[("gdp", "actual", "level")]
    assert (m.value, m.year, m.rule) == (pytest.approx(29.44e8), 2002, "end_level")
    assert got[("fiscal_revenue", "actual", "level")].value == pytest.approx(16080e4)
    assert ("gdp", "actual", "growth_pct") not in got
    # 海拉尔区 2016: 公共预算支出 is budget expenditure
    got = annual(report("公共预算支出由11.66亿元增加到29.33亿元,年均增长20.26%。", review=2015, plan=2016, tier="district"))
    assert got[("budget_expenditure", "actual", "level")].value == pytest.approx(29.33e8)


def test_thresholds_passed():
    # 陕西 2026, 天津 2026 (“十四五”以来, no digits), 江苏 2025 (万亿级规模)
    got = annual(report("五年来,我们牢记嘱托、感恩奋进,全面贯彻党中央决策部署,经受住世纪疫情严重冲击,坚定不移推动高质量发展,"
                        "全省工作呈现新的气象,各项事业取得重大成就。一是综合实力再上台阶。"
                        "地区生产总值跨过3万亿元、年均增长5.2%,较“十三五”末净增1万亿元,人均生产总值居全国第12位。"))
    m = got[("gdp", "actual", "level")]
    assert (m.value, m.qualifier, m.rule) == (pytest.approx(3e12), "at_least", "threshold")
    got = annual(report("各位代表!“十四五”以来,面对疫情冲击、经济承压、竞争加剧的严峻复杂形势,GDP年均增长4.4%,"
                        "一般公共预算收入稳步提高,服务业增加值跨上万亿元台阶,居民人均可支配收入年均增长5%。"))
    m = got[("tertiary_value_added", "actual", "level")]
    assert (m.value, m.qualifier, m.year) == (pytest.approx(1e12), "at_least", 2025)
    assert ("gdp", "actual", "growth_pct") not in got
    got = annual(report("2024年地区生产总值达13.7万亿元、增长5.8%、增量全国第一,一般公共预算收入再次达到万亿级规模,"
                        "顺利完成全年经济社会发展主要目标任务。", review=2024, plan=2025))
    assert got[("budget_revenue", "actual", "level")].value == pytest.approx(1e12)


def test_thresholds_crossed_in_turn_give_the_last():
    # 浙江 2026
    got = annual(report("五年来,我们有力有效应对世纪疫情冲击、中美贸易摩擦等重大风险挑战,推动经济社会发展取得新成就、迈上新台阶,"
                        "顺利实现“十四五”经济社会发展主要目标,在省域层面书写了中国式现代化的精彩华章。\n"
                        "——发展质效不断提高,综合实力进一步跃升。全省生产总值连续跨越7万亿、8万亿、9万亿三个大台阶,"
                        "年均增长5.9%,规模稳居全国第4位。"))
    m = got[("gdp", "actual", "level")]
    assert (m.value, m.qualifier, m.rule) == (pytest.approx(9e12), "at_least", "threshold_count")


def test_an_annual_figure_beats_a_threshold_of_the_review():
    # 云南 2026: the five-year review's 突破3万亿元, then the year's own figure
    rep = report("这五年,我们完整准确全面贯彻新发展理念,全力推动高质量发展,经济实力迈上新台阶。\n"
                 "地区生产总值突破3万亿元、年均增长4.7%,人均地区生产总值超1万美元。\n"
                 "各位代表!刚刚过去的2025年,是云南发展历程中具有重要里程碑意义的一年。"
                 "完成地区生产总值32765亿元、增长4.1%,规模以上工业增加值增长4.5%。")
    assert [m.rule for m in extract_mentions(rep) if m.indicator == "gdp" and m.measure == "level"] == \
        ["threshold", "direct"]
    row = panel(rep)[("gdp", "actual", "level")]
    assert row.value == pytest.approx(32765e8) and row.rule == "direct"


def test_doubling_then_the_level_reached():
    # 内蒙古 2026
    got = annual(report("积极争创中国(内蒙古)自由贸易试验区,进出口总值翻番达到2206亿元。"))
    assert got[("foreign_trade", "actual", "level")].value == pytest.approx(2206e8)


def test_sums_over_the_period_go_on_into_the_next_clause():
    # 海拉尔区 2016 (五年共…累计…, 完成…: a sum); seed 002#13 (one year: the level)
    got = annual(report("全区规模以上工业企业达到62户,五年共实施重点工业项目141个,累计完成工业固定资产投资196亿元,"
                        "完成规模以上工业总产值745亿元,形成了以能源、建材、食品、制药、装备制造等为主的产业发展格局。",
                        review=2015, plan=2016, tier="district"))
    assert ("industrial_output", "actual", "level") not in got
    got = annual(report("开展促消费十大行动,累计发放消费券近20亿元,实现社会消费品零售总额4870亿元,增长4.8%。",
                        review=2022, plan=2023, tier="city"))
    assert got[("retail_sales", "actual", "level")].value == pytest.approx(4870e8)


def test_a_five_year_plan_heading_looks_forward():
    # State Council 2011: the 十二五 targets section is no review of 2010
    rep = report("国内生产总值达到39.8万亿元,年均增长11.2%,财政收入从3.16万亿元增加到8.31万亿元。\n"
                 "二、“十二五”时期的主要目标和任务\n"
                 "研究与试验发展经费支出占国内生产总值比重达到2.2%,促进科技成果更好地转化为生产力。",
                 review=2010, plan=2011, tier="national")
    got = annual(rep)
    assert ("rd_intensity", "actual", "level") not in got
    assert got[("gdp", "actual", "level")].value == pytest.approx(39.8e12)


def test_the_next_five_years_and_the_plan_year_inside_them():
    # 保定 vendor row (阜平 2017): 今后五年 looks forward; 到2017年底 is the plan year's target
    rep = report("各位代表,通过五年努力,全县各条战线工作全面铺开。\n"
                 "今后五年的奋斗目标是:到2021年,全县地区生产总值达到110亿元以上、人均达到4.6万元以上,"
                 "一般公共财政预算收入达到7.5亿元以上。\n"
                 "到2017年底,全县农村居民人均可支配收入达到7500元,其中建档立卡贫困户达到4000元。",
                 review=2016, plan=2017, tier="county")
    got = panel(rep)
    assert ("gdp", "actual", "level") not in got and ("budget_revenue", "actual", "level") not in got
    m = got[("disposable_income_rural", "target", "level")]
    assert (m.value, m.year) == (7500, 2017)


# ---- growth words --------------------------------------------------------------------------------

def test_growth_times_and_small_falls():
    # 青海 2025 (增长1.33倍), 海南 2026 (微降)
    got = annual(report("全省招商引资到位资金641.5亿元,实际利用外资增长1.33倍。", review=2024, plan=2025))
    m = got[("fdi", "actual", "growth_pct")]
    assert (m.value, m.rule) == (133, "times")
    got = annual(report("CPI微降0.1%,城镇调查失业率5.2%,城镇、农村居民人均可支配收入分别增长3.4%、5.2%。"))
    assert got[("cpi", "actual", "growth_pct")].value == -0.1


def test_the_change_word_nearest_the_value_decides_its_sign():
    # 重庆 2026 (another subject's fall), seed 002#11 (a fall that narrowed TO 9.6%)
    got = annual(report("推进“渝车出海”行动计划,外贸进出口在对美贸易下降超3成的情况下增长12%。"))
    assert got[("foreign_trade", "actual", "growth_pct")].value == 12
    got = annual(report("全力稳外贸,跨境电商进出口增长94.56%,带动全市进出口总额降幅收窄至9.6%。", review=2022, plan=2023))
    assert got[("foreign_trade", "actual", "growth_pct")].value == -9.6


# ---- older vocabulary ----------------------------------------------------------------------------

def test_older_names_of_industry_and_revenue():
    # 保定 vendor rows (2008, 2010, 2012, 2014)
    got = annual(report("入统工业增加值完成15.8亿元,同比增长33.9%。", review=2007, plan=2008, tier="county"))
    assert values(got) == {("industrial_value_added", "actual", "level"): pytest.approx(15.8e8),
                           ("industrial_value_added", "actual", "growth_pct"): 33.9}
    got = annual(report("全年完成工业增加值5.27亿元,同比增长14.9%,其中,入统工业完成增加值4亿元,同比增长16.1%。",
                        review=2009, plan=2010, tier="county"))
    assert got[("industrial_value_added", "actual", "level")].value == pytest.approx(4e8)
    assert got[("industry_value_added", "actual", "level")].value == pytest.approx(5.27e8)
    got = annual(report("全县规模以上工业企业达到70家,完成产值84.8亿元,同比增长19.3%,其中产值过亿元企业达到20家。",
                        review=2009, plan=2010, tier="county"))
    assert values(got) == {("industrial_output", "actual", "level"): pytest.approx(84.8e8),
                           ("industrial_output", "actual", "growth_pct"): 19.3}
    got = annual(report("全部财政收入完成3.25亿元,按照可比口径,比2006年增长1.63亿元,年均递增15%;"
                        "地方一般预算收入完成2.16亿元,比2006年增长1.5亿元,年均递增26.8%。", review=2011, plan=2012, tier="county"))
    assert got[("budget_revenue", "actual", "level")].year == 2011   # 比2006年: a comparison base
    assert got[("fiscal_revenue", "actual", "level")].value == pytest.approx(3.25e8)


def test_new_jobs_counted_in_person_times():
    # 保定 vendor row (2010 plan)
    got = annual(report("略。", review=2009, plan=2010, tier="county",
                        plan_part="抓好就业再就业工作,年内确保城镇登记失业率控制在4.5%以下,城镇新增就业3000人次。"))
    assert got[("new_urban_jobs", "target", "level")].value == 3000


# ---- floors held, ratios, new subjects, quoted targets -------------------------------------------

def test_floors_held_over_years_are_not_annual_actuals():
    # State Council 2019, 保定 vendor row (2022); seed 004#1: a cap kept this year is
    assert not annual(report("乡村振兴战略有力实施,粮食总产量保持在1.3万亿斤以上。", review=2018, plan=2019, tier="national"))
    assert not annual(report("新增城镇就业3万余人,城镇登记失业率始终控制在4%以内。", review=2021, plan=2022, tier="county")
                      ).get(("unemployment_rate_registered", "actual", "level"))
    got = annual(report("城镇新增就业和再就业近1万人,城镇调查失业率保持在3%以下,就业目标责任制考核连续两年获得全市优秀等次。",
                        review=2021, plan=2022, tier="district"))
    assert got[("unemployment_rate_surveyed", "actual", "level")].qualifier == "at_most"


def test_research_spending_as_a_ratio_to_gdp():
    # 上海 2025
    got = annual(report("全社会研发经费支出相当于全市生产总值的比例达到4.4%左右,每万人口高价值发明专利拥有量提高到57.9件。",
                        review=2024, plan=2025))
    assert got[("rd_intensity", "actual", "level")].value == 4.4


def test_a_value_after_a_break_that_starts_a_new_subject():
    # 保定 vendor row (2008), 青海 2025
    got = annual(report("城镇新增就业岗位1530个,职业介绍670人,阳光工程组织培训5800人。", review=2007, plan=2008, tier="district"))
    assert not got
    got = annual(report("重点领域投资全面发力,固定资产投资增长4.3%,争取“两重”资金51.8亿元、支持项目96个。", review=2024, plan=2025))
    assert values(got) == {("fixed_asset_investment", "actual", "growth_pct"): 4.3}


def test_targets_quoted_in_the_review_are_no_actuals():
    # State Council 2010, 辽宁 2026
    assert not annual(report("提出居民消费价格涨幅3%左右,综合考虑了去年价格变动的翘尾因素。", review=2009, plan=2010, tier="national"))
    assert not annual(report("三是围绕民生福祉,提出8项指标,其中居民人均可支配收入增长与经济增长同步,城镇调查失业率5.5%左右。"))


def test_a_bare_name_after_a_product_is_the_products():
    # 陕西 2026: 猕猴桃…、出口增长 is the fruit's exports
    assert not annual(report("延安苹果、汉中中药材入选国家级优势特色产业集群,猕猴桃综合产值增长8.5%、出口增长53.6%。"))


def test_a_name_after_a_comparison_word_is_its_object():
    # 青海 2026
    got = annual(report("就业形势持续稳定向好,全体居民人均可支配收入增速高于经济增速、突破3万元,基础教育“三项指标”高于全国平均水平。"))
    m = got[("disposable_income", "actual", "level")]
    assert (m.value, m.qualifier) == (30000, "at_least")
    assert ("gdp", "actual", "level") not in got


def test_an_amount_naming_a_class_of_places():
    # 广西 2026, 陕西 2026
    assert not annual(report("常住人口城镇化率五年提高3.89个百分点,经济总量超500亿元的县域增至12个,城乡居民收入倍差从2.42缩小至2.12。"))
    assert not annual(report("县域经济增长5.5%以上,主导产业产值突破1.5万亿元,新增经济总量超200亿元县2个、达到29个。"))


def test_a_bare_head_shares_the_qualifiers_of_the_name_before():
    # 云南 2026: …收入增长2.3%、支出首次超过7000亿元
    got = annual(report("社会消费品零售总额增长2.4%,地方一般公共预算收入增长2.3%、支出首次超过7000亿元,城镇调查失业率均值5.2%。"))
    m = got[("budget_expenditure", "actual", "level")]
    assert (m.value, m.qualifier, m.rule, m.confidence) == (pytest.approx(7e11), "at_least", "sibling", "low")
    assert got[("unemployment_rate_surveyed", "actual", "level")].value == 5.2   # 均值: the same subject


def test_a_clause_on_the_same_total():
    # 广西 2026
    got = annual(report("外贸进出口增长8.4%,总额突破8000亿元、排西部第二。"))
    assert got[("foreign_trade", "actual", "level")].value == pytest.approx(8e11)


def test_a_park_subject_goes_on_into_the_next_clause():
    # seed 002#24: both figures are the parks'
    got = annual(report("略。", plan_part="以创建“五好园区”为目标,着力建强高质量产业发展体系,力争全年园区规模工业增加值增长8%以上,"
                                        "工业固定资产投资增长20%以上,跻身千亿园区行列。"))
    assert not got


# ---- missing aliases -----------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, key, value, tier, years", [
    ("农林牧渔总产值达到3100亿元,增速居全国前列。", ("agri_output", "actual", "level"), 3100e8, "province", (2024, 2025)),
    ("货物贸易出口达3.9万亿元、增长9.5%,占全国份额提高到15.3%。", ("exports", "actual", "level"), 3.9e12, "province", (2024, 2025)),
    ("去年对外贸易总额达到2.97万亿美元,开放型经济水平快速提升。", ("foreign_trade", "actual", "level"), 2.97e12, "national", (2010, 2011)),
    ("外贸出口总额增长8%。", ("exports", "actual", "growth_pct"), 8, "province", (2025, 2026)),
    ("粮食面积、总产、单产实现“两增一稳”,总产762亿斤。", ("grain_output", "actual", "level"), 762e8 * 0.0005, "province", (2024, 2025)),
    ("全年实施工业重点项目38个,工业固定资产投资完成93.1亿元,同比增长74.5%。", ("industrial_investment", "actual", "level"),
     93.1e8, "district", (2011, 2012)),
    ("全年生产总值同比增长2%,一般公共预算同比增长0.5%,固定资产投资同比增长9.8%。", ("budget_revenue", "actual", "growth_pct"),
     0.5, "county", (2023, 2024)),
])
def test_missing_aliases(sentence, key, value, tier, years):
    got = annual(report(sentence, review=years[0], plan=years[1], tier=tier))
    assert got[key].value == pytest.approx(value)


def test_goods_trade_and_urban_income_in_a_plan():
    # 海南 2026, 海拉尔区 2012 (城镇人均可支配收入)
    got = annual(report("略。", plan_part="优化贸易结构,加快离岸贸易和中间品贸易发展,货物贸易增长10%,跨境电商增长快于货物贸易。"))
    assert got[("foreign_trade", "target", "growth_pct")].value == 10
    got = annual(report("略。", review=2011, plan=2012, tier="district",
                        plan_part="2012年全区经济社会发展的预期目标是:城镇人均可支配收入达到23896元,同比增长18%。"))
    assert got[("disposable_income_urban", "target", "level")].value == 23896


def test_an_amount_in_yi_without_yuan():
    # 保定 vendor row (2022 targets)
    got = annual(report("略。", review=2021, plan=2022, tier="county",
                        plan_part="今年经济社会发展的主要预期目标是:一般公共预算收入超10亿,PM2.5、PM10平均浓度全省排名退后十。"))
    m = got[("budget_revenue", "target", "level")]
    assert (m.value, m.qualifier) == (pytest.approx(1e9), "at_least")


# ---- sub-levels and period cues ------------------------------------------------------------------

def test_a_sub_level_figure_only_when_nothing_else_is_given():
    # 海拉尔区 2016
    rep = report("略。", review=2015, plan=2016, tier="district", plan_part=(
        "经济社会发展主要预期目标是:地区生产总值增长7.5%,达到309亿元;区本级固定资产投资增长13%;社会消费品零售总额增长9%。"))
    row = panel(rep)[("fixed_asset_investment", "target", "growth_pct")]
    assert (row.value, row.rule, row.confidence) == (13, "sub_level", "low")
    # the same with a whole-region figure added (no report of the corpus has both)
    rep = report("略。", review=2015, plan=2016, tier="district", plan_part=(
        "经济社会发展主要预期目标是:区本级固定资产投资增长13%;全社会固定资产投资增长10%。"))
    assert panel(rep)[("fixed_asset_investment", "target", "growth_pct")].value == 10


def test_a_period_cue_holds_only_where_it_opens_the_sentence():
    # 广东 2025 (五年行动计划), 浙江 2025 (累计38家), 江苏 2025 (连续3年净增加)
    got = annual(report("深入实施“民生十大工程”五年行动计划,全面完成省十件民生实事,居民人均可支配收入增长4.4%,“三保”底线兜实兜牢。",
                        review=2024, plan=2025))
    assert got[("disposable_income", "actual", "growth_pct")].value == 4.4
    got = annual(report("新增全国重点实验室18家、累计38家,新增重大科技成果110项,全社会研发投入强度预计达3.2%。", review=2024, plan=2025))
    assert got[("rd_intensity", "actual", "level")].estimate
    got = annual(report("耕地总量连续3年净增加,新建和改造高标准农田298万亩,粮食面积、总产、单产实现“两增一稳”,总产762亿斤。",
                        review=2024, plan=2025))
    assert ("grain_output", "actual", "level") in got


def test_the_starting_point_of_a_change_keeps_its_own_period():
    # 广西 2026: 从上半年5.5%降到5.3% is the year-end rate
    got = annual(report("城镇新增就业42.3万人,年末城镇调查失业率从上半年5.5%降到5.3%。"))
    assert got[("unemployment_rate_surveyed", "actual", "level")].value == 5.3


def test_a_comparison_year_is_not_the_figures_year():
    # 保定 vendor row (阜平 2017)
    got = annual(report("2016 年全县地区生产总值完成36.59亿元,是2011 年的1.42 倍,年均增速保持在7.2%以上;"
                        "财政收入完成3.62亿元,比2011 年翻了将近一番。", review=2016, plan=2017, tier="county"))
    assert got[("fiscal_revenue", "actual", "level")].year == 2016


def test_a_level_kept_through_a_multi_year_review():
    # 保定 vendor row (易县 2021): over the 十三五, not in 2020 alone
    got = annual(report("过去的五年是幸福指数大幅提升的五年。“十三五”时期,全县民生投入140.39亿元,占一般公共预算支出的86.78%。"
                        "城镇新增就业2.2万人,城镇登记失业率控制在4.5%以内。", review=2020, plan=2021, tier="county"))
    assert not got


def test_all_after_a_list_of_levels():
    # 保定 vendor row (2022): 均增长 after the list's values holds for both names
    got = annual(report("实际利用外资完成473万美元,同比增长18.8%;城乡居民人均可支配收入分别完成31098元、12347元,均增长8.5%。",
                        review=2021, plan=2022, tier="county"))
    assert got[("disposable_income_urban", "actual", "growth_pct")].value == 8.5
    assert got[("disposable_income_rural", "actual", "growth_pct")].value == 8.5


def test_qualifiers_of_flat_and_of_another_clause():
    # 上海 2025 (基本持平: about 0); 保定 vendor row (2008: 超过 compares growth rates, the amount is exact)
    got = annual(report("居民消费价格与上年基本持平。", review=2024, plan=2025))
    m = got[("cpi", "actual", "growth_pct")]
    assert (m.value, m.qualifier) == (0, "about")
    got = annual(report("其中一般预算收入增幅首次超过总收入,完成1.1亿元,同比增长18.9%。", review=2007, plan=2008, tier="district"))
    assert got[("budget_revenue", "actual", "level")].qualifier is None


def test_in_one_sentence_the_name_closer_to_the_catalogue_wins():
    # 海拉尔区 2012: 财政总收入 and 地方财政总收入 are both fiscal_revenue's names (review ruling 9)
    rep = report("2011年,地区生产总值完成198.5亿元,同比增长22.3%;财政总收入完成29亿元,同比增长67.3%;"
                 "地方财政总收入完成16亿元,同比增长23.2%;全社会固定资产投资完成155.4亿元,同比增长101.6%。",
                 review=2011, plan=2012, tier="district")
    got = panel(rep)
    assert got[("fiscal_revenue", "actual", "level")].value == pytest.approx(16e8)
    assert got[("fiscal_revenue", "actual", "growth_pct")].value == 23.2
