"""flows/core/normalise.py: export debris undone before cleaning, and normalising twice changes
nothing (a property test over text built from the characters that matter)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.core.normalise import normalise

# the pieces normalisation acts on, and plain report text around them
PIECES = st.sampled_from([
    "\\r\\n", "\\n", "\\t", "\\r", "\\", "&nbsp;", "&amp;", "&amp;nbsp;", "&#12290;", "&#65297;", "&#38;",
    "&emsp;", "&lt;", "&", ";", "nbsp", "?", "??", "????", "？", "？？", "１", "２．５", "％", "　", " ",
    "\n", "\t", "\r\n", "\u200b", "\ufeff", "增长", "6.8%", "亿元", "500 亿元", "1 2.5", "6.\n8%",
    "國內生產總值", "地區", "发展", "经济", "全市", "政府工作报告", "年", "A", "x",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=3)), max_size=40).map("".join))
def test_normalising_twice_changes_nothing(text):
    once = normalise(text)
    assert normalise(once) == once


def test_vendor_export_debris():
    raw = ("政府工作报告\\r\\n（政治协商稿）\\r\\n2003年4月7日\\r\\n各位委员：\\r\\n&nbsp; 现在，我代表清苑县"
           "人民政府向大会报告工作。\\r\\n保定市满城区人民政府区长?? ?? 程?? 杰")
    out = normalise(raw)
    assert out.split("\n")[:4] == ["政府工作报告", "(政治协商稿)", "2003年4月7日", "各位委员:"]
    assert "&nbsp;" not in out and "?" not in out and "\\r" not in out
    assert out.endswith("程  杰") or out.endswith("程 杰")


def test_entities_full_width_and_spaces_in_numbers():
    assert normalise("增长６．８％") == "增长6.8%"
    assert normalise("达到&amp;nbsp;500 亿元，增长&#65302;%") == "达到500亿元,增长6%"
    assert normalise("政??府??工??作??报??告") == "政 府 工 作 报 告"
    assert normalise("为什么?因为") == "为什么?因为"        # one question mark is content
    assert normalise("增长1 2.5%") == "增长12.5%"
