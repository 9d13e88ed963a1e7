"""Documents as they are delivered: vendor workbooks, Word, PDF, legacy .doc, ZIP archives and web
pages (flows/core/read/). Real files from tests/data/corpus where they exist; PDFs are printed
at test time from a corpus report by headless Chromium and by reportlab."""
from __future__ import annotations

import csv
import html
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from flows import panel_rows
from flows.core.model import SourceError
from flows.core.read import expand_source, format_of, read_items, read_items_with_errors, screen_items
from flows.core.split import split_item
from helpers import CORPUS, DATA

VENDOR = CORPUS / "vendor" / "baoding_counties_dev.xlsx"
PROV2025 = CORPUS / "prov2025"
GBK_ZIP = DATA / "archives" / "三省政府工作报告_gbk.zip"
FORMATS = DATA / "formats"
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def values(items) -> set:
    return {(r.indicator, r.kind, r.measure, r.value, r.year) for r in panel_rows(items)}


def reports_of(items):
    out, n = [], 0
    for item in items:
        got = split_item(item, n + 1)
        n += sum(r.is_report for r in got)
        out += got
    return out


# ---- vendor workbooks --------------------------------------------------------------------------

def test_vendor_workbook_one_report_per_row_with_text():
    items, errors = read_items_with_errors(VENDOR.name, VENDOR.read_bytes())
    items, errors = screen_items(items, errors)
    assert len(items) == 66 and len(errors) == 92          # 158 rows, 66 with text
    assert all(e.code == "empty_text" and "报告全文" in e.reason for e in errors)
    assert {e.item_index for e in errors}.isdisjoint({i.item_index for i in items})
    reports = reports_of(items)
    assert len(reports) == 66 and all(r.is_report for r in reports)       # never cut in pieces
    assert [r.item_index for r in reports] == [i.item_index for i in items]
    by_row = {r.item_index: r for r in reports}
    # the vendor's columns fill in what the text leaves out; the text wins where they disagree
    first = by_row[2]
    assert (first.region, first.region_code, first.tier, first.province, first.review_year,
            first.plan_year, first.delivered_date) == ("保定市满城区", "130607", "district", "河北省", 2019,
                                                       2020, "2020-01-21")
    assert by_row[7].region == "保定市清苑县" and by_row[7].region_code == "130608"   # renamed in 2015
    assert by_row[25].region == "保定市清苑区" and by_row[25].region_code == "130608"
    # a 2008 report the vendor files under today's code and title (清苑区), that calls itself 清苑县
    assert (by_row[11].region, by_row[11].tier, by_row[11].region_code) == ("保定市清苑县", "county", "130608")
    assert (by_row[28].region, by_row[35].region) == ("保定市徐水县", "保定市徐水区")
    assert by_row[157].region == "安国市" and by_row[157].tier == "county"   # a county-level city
    conflicts = {r.item_index: r.metadata_conflicts for r in reports if r.metadata_conflicts}
    assert set(conflicts) == {81, 82, 83, 84, 116, 124, 125}
    assert by_row[82].region == "聊城市高唐县" and by_row[82].province == "山东省"
    assert "the row says 唐县" in conflicts[82]
    assert by_row[124].region == "攀枝花市米易县" and by_row[116].region == "洛阳市新安县"
    assert "year: the text plans 2022" in conflicts[125]
    assert all(r.province == "河北省" for r in reports if r.item_index not in conflicts)


def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


BODY = ("2021年唐县政府工作报告\\r\\n——2021年1月20日在唐县第十七届人民代表大会第五次会议上\\r\\n各位代表：\\r\\n"
        "一、2020年工作回顾\\r\\n全县地区生产总值完成120亿元，增长4.5%。\\r\\n二、2021年工作安排\\r\\n"
        "今年经济社会发展的主要预期目标是：地区生产总值增长6%左右。")


@pytest.mark.parametrize("text_col", ["报告全文", "全文", "正文", "内容", "文本"])
def test_vendor_columns_are_recognised(text_col):
    data = _xlsx([["年度", "地区", "城市", "省份", "行政区划代码", "标题", text_col],
                  [2021, "唐县", "保定", "河北", 130627, "2021年唐县政府工作报告", BODY]])
    [item] = read_items("v.xlsx", data)
    assert (item.container, item.item_index, item.year, item.place, item.city, item.province,
            item.region_code, item.title) == ("xlsx", 1, 2021, "唐县", "保定", "河北", "130627",
                                              "2021年唐县政府工作报告")
    [report] = reports_of([item])
    assert (report.region, report.review_year, report.plan_year) == ("保定市唐县", 2020, 2021)
    assert values([item]) == {("gdp", "actual", "level", 1.2e10, 2020), ("gdp", "actual", "growth_pct", 4.5, 2020),
                              ("gdp", "target", "growth_pct", 6.0, 2021)}


def test_workbook_without_a_text_column_names_the_columns():
    with pytest.raises(SourceError) as exc:
        read_items("v.xlsx", _xlsx([["年份", "区县名称"], [2021, "唐县"]]))
    assert exc.value.code == "no_text_column" and "'区县名称'" in exc.value.reason


def test_damaged_workbook_is_refused_with_a_reason():
    data = _xlsx([["报告全文"], ["x"]])
    with pytest.raises(SourceError) as exc:
        read_items("v.xlsx", data[:len(data) // 2])
    assert exc.value.code == "bad_workbook"


def test_legacy_xls_and_csv_tsv_with_chinese_headers():
    items, errors = read_items_with_errors("v.xls", (FORMATS / "vendor_sample.xls").read_bytes())
    assert [(i.container, i.item_index, i.place, i.region_code) for i in items] == [("xls", 1, "唐县", "130627")]
    assert [(e.code, e.item_index) for e in errors] == [("empty_text", 2)]
    for name, sep in (("v.csv", ","), ("v.tsv", "\t")):
        buf = io.StringIO()
        csv.writer(buf, delimiter=sep).writerows([["年份", "区县名称", "报告全文"], ["2021", "唐县", BODY]])
        [item] = read_items(name, buf.getvalue().encode("gb18030"))
        assert (item.year, item.place) == (2021, "唐县") and "\\r\\n" in item.text   # normalised later


# ---- Word ---------------------------------------------------------------------------------------

def test_docx_paragraphs_and_tables_in_order():
    import docx

    doc = docx.Document()
    doc.add_paragraph("2020年阜平县政府工作报告")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "完成"
    table.cell(1, 0).text, table.cell(1, 1).text = "地区生产总值", "65.2亿元"
    doc.add_paragraph("各位代表：")
    buf = io.BytesIO()
    doc.save(buf)
    [item] = read_items("r.docx", buf.getvalue())
    assert item.text.split("\n") == ["2020年阜平县政府工作报告", "指标\t完成", "地区生产总值\t65.2亿元", "各位代表："]
    assert item.container == "docx"


def test_provincial_docx_reports_are_read():
    for path in sorted(PROV2025.glob("*.docx")):
        [item] = read_items(path.name, path.read_bytes())
        [report] = [r for r in reports_of([item]) if r.is_report]
        assert report.tier == "province" and report.plan_year == 2025, path.name
        assert report.region.endswith(("省", "市", "自治区")), report.region
    [item] = read_items("x.docx", (PROV2025 / "2025年西藏政府工作报告.docx").read_bytes())
    assert reports_of([item])[0].region == "西藏自治区"       # the official name, not 西藏


def test_legacy_doc_through_antiword():
    if not (shutil.which("antiword") or shutil.which("catdoc")):
        if os.environ.get("CI"):
            pytest.fail("antiword is missing (scripts/setup.sh installs it)")
        pytest.skip("antiword not installed")
    [item] = read_items("fuping_2020.doc", (FORMATS / "fuping_2020.doc").read_bytes())
    assert item.container == "doc"
    assert ("gdp", "actual", "level", 6.52e9, 2019) in values([item])


def test_encrypted_office_document_is_refused():
    head = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100 + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(SourceError) as exc:
        read_items("r.docx", head + b"\x00" * 200)
    assert exc.value.code == "encrypted"


# ---- archives -----------------------------------------------------------------------------------

def test_gbk_zip_member_names_and_same_panel_as_the_docx():
    members, errors = expand_source(GBK_ZIP.name, GBK_ZIP.read_bytes())
    assert not errors
    names = [n for n, _ in members]
    assert len(names) == 3 and all(n.startswith(GBK_ZIP.name + "/") and n.endswith("政府工作报告.docx")
                                   for n in names), names
    for name, data in members:
        own = PROV2025 / name.rsplit("/", 1)[1]
        assert values(read_items(name, data)) == values(read_items(own.name, own.read_bytes()))


def _zip(entries: list[tuple[str, bytes]], flag_utf8: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


REPORT_TXT = "2023年某县政府工作报告\n各位代表：\n全县地区生产总值增长5%。\n".encode("utf-8")


def test_nested_archive_and_traversal_names_are_data():
    inner = _zip([("内层/报告.txt", REPORT_TXT)])
    outer = _zip([("../../etc/passwd.txt", REPORT_TXT), ("/abs/x.txt", REPORT_TXT), ("inner.zip", inner),
                  ("C:\\win\\y.txt", REPORT_TXT)])
    members, errors = expand_source("a.zip", outer)
    assert not errors
    assert sorted(n for n, _ in members) == ["a.zip/abs/x.txt", "a.zip/etc/passwd.txt",
                                             "a.zip/inner.zip/内层/报告.txt", "a.zip/win/y.txt"]


def test_zip_bomb_is_refused():
    bomb = _zip([("big.txt", b"0" * (40 * 1024 * 1024))])     # 40 MiB of zeros: ratio ~1000
    with pytest.raises(SourceError) as exc:
        expand_source("bomb.zip", bomb)
    assert exc.value.code == "archive_bomb"


def test_encrypted_member_and_corrupt_archive():
    data = bytearray(_zip([("a.txt", REPORT_TXT), ("b.txt", REPORT_TXT)]))
    # set the encryption flag of b.txt in its central directory entry
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 0x1
    members, errors = expand_source("e.zip", bytes(data))
    assert [n for n, _ in members] == ["e.zip/a.txt"]
    assert [(e.source_name, e.code) for e in errors] == [("e.zip/b.txt", "encrypted")]
    broken = _zip([("a.txt", REPORT_TXT)])
    with pytest.raises(SourceError) as exc:
        expand_source("c.zip", broken[:-30])        # the central directory cut off
    assert exc.value.code == "bad_archive"


def test_too_many_members():
    from flows.core.read import Caps

    data = _zip([(f"{i}.txt", REPORT_TXT) for i in range(12)])
    with pytest.raises(SourceError) as exc:
        expand_source("m.zip", data, Caps(members=10))
    assert exc.value.code == "archive_too_large"


# ---- PDF ----------------------------------------------------------------------------------------

def _henan():
    path = CORPUS / "prov2026_henan.csv"
    row = next(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    return read_items(path.name, path.read_bytes()), row["full_text"], row["title"]


def _need(tool_ok: bool, what: str):
    if not tool_ok:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing on CI (.ci/run installs it)")
        pytest.skip(f"{what} not installed")


def _check_pdf(pdf: bytes, items):
    want = values(items)
    got = values(read_items("prov2026_henan.pdf", pdf))
    assert len(want & got) >= 0.95 * len(want), want - got
    assert got <= want, got - want


def test_pdf_printed_by_chromium(tmp_path):
    _need(shutil.which("chromium") is not None and FONT.exists(), "chromium and fonts-wqy-zenhei")
    items, text, title = _henan()
    page = tmp_path / "r.html"
    body = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
    page.write_text(f'<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
                    f'<body style="font-family: WenQuanYi Zen Hei">{body}</body></html>', encoding="utf-8")
    out = tmp_path / "r.pdf"
    # Chromium's default header and footer: the date, the title, the file URL, "2/13"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'ud'}", f"--print-to-pdf={out}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pdf = out.read_bytes()
    text_back = read_items("r.pdf", pdf)[0].text
    assert "file://" not in text_back and "/10" not in text_back.replace("10/", "")
    _check_pdf(pdf, items)


def test_pdf_written_by_reportlab_with_running_header_and_page_numbers():
    pytest.importorskip("reportlab")
    _need(FONT.exists(), "fonts-wqy-zenhei")
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    items, text, title = _henan()
    pdfmetrics.registerFont(TTFont("wqy", str(FONT), subfontIndex=0))
    style = ParagraphStyle("b", fontName="wqy", fontSize=11, leading=16, wordWrap="CJK")

    def furniture(c, doc):
        c.saveState()
        c.setFont("wqy", 9)
        c.drawString(40, A4[1] - 30, title)
        c.drawRightString(A4[0] - 40, 25, f"— {doc.page} —")
        c.drawString(40, 25, f"第{doc.page}页")
        c.restoreState()

    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4).build(
        [Paragraph(html.escape(p), style) for p in text.split("\n") if p.strip()],
        onFirstPage=furniture, onLaterPages=furniture)
    back = read_items("r.pdf", buf.getvalue())[0].text
    assert "— 2 —" not in back and "第2页" not in back
    _check_pdf(buf.getvalue(), items)


def test_pdf_without_text_layer_says_ocr_it():
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.rect(100, 100, 200, 200, fill=1)      # a page that is a picture
    c.showPage()
    c.save()
    with pytest.raises(SourceError) as exc:
        read_items("scan.pdf", buf.getvalue())
    assert exc.value.code == "no_text_layer" and "OCR it first" in exc.value.reason


# ---- web pages ----------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>2023年某市政府工作报告_某市人民政府</title>
<meta property="article:published_time" content="2023-01-16T09:00:00+08:00"></head><body>
<div class="nav"><a href="/">首页</a> &gt; <a href="/zw">政务公开</a> &gt; 政府工作报告</div>
<div class="share">分享到：微信 微博</div>
<article><h1>2023年某市政府工作报告</h1>
<p>各位代表：现在，我代表市人民政府向大会报告工作，请予审议。</p>
<p>一、2022年工作回顾</p>
<p>过去一年，全市地区生产总值完成3210亿元，增长3.1%。一般公共预算收入完成215亿元，增长5.2%。
社会消费品零售总额完成1450亿元，增长2.3%。城乡居民人均可支配收入分别增长4.1%、6.0%。</p>
<p>二、2023年工作安排</p>
<p>今年经济社会发展的主要预期目标是：地区生产总值增长6%左右，一般公共预算收入增长5%。</p>
""" + "<p>我们将坚持稳中求进工作总基调，完整准确全面贯彻新发展理念，加快构建新发展格局，着力推动高质量发展。</p>" * 6 + """
</article>
<div class="related"><h3>相关文章</h3><ul>
<li><a href="/a1">邻市去年地区生产总值增长4.7%，质效双升</a></li>
<li><a href="/a2">一图读懂政府工作报告</a></li></ul></div>
<div class="footer">主办：某市人民政府办公室 版权所有 ICP备12345678号</div>
</body></html>"""


def test_web_page_main_content_and_date():
    [item] = read_items("page.html", PAGE.encode("utf-8"))
    assert "4.7" not in item.text and "版权所有" not in item.text and "分享到" not in item.text
    assert item.publish_date == "2023-01-16"
    [report] = reports_of([item])
    assert report.delivered_date == "2023-01-16" and (report.review_year, report.plan_year) == (2022, 2023)
    assert ("gdp", "actual", "growth_pct", 3.1, 2022) in values([item])
    assert not any(v[3] == 4.7 for v in values([item]))


def test_web_page_that_trafilatura_cannot_read_is_read_whole():
    page = "<html><body><table><tr><td>全市地区生产总值增长5%</td></tr></table></body></html>"
    [item] = read_items("p.html", page.encode("utf-8"))
    assert "全市地区生产总值增长5%" in item.text


# ---- dates and names ----------------------------------------------------------------------------

def test_chinese_numeral_date_is_the_delivered_date():
    from flows.core.model import SourceItem

    text = "政府工作报告\n——二〇二三年一月十二日在某市第十六届人民代表大会第二次会议上\n各位代表：\n全市地区生产总值增长5%。"
    [report] = split_item(SourceItem("r.txt", 1, "txt", "utf-8", text))
    assert (report.delivered_date, report.review_year, report.plan_year) == ("2023-01-12", 2022, 2023)


@pytest.mark.parametrize("title, region", [
    ("2025年广西政府工作报告", "广西壮族自治区"), ("2025年内蒙古政府工作报告", "内蒙古自治区"),
    ("2025年新疆政府工作报告", "新疆维吾尔自治区"), ("2025年宁夏政府工作报告", "宁夏回族自治区"),
])
def test_provinces_take_their_official_names(title, region):
    from flows.core.model import SourceItem

    [report] = split_item(SourceItem("r.txt", 1, "txt", "utf-8", f"{title}\n各位代表：\n地区生产总值增长5%。"))
    assert (report.region, report.province, report.tier) == (region, region, "province")


def test_format_is_told_by_the_bytes():
    assert format_of("x.txt", b"%PDF-1.4 ...") == "pdf"
    assert format_of("x.bin", _zip([("word/document.xml", b"<w/>")])) == "docx"
    assert format_of("x.bin", _zip([("xl/workbook.xml", b"<w/>")])) == "xlsx"
    assert format_of("x.bin", _zip([("a.txt", b"x")])) == "zip"
    assert format_of("x.txt", "正文".encode()) == "text"
