"""clean: site debris out, body kept, glossary set apart, text normalised."""
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.core.clean import classify_line, clean
from flows.core.normalise import normalise as normalize
from helpers import SEEDS


def seed(stem):
    return normalize(next(SEEDS.glob(f"{stem}*.txt")).read_text(encoding="utf-8"))


def test_seed_000_footer_and_navigation_out_body_and_glossary_kept():
    c = clean(seed("000"))
    for debris in ("导航菜单", "本文仅代表作者观点", "本文地址", "留言与评论", "验证码"):
        assert debris not in c.text and debris not in c.glossary
    assert "全年实现地区生产总值887亿元" in c.text
    assert c.glossary.strip().startswith("附 件") and "名词解释" in c.glossary
    assert "名词解释" not in c.text
    assert c.removed["glossary"] > 0 and c.removed["footer"] == 1


def test_seed_004_widgets_out():
    c = clean(seed("004"))
    for debris in ("字体大小", "【打印本页】", "保护视力色", "视频解读", "文章来源"):
        assert debris not in c.text
    assert "预计全年地区生产总值282亿元" in c.text
    assert c.removed["font_widget"] == 3


def test_compilation_watermark_out():
    c = clean(seed("002"))
    assert "mishugongzuo" not in c.text and "tizhisiri" not in c.text
    assert c.removed["watermark"] == 1
    assert "2023年彬州市政府工作报告" in c.text


def test_normalize_full_width_zero_width_and_traditional():
    assert normalize("增长６．８％") == "增长6.8%"
    assert normalize("生产总值\u200b887亿元") == "生产总值887亿元"
    assert normalize("地區生產總值增長6.8%,國內經濟發展實現對外開放") == "地区生产总值增长6.8%,国内经济发展实现对外开放"
    assert normalize("增长1 2.5%") == "增长12.5%"


def test_body_lines_that_look_short_are_kept():
    c = clean("各位代表:\n一、2023年工作回顾\n全年实现地区生产总值887亿元。\n6\n")
    assert c.text.splitlines()[-1] == "全年实现地区生产总值887亿元。"
    assert c.removed == {"page_jump": 1}


def test_licence_footer_cut_to_end():
    c = clean("各位代表:\n正文。\n本作品是中华人民共和国的\n法律\n、\n法规\nPublic domain")
    assert c.text == "各位代表:\n正文。" and c.removed["license_footer"] == 5


def test_numbers_broken_by_wraps_are_joined():
    assert normalize("国内生产总值达到39.8 万亿元") == "国内生产总值达到39.8万亿元"
    assert normalize("地区生产总值达到 287.9亿元") == "地区生产总值达到287.9亿元"
    assert normalize("增长6.\n8%") == "增长6.8%"
    assert normalize("居民消费价格涨幅控制在\u3000３．３％") == "居民消费价格涨幅控制在3.3%"
    # a heading and the next line are not joined
    assert normalize("一、2023年工作回顾\n2023年是") == "一、2023年工作回顾\n2023年是"


def _seed_lines() -> list[str]:
    lines = set()
    for p in sorted(SEEDS.glob("*.txt")):
        lines.update(normalize(p.read_text(encoding="utf-8")).split("\n"))
    return sorted(lines)


_LINES = _seed_lines()
_DEBRIS = [ln for ln in _LINES if classify_line(ln)]
_NO_DIGITS = [ln for ln in _LINES if not re.search("[0-9一二三四五六七八九十百千万亿零两]", ln)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_LINES), st.sampled_from(_DEBRIS or [""]),
                          st.sampled_from(_NO_DIGITS or [""]),
                          st.sampled_from(["", "  ", "附件", "名词解释", "附 件", "增长7%"])),
                max_size=40))
def test_body_has_answers_as_clean_does(lines):
    """The screening shortcut (stops at the first body line with a number) says what searching
    the whole cleaned text says: debris lines, a to-the-end footer and a glossary head included."""
    from flows.core.clean import body_has
    from flows.core.read import NUMBER as _NUMBER

    text = "\n".join(lines)
    assert body_has(text, _NUMBER) == (_NUMBER.search(clean(text).text) is not None)
