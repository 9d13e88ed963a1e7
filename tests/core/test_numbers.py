"""Number spans -> values: unit tests from real report phrases, and property tests."""
import cn2an
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.core.numbers import find_quantities, parse_number
from flows.core.units import MULTIPLIERS, normalize


def one(text):
    qs = [q for q in find_quantities(text) if q.unit is not None]
    assert len(qs) == 1, qs
    return qs[0]


@pytest.mark.parametrize("text,value,unit", [
    ("全年实现地区生产总值887亿元", 887e8, "yuan"),
    ("地区生产总值八百八十七亿元", 887e8, "yuan"),
    ("生产总值1.2万亿元", 1.2e12, "yuan"),
    ("力争全年工业投资迈上千亿元台阶", 1e11, "yuan"),
    ("实际利用外资2001万美元", 2001e4, "usd"),
    ("城镇新增就业4.1万人", 41000, "person"),
    ("产量达14.3亿斤", 14.3e8 * 0.0005, "tonne"),
    ("粮食产量5.31亿吨", 5.31e8, "tonne"),
    ("下降3.2%", 3.2, "percent"),
    ("全体居民人均可支配收入6.3万元", 63000, "yuan"),
    ("总投资3,456.7万元", 34567000, "yuan"),
    ("城镇新增就业一万二千人", 12000, "person"),
])
def test_values(text, value, unit):
    q = one(text)
    assert q.value == pytest.approx(value) and q.unit == unit


@pytest.mark.parametrize("text,low,high", [
    ("国内生产总值增长6%-7%", 6, 7), ("增长4.5%—5%", 4.5, 5), ("增长6.5%-7%", 6.5, 7),
    ("国内生产总值增长6%-6.5%", 6, 6.5), ("增长6-7%", 6, 7),
])
def test_ranges(text, low, high):
    q = one(text)
    assert (q.value, q.value_high) == (low, high)


def test_not_values():
    # years, percentage points and visits are not values of an indicator
    assert find_quantities("2022-2023年") == []
    assert all(q.unit is None for q in find_quantities("提高0.5个百分点,接待游客120万人次"))


def test_one_general_is_not_a_number():
    assert find_quantities("一般公共预算收入") == []


def test_units_table():
    assert normalize(5, "亿斤") == (250000.0, "tonne")
    assert normalize(887, "亿元") == (887e8, "yuan")
    with pytest.raises(ValueError):
        normalize(1, "个")


UNITS = ["元", "美元", "人", "吨", "斤", "公斤", "%"]
MULTS = ["", "万", "亿", "万亿"]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=99999), st.integers(min_value=0, max_value=2),
       st.sampled_from(MULTS), st.sampled_from(UNITS), st.booleans())
def test_any_number_with_a_unit_parses_back(n, decimals, mult, unit, chinese):
    if unit == "%":
        mult = ""
    value = n / (10 ** decimals)
    if chinese:
        if decimals:
            return  # Chinese numerals are written for whole numbers in reports
        written = cn2an.an2cn(str(n))
        if n >= 10000:
            mult = ""   # 一万二千 carries its own 万: reports never write 一万万元
    else:
        written = f"{value:.{decimals}f}"
    text = f"全年实现{written}{mult}{unit},比上年增长"
    q = one(text)
    expected, norm_unit = normalize(value, mult + unit)
    assert q.unit == norm_unit
    assert q.value == pytest.approx(expected, rel=1e-9)


@given(st.integers(min_value=1, max_value=10**8))
def test_chinese_numerals_round_trip(n):
    assert parse_number(cn2an.an2cn(str(n))) == n


def test_multipliers_are_powers_of_ten():
    assert MULTIPLIERS["万亿"] == 1e12 and MULTIPLIERS["千亿"] == 1e11
