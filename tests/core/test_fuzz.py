"""Fuzzing the pure core: >= 10,000 generated inputs (random Unicode, mutated real sentences)
through clean, split, extract and panel. Nothing raises; nothing implausible reaches the panel."""
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import panel_rows
from flows.core.clean import clean
from flows.core.normalise import normalise as normalize
from flows.core.model import SourceItem
from flows.core.panel import plausible_ranges

SENTENCES = [
    "全年实现地区生产总值887亿元,增长6.8%。",
    "今年经济社会发展主要预期目标是:地区生产总值增长7%左右,规模以上工业增加值增长9%。",
    "城乡居民人均可支配收入分别增长4.9%和7.1%。",
    "预计全年地区生产总值比增1.5%,一般公共预算总收入281.9亿元。",
    "国内生产总值从26.6万亿元增加到51.9万亿元,年均增长9.3%。",
    "固定资产投资1972.6亿元、下降8.8%。",
    "力争全年工业投资迈上千亿元台阶,城镇登记失业率控制在3%以内。",
    "粮食生产再获丰收,总产108.6亿斤。",
    "前三季度,全市实现地区生产总值1887.2亿元、同比增长3.1%。",
    "我们没有提出全年经济增速具体目标。",
]
HEAD = "2023年某市政府工作报告\n各位代表:\n一、2022年工作回顾\n"
PLAN = "\n二、2023年工作安排\n"
NOISE = "０１２３４５６７８９％，。、亿万千百十一二三四五六七八九零增长下降左右以上以内分别约超过\u200b\u3000 \n-—~至到从由"


def mutate(rng: random.Random, s: str) -> str:
    chars = list(s)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        i = rng.randrange(len(chars) + 1)
        if op < 0.3 and chars:
            del chars[min(i, len(chars) - 1)]
        elif op < 0.6:
            chars.insert(i, rng.choice(NOISE))
        elif op < 0.8 and chars:
            j = rng.randrange(len(chars))
            chars[min(i, len(chars) - 1)], chars[j] = chars[j], chars[min(i, len(chars) - 1)]
        else:
            chars.insert(i, str(rng.choice([0, 1, 9, 99, 1e9, 123456789012, 0.001, 5000, -3])))
    return "".join(chars)


def check_panel(text: str) -> int:
    ranges = plausible_ranges()
    rows = panel_rows([SourceItem("fuzz.txt", 1, "txt", "utf-8", text)])
    for r in rows:
        if r.status == "no_target":
            assert r.value is None
            continue
        lo, hi = ranges[(r.measure, r.unit)]
        assert lo <= r.value <= hi, r
        assert r.value_high is None or r.value <= r.value_high
        assert r.kind in ("actual", "target") and r.measure in ("level", "growth_pct")
    return len(rows)


def test_ten_thousand_mutated_reports():
    rng = random.Random(20261123)
    rows = 0
    for n in range(10_000):
        body = "".join(mutate(rng, rng.choice(SENTENCES)) for _ in range(rng.randint(1, 4)))
        plan = "".join(mutate(rng, rng.choice(SENTENCES)) for _ in range(rng.randint(0, 3)))
        rows += check_panel(HEAD + body + PLAN + plan)
    assert rows > 10_000   # the mutants still carry values: the checks above did run


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_unicode_never_raises(text):
    clean(normalize(text))
    check_panel(text)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(SENTENCES + list(NOISE)), max_size=30))
def test_shuffled_fragments(parts):
    check_panel(HEAD + "".join(parts))
