"""flows/core/sources.py: containers, encodings, errors. Inputs are built in code (no /work/shared)."""
from __future__ import annotations

import codecs
import json
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flows.core.model import SourceError, SourceItem
from flows.core.read import (
    decode_bytes,
    detect_container,
    html_to_text,
    read_items,
    read_items_with_errors,
)

SIMP = ("各位代表：现在，我代表市人民政府向大会报告工作，请予审议，并请政协委员提出意见。"
        "全市地区生产总值增长5.2%，城乡居民人均可支配收入分别增长4.8%、6.5%。")
TRAD = ("各位代表：現在，我代表市人民政府向大會報告工作，請予審議，並請政協委員提出意見。"
        "全市地區生產總值增長5.2%，城鄉居民人均可支配收入分別增長4.8%、6.5%。")
REPORT = SIMP + "\n一、2023年工作回顾\n" + SIMP + "\n二、2024年主要目标\n" + SIMP + "\n"


def one(name: str, data: bytes) -> SourceItem:
    items = read_items(name, data)
    assert len(items) == 1
    return items[0]


def code_of(name: str, data: bytes) -> str:
    with pytest.raises(SourceError) as exc:
        read_items(name, data)
    assert exc.value.reason  # a message for a person
    return exc.value.code


# ---- encodings -------------------------------------------------------------------------------

@pytest.mark.parametrize("codec, expected", [
    ("utf-8", "utf-8"),
    ("utf-8-sig", "utf-8-sig"),
    ("utf-16", "utf-16"),
    ("utf-16-le", "utf-16-le"),     # no BOM
    ("utf-16-be", "utf-16-be"),     # no BOM
    ("utf-32", "utf-32"),
    ("gbk", "gb18030"),
    ("gb2312", "gb18030"),
    ("gb18030", "gb18030"),
])
def test_txt_encodings(codec, expected):
    item = one("r.txt", REPORT.encode(codec))
    assert item.text == REPORT
    assert item.encoding == expected
    assert (item.container, item.item_index, item.title) == ("txt", 1, None)


def test_bom_variants_are_stripped():
    for bom, codec in ((codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF32_LE, "utf-32-le")):
        item = one("r.txt", bom + REPORT.encode(codec))
        assert item.text == REPORT
        assert item.encoding in ("utf-16", "utf-32")
    assert one("r.txt", b"\x84\x31\x95\x33" + REPORT.encode("gb18030")).text == REPORT  # GB18030 BOM


def test_big5_traditional():
    item = one("r.txt", (TRAD * 3).encode("big5"))
    assert item.encoding == "big5"
    assert item.text == TRAD * 3


@pytest.mark.parametrize("text", [SIMP[:6], SIMP[:12], "第一条", "海拉尔区2012年"])
def test_short_gbk_is_read_as_gb(text):
    assert decode_bytes(text.encode("gbk")) == (text, "gb18030")


def test_gbk_crlf_like_hailar():
    raw = ("政 府 工 作 报 告\r\n\r\n\u3000\u3000各位代表：\r\n\u3000\u3000" + SIMP + "\r\n") * 5
    item = one("hailar_2012.txt", raw.encode("gbk"))
    assert item.encoding == "gb18030"
    assert "\r" not in item.text
    assert item.text == raw.replace("\r\n", "\n")
    assert item.text.startswith("政 府 工 作 报 告\n\n\u3000\u3000")  # no other cleaning


def test_newlines_cr_and_crlf():
    assert one("r.txt", "甲\r\n乙\r丙\n丁".encode("utf-8")).text == "甲\n乙\n丙\n丁"


def test_full_width_and_traditional_untouched():
    text = "ＧＤＰ增長５．２％，總值１２３４億元。" + SIMP
    assert one("r.txt", text.encode("utf-8")).text == text


def test_gbk_with_a_damaged_byte_is_read_with_a_replacement():
    raw = (SIMP * 40).encode("gbk")
    raw = raw[:300] + b"\x80\x80" + raw[302:]
    item = one("r.txt", raw)
    assert item.encoding == "gb18030"
    assert 1 <= item.text.count("\ufffd") <= 2


def test_utf8_with_a_damaged_byte_is_read_with_a_replacement():
    raw = (SIMP * 40).encode("utf-8")
    raw = raw[:301] + b"\xff" + raw[302:]
    item = one("r.txt", raw)
    assert item.encoding == "utf-8"
    assert item.text.count("\ufffd") == 3  # one damaged character: its three bytes are replaced


def test_too_many_damaged_bytes_is_undecodable():
    raw = (SIMP * 40).encode("gbk")
    raw = raw[:300] + b"\xff" * 60 + raw[360:]
    assert code_of("r.txt", raw) == "undecodable"


def test_html_meta_charset_is_used():
    page = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">' \
           f"<title>报告</title></head><body><p>{SIMP}</p></body></html>"
    item = one("p.html", page.encode("gbk"))
    assert (item.encoding, item.title, item.text) == ("gb18030", "报告", SIMP)


# ---- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, code", [
    (b"", "empty"),
    (b" \r\n\t\n", "empty"),
    (codecs.BOM_UTF8, "empty"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "bad_document"),     # a truncated PDF
    (b"PK\x03\x04\x14\x00\x06\x00word/document.xml", "archive"),   # damaged: expand_source says more
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, "bad_document"),
    (b"\x1f\x8b\x08\x00" + bytes(range(256)), "binary"),
    (bytes(range(256)) * 4, "binary"),
    ("正文".encode("utf-8") + b"\x00\x01\x02" + "正文".encode("utf-8"), "binary"),
    (bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15]) * 20 + b"abc", "binary"),
    (b"{\\rtf1\\ansi\\deff0 {\\fonttbl}", "unsupported_format"),
])
def test_rejected_inputs(data, code):
    assert code_of("x.txt", data) == code


def test_random_high_bytes_are_undecodable():
    import random
    rnd = random.Random(7)
    data = bytes(rnd.randint(0x80, 0xFF) for _ in range(4000))
    assert code_of("x.txt", data) in ("undecodable", "garbage")


def test_private_use_garbage():
    text = "\ue000\ue001\ue0a0\ue123" * 50 + SIMP
    assert code_of("x.txt", text.encode("utf-8")) == "garbage"


def _as_windows_1252(raw: bytes) -> str:
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in raw)


@pytest.mark.parametrize("mangled", [
    _as_windows_1252(SIMP.encode("utf-8")),        # UTF-8 read as cp1252, saved as UTF-8
    SIMP.encode("utf-8").decode("latin-1"),        # UTF-8 read as Latin-1
    SIMP.encode("gbk").decode("latin-1"),          # GBK read as Latin-1
])
def test_mojibake_is_rejected(mangled):
    with pytest.raises(SourceError) as exc:
        read_items("x.txt", mangled.encode("utf-8"))
    assert exc.value.code == "mojibake"
    assert "各位代表" in exc.value.reason   # shows what the text should have been


def test_plain_latin_text_is_not_mojibake():
    text = "Président café naïve résumé — façade, jalapeño, über, smörgåsbord. " * 3
    assert one("x.txt", text.encode("utf-8")).text == text


def test_error_is_a_value_error_with_code():
    with pytest.raises(ValueError):
        read_items("x.txt", b"")


def test_bytes_only():
    with pytest.raises(TypeError):
        read_items("x.txt", "text")  # type: ignore[arg-type]


# ---- container detection ---------------------------------------------------------------------

@pytest.mark.parametrize("name, container", [
    ("a.txt", "txt"), ("a.TEXT", "txt"), ("dir/a", "txt"), ("a.md", "txt"), (".hidden", "txt"),
    ("a.html", "html"), ("a.HTM", "html"), ("a.csv", "csv"), ("a.tsv", "csv"),
    ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("a.json", "jsonl"), ("d.v1/a", "txt"),
])
def test_container_by_extension(name, container):
    assert detect_container(name) == container


def test_html_in_txt_is_sniffed():
    page = "<!DOCTYPE html>\n<html><head><title>T</title></head><body><p>正文一</p><p>正文二</p></body></html>"
    item = one("page.txt", page.encode("utf-8"))
    assert (item.container, item.title, item.text) == ("html", "T", "正文一\n正文二")
    fragment = "<div><p>一</p><p>二</p><p>三</p><br><span>四</span></div>"
    assert one("frag", fragment.encode("utf-8")).container == "html"


def test_text_mentioning_tags_stays_txt():
    text = "说明：网页中的<p>标签表示段落。\n" + SIMP
    assert one("a.txt", text.encode("utf-8")).container == "txt"


def test_html_file_without_tags_is_txt():
    item = one("a.html", "第一行\n第二行".encode("utf-8"))
    assert (item.container, item.text) == ("txt", "第一行\n第二行")


# ---- html ------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>  2024年 政府工作报告 &amp; 附件 </title>
<style>p { color: red }</style><script>var a = "<p>不要</p>";</script></head>
<body><nav><a href="/">首页</a> | <a>导航菜单</a></nav>
<header><div>网站标题</div></header>
<div class="content"><h1>政府工作报告</h1>
<p>各位代表：<br>现在，我代表市人民政府，
向大会报告工作。</p><p>地区生产总值&nbsp;增长5.2%&lt;预计&gt;</p>
<ul><li>第一条</li><li>第二<b>条</b></li></ul>
<table><tr><th>指标</th><th>单位</th><th>数值</th></tr><tr><td>GDP</td><td>亿元</td><td>1234</td></tr></table>
<div hidden>隐藏</div><div style="display: none">也隐藏</div><div role="navigation">面包屑</div>
<pre>  保留
    缩进</pre>
<article><header>文章头</header><p>English words
wrap here</p></article>
</div><footer>版权所有</footer><noscript>请启用脚本</noscript><script>x()</script></body></html>"""


def test_html_visible_text():
    text, title = html_to_text(PAGE)
    assert title == "2024年 政府工作报告 & 附件"
    assert text.split("\n") == [
        "政府工作报告",
        "各位代表：",
        "现在，我代表市人民政府，向大会报告工作。",   # source line break between CJK vanishes
        "地区生产总值\u00a0增长5.2%<预计>",            # entities unescaped, nbsp kept
        "第一条",
        "第二条",
        "指标\t单位\t数值",
        "GDP\t亿元\t1234",
        "  保留",
        "    缩进",
        "文章头",                                       # header inside <article> is content
        "English words wrap here",
    ]


def test_html_item():
    item = one("sub/page.htm", PAGE.encode("utf-8"))
    assert (item.container, item.encoding, item.item_index) == ("html", "utf-8", 1)
    assert "导航菜单" not in item.text and "不要" not in item.text and "版权所有" not in item.text


def test_html_without_body_or_head_end():
    assert html_to_text("<html><head><title>x</title><p>没有body的页面") == ("没有body的页面", "x")


def test_html_with_no_visible_text():
    page = "<html><head><title>t</title><script>var x = 1;</script></head><body><nav>首页</nav></body></html>"
    assert code_of("p.html", page.encode("utf-8")) == "empty"


def test_html_gbk_without_meta():
    page = f"<html><body><p>{SIMP}</p><p>{SIMP}</p></body></html>"
    item = one("p.html", page.encode("gbk"))
    assert item.encoding == "gb18030"
    assert item.text == SIMP + "\n" + SIMP


# ---- csv -------------------------------------------------------------------------------------

def _csv(rows: list[list[str]]) -> str:
    import csv
    import io
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def test_csv_like_prov2026():
    body = "下载\n打印\n2026年河南省政府工作报告\r\n各位代表：\r\n" + SIMP
    text = _csv([["province", "year", "title", "source_url", "publish_date", "full_text"],
                 ["河南省", "2026", "2026年河南省政府工作报告", "https://example.org/a?id=1", "2026-02-03", body]])
    item = one("prov2026_henan.csv", text.encode("utf-8-sig"))
    assert item == SourceItem("prov2026_henan.csv", 1, "csv", "utf-8-sig", body.replace("\r\n", "\n"),
                              title="2026年河南省政府工作报告", year=2026, url="https://example.org/a?id=1",
                              publish_date="2026-02-03", province="河南省")


def test_csv_rows_and_indices():
    text = _csv([["Title", "TEXT", "Year", "url"],
                 ["甲", "正文甲", "2023年", "u1"],
                 ["", "", "", ""],                   # blank record: skipped, not counted
                 ["乙", "正文乙", "bad", ""],
                 ["丙", "  ", "2024", "u3"],          # no text: reported
                 ["丁", "正文丁", "2024.0", "u4"]])
    items, errors = read_items_with_errors("a.csv", text.encode("utf-8"))
    assert [(i.item_index, i.title, i.text, i.year, i.url) for i in items] == [
        (1, "甲", "正文甲", 2023, "u1"), (2, "乙", "正文乙", None, None), (4, "丁", "正文丁", 2024, "u4")]
    assert [(e.code, e.item_index) for e in errors] == [("empty_text", 3)]
    assert "row 3" in errors[0].reason


@pytest.mark.parametrize("column", ["full_text", "content", "text", "body", "正文", "内容", "Full_Text"])
def test_csv_text_columns(column):
    text = _csv([["title", column], ["t", "报告正文"]])
    assert one("a.csv", text.encode("utf-8")).text == "报告正文"


def test_csv_text_column_priority():
    text = _csv([["text", "full_text", "content"], ["短", "全文", "内容"]])
    assert one("a.csv", text.encode("utf-8")).text == "全文"


def test_csv_without_text_column_names_columns():
    text = _csv([["province", "year", "title"], ["河南省", "2026", "报告"]])
    with pytest.raises(SourceError) as exc:
        read_items("a.csv", text.encode("utf-8"))
    assert exc.value.code == "no_text_column"
    assert "'province', 'year', 'title'" in exc.value.reason and "full_text" in exc.value.reason


def test_csv_large_field():
    big = SIMP * 4000  # ~ 400k characters, above the csv module's default 131072 limit
    text = _csv([["title", "full_text"], ["t", big]])
    assert one("a.csv", text.encode("utf-8")).text == big


def test_csv_gbk_and_tab_delimited():
    text = _csv([["标题", "正文"], ["报告", SIMP]]).replace(",", "\t")
    item = one("a.tsv", text.encode("gbk"))
    assert (item.title, item.text, item.encoding) == ("报告", SIMP, "gb18030")
    assert one("a.csv", text.encode("gbk")).text == SIMP  # tab sniffed in a .csv too


def test_csv_row_with_too_many_fields():
    text = "title,text\n甲,正文\n乙,正文,多出来的,字段\n"
    items, errors = read_items_with_errors("a.csv", text.encode("utf-8"))
    assert [i.title for i in items] == ["甲"]
    assert [(e.code, e.item_index) for e in errors] == [("bad_row", 2)]


def test_csv_header_only_or_all_rows_bad():
    assert code_of("a.csv", b"title,text\n") == "empty"
    assert code_of("a.csv", "title,text\n甲,\n乙, \n".encode("utf-8")) == "empty_text"


# ---- jsonl -----------------------------------------------------------------------------------

def _jsonl(objs) -> str:
    return "\n".join(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs) + "\n"


def test_jsonl_like_national():
    text = _jsonl([
        {"title": "2023年国务院政府工作报告", "url": "https://w/1", "content": "政府工作报告\r\n" + SIMP, "year": 2023},
        {"title": "关于政府工作报告的决议", "url": "https://w/2", "content": "决议正文", "year": None},
    ])
    items = read_items("national.jsonl", text.encode("utf-8"))
    assert [(i.item_index, i.title, i.year, i.url, i.container) for i in items] == [
        (1, "2023年国务院政府工作报告", 2023, "https://w/1", "jsonl"),
        (2, "关于政府工作报告的决议", None, "https://w/2", "jsonl")]
    assert items[0].text == "政府工作报告\n" + SIMP


def test_jsonl_bad_lines_are_reported_not_lost():
    text = _jsonl([{"content": "一"}, "{broken", "", {"text": "二", "year": "2019"}, "[1, 2]",
                   {"title": "无正文"}, {"body": "三"}])
    items, errors = read_items_with_errors("a.jsonl", text.encode("utf-8"))
    assert [(i.item_index, i.text, i.year) for i in items] == [(1, "一", None), (4, "二", 2019), (7, "三", None)]
    assert [(e.code, e.item_index) for e in errors] == [("bad_json", 2), ("bad_json", 5), ("no_text_field", 6)]
    assert "line 2" in errors[0].reason and "'title'" in errors[2].reason
    assert len(read_items("a.jsonl", text.encode("utf-8"))) == 3


def test_jsonl_text_field_priority():
    obj = {"body": "b", "text": "t", "full_text": "f", "content": "c"}
    assert one("a.jsonl", _jsonl([obj]).encode("utf-8")).text == "c"
    obj = {"body": "b", "text": "t", "content": ""}
    assert one("a.jsonl", _jsonl([obj]).encode("utf-8")).text == "t"


def test_jsonl_all_bad_raises():
    with pytest.raises(SourceError) as exc:
        read_items("a.jsonl", b"{not json\n{also not\n")
    assert exc.value.code == "bad_json" and "2 records" in exc.value.reason


def test_json_object_and_list():
    item = one("a.json", json.dumps({"title": "t", "content": "正文", "year": 2020}, indent=2).encode("utf-8"))
    assert (item.title, item.text, item.year, item.container) == ("t", "正文", 2020, "jsonl")
    items = read_items("a.json", json.dumps([{"content": "一"}, {"content": "二"}], indent=1).encode("utf-8"))
    assert [(i.item_index, i.text) for i in items] == [(1, "一"), (2, "二")]


def test_json_broken_list():
    assert code_of("a.json", b'[{"content": "x"}, {"content": ]') == "bad_json"


def test_json_fields_are_data_never_paths():
    text = _jsonl([{"content": "/etc/passwd", "url": "file:///etc/passwd", "title": "../../secret"}])
    item = one("a.jsonl", text.encode("utf-8"))
    assert (item.text, item.url, item.title) == ("/etc/passwd", "file:///etc/passwd", "../../secret")


def test_jsonl_gbk():
    text = _jsonl([{"content": SIMP, "title": "报告"}, {"content": TRAD}])
    items = read_items("a.jsonl", text.encode("gb18030"))
    assert [i.text for i in items] == [SIMP, TRAD] and items[0].encoding == "gb18030"


# ---- property --------------------------------------------------------------------------------

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\n")
PUNCT = st.sampled_from("，。、；：！？“”（）《》\u3000")


@st.composite
def chinese_text(draw, min_cjk: int):
    cjk = draw(st.lists(CJK, min_size=min_cjk, max_size=min_cjk + 200))
    other = draw(st.lists(ASCII | PUNCT, max_size=len(cjk)))
    chars = cjk + other
    order = draw(st.permutations(range(len(chars))))
    return "".join(chars[i] for i in order)


@settings(max_examples=60, deadline=None)
@given(text=chinese_text(min_cjk=1), codec=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_roundtrip_unicode(text, codec):
    decoded, _ = decode_bytes(text.encode(codec))
    assert decoded == text


@settings(max_examples=60, deadline=None)
@given(text=chinese_text(min_cjk=30))
def test_roundtrip_gb18030(text):
    assert decode_bytes(text.encode("gb18030")) == (text, "gb18030")


# ---- speed -----------------------------------------------------------------------------------

def test_large_gb18030_input_is_fast():
    data = (REPORT * 2000).encode("gb18030")   # ~ 1.4 MB
    start = time.perf_counter()
    text, codec = decode_bytes(data)
    assert (codec, len(text)) == ("gb18030", len(REPORT) * 2000)
    assert time.perf_counter() - start < 2.0   # the detector only sees a prefix sample


def test_gb2312_text_that_is_also_valid_utf8_reads_as_chinese():
    # found by test_roundtrip_gb18030: b'\xd1\xbe\xd2\xbb...' is UTF-8 for 'Ѿһһ...'
    text = "丫" + "一" * 29
    assert decode_bytes(text.encode("gb18030")) == (text, "gb18030")
    russian = "Привет мир, это русский текст"   # р..я are outside GB2312: stays UTF-8
    assert decode_bytes(russian.encode("utf-8")) == (russian, "utf-8")
    # found by test_roundtrip_gb18030: 詺 is a GBK character outside GB2312, the rest is common
    text = "詺" + "一" * 29
    assert decode_bytes(text.encode("gb18030")) == (text, "gb18030")


@settings(max_examples=60, deadline=None)
@given(words=st.lists(st.text(st.characters(min_codepoint=0x430, max_codepoint=0x44F), min_size=2, max_size=9),
                      min_size=3, max_size=40))
def test_cyrillic_utf8_stays_utf8(words):
    # а..п are two-byte UTF-8 that GB2312 also reads (а is 邪): text of those letters alone is
    # Chinese to any decoder. Russian prose has р..я (outside GB2312) in about a third of its letters.
    text = " ".join(words)
    letters = text.replace(" ", "")
    assume(sum("р" <= c <= "я" for c in letters) >= 0.15 * len(letters))
    assert decode_bytes(text.encode("utf-8")) == (text, "utf-8")
