"""Report metadata (region, tier, province, years) for every seed and corpus report."""
import csv

import pytest

from flows.core.read import read_items
from flows.core.split import split_item
from helpers import CORPUS, DATA, SEEDS


def _reports(path):
    out, k = [], 1
    for item in read_items(path.name, path.read_bytes()):
        for r in split_item(item, k):
            out.append(r)
            k += r.is_report
    return out


SEED_REGIONS = {  # doc_id -> region of tests/data/seeds_indicators.csv
    row["doc_id"]: row["region"]
    for row in csv.DictReader(open(DATA / "seeds_indicators.csv", encoding="utf-8"))}


# county-level cities the gazetteer knows (彬州市, 彬县 until 2018, is not in it: its tier is city)
COUNTY_LEVEL_CITIES = {"乐昌市", "沁阳市", "资兴市", "高安市", "龙南市"}


def test_compilation_gives_24_reports_with_regions_and_years():
    reports = [r for r in _reports(SEEDS / "002_6b340ccef4bd5f14.txt") if r.is_report]
    assert len(reports) == 24
    for r in reports:
        assert r.region == SEED_REGIONS[f"002_6b340ccef4bd5f14#{r.doc_index}"]
        assert (r.review_year, r.plan_year) == (2022, 2023)
        # prefecture-level cities, and county-level ones (乐昌市, 资兴市) at a county's tier
        assert r.tier == ("county" if r.region in COUNTY_LEVEL_CITIES else "city"), r.region


@pytest.mark.parametrize("stem,region,tier,province,review,plan", [
    ("000_c9b0bbd917161d38", "珠海市金湾区", "district", "广东省", 2023, 2024),
    ("001_9eeac6bb57bd8a70", "珠海高新区", "zone", "广东省", 2019, 2020),
    ("003_10be600c11dd0ddc", "厦门市湖里区", "district", "福建省", 2023, 2024),   # delivered 2023-12-27
    ("004_0884824e28a0f3f2", "江门市江海区", "district", "广东省", 2021, 2022),
])
def test_single_seed_reports(stem, region, tier, province, review, plan):
    [r] = [r for r in _reports(SEEDS / f"{stem}.txt") if r.is_report]
    assert (r.region, r.tier, r.province, r.review_year, r.plan_year) == (region, tier, province, review, plan)


def test_corpus_metadata_table():
    expected = {(row["source_name"], int(row["doc_index"])): row
                for row in csv.DictReader(open(DATA / "corpus_metadata.csv", encoding="utf-8"))}
    got = {}
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in (".csv", ".jsonl", ".txt"):
            for r in _reports(path):
                if r.is_report:
                    got[(r.source_name, r.doc_index)] = r
    assert set(got) == set(expected)   # 16 provincial + 7 State Council + 5 district; no resolutions
    wrong = []
    for key, row in expected.items():
        r = got[key]
        for f in ("region", "tier", "province", "review_year", "plan_year"):
            if str(getattr(r, f) or "") != row[f]:
                wrong.append((key, f, getattr(r, f), row[f]))
    assert not wrong


def test_resolutions_are_kept_but_not_reports():
    reports = _reports(CORPUS / "national_2010_2023.jsonl")
    assert sum(not r.is_report for r in reports) == 7
    assert all(r.doc_index == 0 for r in reports if not r.is_report)


def _vendor_row(text, code="130608", place="清苑", title="保定市清苑区2008年政府工作报告"):
    from flows.core.model import SourceItem
    item = SourceItem(source_name="v.xlsx", item_index=1, container="xlsx", encoding="xlsx", text=text,
                      title=title, year=2008, place=place, city="保定", province="河北", region_code=code)
    return [r for r in split_item(item, 1) if r.is_report][0]


BODY = ("政府工作报告\n（2008年3月27日）\n各位代表：\n现在，我代表县政府向大会作政府工作报告，请予审议。\n"
        "一、2007年工作回顾\n2007年，全县经济社会继续保持健康快速发展。全县地区生产总值完成57.5亿元，同比增长12%。"
        "全县财政收入突破3亿元。全县粮食总产稳定。全县城乡居民收入增加。\n二、2008年工作安排\n全县生产总值增长12%。\n")


@pytest.mark.parametrize("body,region,tier", [
    (BODY, "保定市清苑县", "county"),                                   # speaks of 全县 only
    (BODY.replace("我代表县政府", "我代表清苑县人民政府"), "保定市清苑县", "county"),   # names itself
    (BODY.replace("全县", "全区"), "保定市清苑区", "district"),            # a district's report
    (BODY.replace("我代表县政府", "我代表清苑区人民政府"), "保定市清苑区", "district"),
])
def test_a_renamed_county_is_named_as_its_report_names_it(body, region, tier):
    r = _vendor_row(body)
    assert (r.region, r.tier, r.region_code) == (region, tier, "130608")
