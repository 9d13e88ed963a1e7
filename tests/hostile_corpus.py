"""A generated corpus of hostile inputs, written at test time (tests/test_hostile.py).

    write_corpus(folder) -> list[Case]

Each Case names a file (or folder entry) written under `folder`, its kind, and what the flow must
do with it: "publish" (the text is usable, maybe after decoding GBK / Big5 / UTF-16, and reaches
silver), "quarantine" (nothing usable: a quarantine record with a reason a person can act on,
mentioning `hint`), or "partial" (a container with good and bad records: the good ones are
published, each bad one quarantined). Nothing here is random: the same corpus every time.
"""
from __future__ import annotations

import codecs
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
BIG_BYTES = 50 * 1024 * 1024


@dataclass
class Case:
    name: str          # path relative to the source folder (posix)
    kind: str          # what sort of hostile input
    expect: str        # publish | quarantine | partial | skip
    hint: str = ""     # a word the quarantine reason must contain (case-insensitive)


def report_text() -> str:
    """A short real report (the first 6,000 characters of a seed): numbers the extractor finds."""
    text = (SEEDS / "001_9eeac6bb57bd8a70.txt").read_text(encoding="utf-8")
    return text[:6000]


def _traditional(text: str) -> str:
    try:
        import opencc

        return opencc.OpenCC("s2t").convert(text)
    except Exception:  # noqa: BLE001 - the corpus still holds Big5 bytes, of fewer characters
        return text


def write_corpus(root: Path) -> list[Case]:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    text = report_text()
    cases: list[Case] = []

    def put(name: str, data: bytes | str, kind: str, expect: str, hint: str = "") -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        cases.append(Case(name, kind, expect, hint))

    # ---- empty -----------------------------------------------------------------------------
    for ext in ("txt", "csv", "jsonl", "html", "json", "tsv"):
        put(f"empty/empty.{ext}", b"", "empty", "quarantine", "empty")
    put("empty/whitespace.txt", " \n\t\r\n\u3000\n", "empty", "quarantine", "no text")
    put("empty/bom_only.txt", codecs.BOM_UTF8, "empty", "quarantine", "")

    # ---- binary ----------------------------------------------------------------------------
    binaries = {
        "pdf.txt": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" + bytes(range(256)) * 8,
        "zip.txt": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(200)),
        "gzip.txt": b"\x1f\x8b\x08\x00" + zlib.compress(text.encode()),
        "png.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100),
        "jpeg.html": b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)),
        "elf.txt": b"\x7fELF\x02\x01\x01" + bytes(300),
        "nul_in_text.txt": text.encode("utf-8")[:300] + b"\x00\x00\x00" + text.encode("utf-8")[300:600],
        "random.txt": bytes((i * 2654435761 >> 13) & 0xFF for i in range(8192)),
        "random.csv": bytes((i * 40503 + 17) % 251 for i in range(4096)),
        "random.jsonl": bytes((i * 97 + 3) % 256 for i in range(4096)),
        "controls.txt": bytes(range(1, 32)) * 200,
        "ole.txt": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
        "rtf.txt": b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} \\f0 hello}",
    }
    for name, data in binaries.items():
        put(f"binary/{name}", data, "binary", "quarantine", "")

    # ---- truncated / damaged UTF-8 -----------------------------------------------------------
    raw = text.encode("utf-8")
    lead = next(i for i in range(len(raw) // 2, len(raw)) if raw[i] >= 0xE0)  # a 3-byte character
    put("utf8/truncated_mid_char.txt", raw[:lead + 2], "truncated utf-8", "publish")
    put("utf8/truncated_one_byte_short.txt", raw[:lead + 1], "truncated utf-8", "publish")
    put("utf8/cut_at_4k.txt", raw[:4097], "truncated utf-8", "publish")
    damaged = bytearray(raw)
    for i in range(0, len(damaged), 7):
        damaged[i] = 0xFF
    put("utf8/every_7th_byte_ff.txt", bytes(damaged), "damaged utf-8", "quarantine", "")
    put("utf8/few_bad_bytes.txt", raw[:3000] + b"\xff\xfe" + raw[3000:], "damaged utf-8", "publish")
    put("utf8/overlong_and_surrogates.txt", b"\xc0\xaf\xed\xa0\x80" * 300, "damaged utf-8",
        "quarantine", "Chinese")

    # ---- legacy Chinese encodings without a declaration -------------------------------------
    put("gbk/report_gbk.txt", text.encode("gbk", errors="replace"), "gbk", "publish")
    put("gbk/report_gb18030.txt", text.encode("gb18030"), "gb18030", "publish")
    put("gbk/report_gb2312.txt", text.encode("gb2312", errors="replace"), "gb2312", "publish")
    put("gbk/short_gbk.txt", "全市生产总值增长6.5%。".encode("gbk"), "gbk", "publish")
    put("gbk/report_gbk_csv.csv", ("title,year,content\n2023年某市政府工作报告,2023,\"" + text.replace('"', "'")
                               + "\"\n").encode("gbk", errors="replace"), "gbk csv", "publish")
    trad = _traditional(text)
    put("big5/report_big5.txt", trad.encode("big5", errors="replace"), "big5", "publish")
    put("big5/report_cp950.txt", trad.encode("cp950", errors="replace"), "big5", "publish")
    put("big5/report_big5hkscs.txt", trad.encode("big5hkscs", errors="replace"), "big5", "publish")
    put("big5/report_big5_page.html", ("<html><head><title>政府工作報告</title></head><body><p>"
                                  + trad.replace("\n", "</p>\n<p>") + "</p></body></html>").encode("big5", errors="replace"),
        "big5 html", "publish")

    # ---- UTF-16 / UTF-32 with a BOM, and without ---------------------------------------------
    put("utf16/le_bom.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "utf-16 bom", "publish")
    put("utf16/be_bom.txt", codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "utf-16 bom", "publish")
    put("utf16/le_no_bom.txt", text.encode("utf-16-le"), "utf-16", "publish")
    put("utf16/utf32_bom.txt", text.encode("utf-32"), "utf-32 bom", "publish")
    put("utf16/utf8_bom.txt", codecs.BOM_UTF8 + raw, "utf-8 bom", "publish")
    put("utf16/le_bom_csv.csv", codecs.BOM_UTF16_LE + ("content\n\"" + text.replace('"', "'") + "\"\n").encode("utf-16-le"),
        "utf-16 csv", "publish")
    put("utf16/odd_length_bom.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le")[:-1], "utf-16 bom",
        "publish")

    # ---- HTML --------------------------------------------------------------------------------
    body = "".join(f"<p>{line}</p>\n" for line in text.split("\n") if line.strip())
    nav = ("<nav><a href='/'>首页</a> <a href='/a'>政务公开</a></nav><script>var x = '1000亿元';"
           "</script><style>p{color:red}</style>")
    put("html/page_utf8.html", f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>报告</title>"
                               f"</head><body>{nav}<article>{body}</article><footer>版权所有</footer>"
                               "</body></html>", "html", "publish")
    put("html/page_gbk_meta.html", (f"<html><head><meta http-equiv='Content-Type' content='text/html; "
                                    f"charset=gb2312'></head><body>{body}</body></html>").encode("gbk", errors="replace"),
        "html gbk", "publish")
    put("html/page_in_a_txt.txt", f"<html><body>{body}</body></html>", "html in .txt", "publish")
    put("html/only_scripts.html", f"<html><head><title>x</title></head><body>{nav}<script>"
                                  + "var a=1;" * 500 + "</script></body></html>", "html no text",
        "quarantine", "visible text")
    put("html/unclosed_tags.html", "<html><body><div><p>" + "<span>" * 3000 + text[:2000],
        "html broken", "publish")
    put("html/deep_nesting.html", "<div>" * 20000 + text[:1000] + "</div>" * 20000, "html deep",
        "publish")
    put("html/entities.html", "<html><body><p>" + "&#x5168;&#24066;&amp;" * 500 + "生产总值增长6%。</p>"
        "&#xFFFFFFFF; &#0; &#xD800;</body></html>", "html entities", "publish")

    # ---- the 50 MB file ----------------------------------------------------------------------
    big = root / "big" / "fifty_megabytes.txt"
    big.parent.mkdir(parents=True, exist_ok=True)
    chunk = raw * (1024 * 1024 // len(raw) + 1)
    with open(big, "wb") as fh:
        left = BIG_BYTES
        while left > 0:
            fh.write(chunk[:left])
            left -= min(left, len(chunk))
    cases.append(Case("big/fifty_megabytes.txt", "50 MB", "quarantine", "limit"))

    # ---- texts with nothing to extract ----------------------------------------------------------
    put("nothing/no_numbers.txt", "各位代表：\n现在，我代表市人民政府，向大会报告工作，请予审议。\n"
                                  "我们要坚定信心，攻坚克难，奋力开创新局面。\n" * 20,
        "no numbers", "quarantine", "no number")
    put("nothing/no_numbers_english.txt", "The quick brown fox jumps over the lazy dog.\n" * 50,
        "no numbers", "quarantine", "no Chinese")
    put("nothing/boilerplate_only.txt",
        "首页 | 政务公开 | 政务服务 | 互动交流\n版权所有：某市人民政府办公室\n主办单位：某市人民政府\n"
        "网站标识码：1234567890 ICP备案号：京ICP备12345678号\n联系我们 | 网站地图 | 隐私声明\n" * 10,
        "boilerplate", "quarantine", "boilerplate")
    put("nothing/boilerplate_only.html",
        "<html><body><nav>首页 政务公开</nav><footer>版权所有 主办单位：某市人民政府</footer></body></html>",
        "boilerplate html", "quarantine", "visible text")
    put("nothing/punctuation.txt", "，。、；：？！…—·「」『』（）《》" * 100, "no numbers", "quarantine",
        "no Chinese")
    put("nothing/chinese_numerals_only.txt", "各位代表：\n全年地区生产总值增长百分之七，达到三千亿元。\n",
        "numbers in words", "publish")

    # ---- CSV -------------------------------------------------------------------------------------
    put("csv/no_text_column.csv", "title,year,author\n报告,2023,某人\n报告2,2022,某人\n", "csv no text",
        "quarantine", "text column")
    put("csv/header_only.csv", "title,year,content\n", "csv header only", "quarantine", "no data rows")
    put("csv/empty_text_cells.csv", "title,content\na,\nb,  \n", "csv empty cells", "quarantine", "")
    put("csv/mixed_rows.csv", "title,content\n好的,\"" + text.replace('"', "'") + "\"\n坏的,\nx,y,z,w,v\n",
        "csv mixed", "partial")
    put("csv/unterminated_quote.csv", "title,content\na,\"" + text[:3000].replace('"', "'") + "\n",
        "csv bad quote", "publish")
    put("csv/nul_in_csv.csv", b"title,content\na,b\x00c\n", "csv nul", "quarantine", "")
    put("csv/one_column_no_header.csv", "\n".join(text.split("\n")[:40]), "csv no header",
        "quarantine", "text column")
    put("csv/semicolon.csv", "titel;content\nA;\"" + text.replace('"', "'") + "\"\n", "csv semicolon",
        "publish")
    put("csv/huge_field_count.csv", ",".join(f"c{i}" for i in range(5000)) + "\n" + ",".join("x" * 5000)
        + "\n", "csv wide", "quarantine", "text column")
    put("csv/formula_injection.csv", "title,content\n=cmd|' /C calc'!A0,\"" + text[:3000].replace('"', "'")
        + "\"\n", "csv formula", "publish")

    # ---- JSON / JSON Lines -------------------------------------------------------------------------
    good = json.dumps({"title": "2023年报告", "year": 2023, "content": text}, ensure_ascii=False)
    put("json/all_bad_lines.jsonl", "{not json\n[1, 2\n{\"content\": \n", "jsonl malformed",
        "quarantine", "")
    put("json/mixed_lines.jsonl", "\n".join([good, "{broken", "42", "\"just a string\"",
                                             json.dumps({"content": ""}), good.replace("2023", "2022")]),
        "jsonl mixed", "partial")
    put("json/not_objects.jsonl", "1\n2\n[3]\nnull\ntrue\n", "jsonl not objects", "quarantine", "")
    put("json/no_text_field.jsonl", json.dumps({"title": "x", "year": 2023}) + "\n", "jsonl no text",
        "quarantine", "")
    put("json/deep_nesting.jsonl", "[" * 100000 + "]" * 100000 + "\n", "jsonl deep", "quarantine", "")
    put("json/deep_object.json", '{"a":' * 50000 + "1" + "}" * 50000, "json deep", "quarantine", "")
    put("json/broken_list.json", "[" + good + ",\n{\"content\": \"x\"", "json list broken", "quarantine",
        "json")
    put("json/huge_number.jsonl", json.dumps({"content": text, "year": 10 ** 400}) + "\n",
        "jsonl huge number", "publish")
    put("json/nan.jsonl", '{"content": ' + json.dumps(text, ensure_ascii=False) + ', "year": NaN}\n',
        "jsonl NaN", "publish")
    put("json/lone_surrogate.jsonl", '{"content": "\\ud800' + text[:2000].replace('"', "'").replace("\n", "\\n")
        + '"}\n', "jsonl lone surrogate", "publish")
    put("json/duplicate_keys.jsonl", '{"content": "x", "content": ' + json.dumps(text, ensure_ascii=False)
        + "}\n", "jsonl duplicate keys", "publish")
    put("json/bom_and_crlf.jsonl", "\ufeff" + good + "\r\n" + good.replace("2023", "2021") + "\r\n",
        "jsonl bom crlf", "publish")

    # ---- JSON fields that look like paths (the core never opens anything) ----------------------
    for i, p in enumerate(["../../etc/passwd", "/etc/shadow", "file:///etc/passwd", "~/.ssh/id_rsa",
                           "\\\\server\\share\\x", "../" * 40 + "etc/hosts"]):
        rec = {"title": p, "url": p, "source_name": p, "path": p, "file": p, "content": text,
               "publish_date": p, "year": 2023}
        put(f"paths/path_fields_{i}.jsonl", json.dumps(rec, ensure_ascii=False) + "\n",
            "path-like json fields", "publish")
    put("paths/path_as_text.jsonl", json.dumps({"content": "../../etc/passwd"}) + "\n",
        "path-like text", "quarantine", "no Chinese")

    # ---- file names --------------------------------------------------------------------------------
    names = {
        "names/with spaces in the name.txt": "spaces",
        "names/中文文件名 2023年政府工作报告.txt": "non-ascii",
        "names/-leading-dash.txt": "leading dash",
        "names/--help.txt": "leading dashes",
        "names/-rf .txt": "leading dash",
        "names/$(touch pwned).txt": "shell metacharacters",
        "names/a;b|c&d.txt": "shell metacharacters",
        "names/quote'and\"double.txt": "quotes",
        "names/new\nline.txt": "newline in name",
        "names/tab\tname.txt": "tab in name",
        "names/emoji 📈 report.txt": "emoji",
        "names/" + "长" * 80 + ".txt": "255-byte name",          # 80 x 3 bytes + 4 = 244 bytes
        "names/" + "a" * 251 + ".txt": "255-byte name",         # exactly 255 bytes
        "names/REPORT.TXT": "upper-case extension",
        "names/sub dir/deeper/nested report.txt": "nested folders",
    }
    for name, kind in names.items():
        put(name, raw, kind, "publish")
    bad_name = os.fsencode(str(root / "names")) + b"/gbk_name_\xd5\xfe\xb8\xae.txt"
    with open(bad_name, "wb") as fh:
        fh.write(raw)
    cases.append(Case("names/gbk_name_\\xd5\\xfe\\xb8\\xae.txt", "name not UTF-8", "quarantine", "utf-8"))

    # ---- not a supported file ----------------------------------------------------------------------
    put("other/notes.md", "# notes\n" + text[:500], "unsupported extension", "quarantine", "unsupported")
    put("other/report.docx", b"PK\x03\x04" + bytes(300), "a damaged Word document", "quarantine",
        "damaged")
    put("other/no_extension", raw, "no extension", "quarantine", "unsupported")
    put("other/report.txt.exe", b"MZ\x90\x00" + bytes(300), "unsupported extension", "quarantine",
        "unsupported")
    put("other/.hidden.txt", raw, "hidden file", "skip")
    put("other/..txt", raw, "hidden file", "skip")

    # ---- mojibake and garbage ---------------------------------------------------------------------
    put("garbage/mojibake_latin1.txt", raw.decode("latin-1").encode("utf-8"), "mojibake", "quarantine",
        "mojibake")
    put("garbage/mojibake_gbk.txt", raw.decode("gbk", errors="replace").encode("utf-8"), "mojibake",
        "quarantine", "")
    put("garbage/private_use.txt", "".join(chr(0xE000 + i % 6000) for i in range(5000)), "garbage",
        "quarantine", "")
    put("garbage/replacement_chars.txt", "\ufffd" * 3000, "garbage", "quarantine", "")

    # ---- links and special files: never followed, never read --------------------------------------
    links = root / "links"
    links.mkdir(exist_ok=True)
    os.symlink("/etc/passwd", links / "passwd_link.txt")
    cases.append(Case("links/passwd_link.txt", "symlink out of the source", "quarantine", "link"))
    os.symlink("../../../../../../../../etc/hostname", links / "relative_escape.txt")
    cases.append(Case("links/relative_escape.txt", "symlink out of the source", "quarantine", "link"))
    os.symlink("/etc", links / "etc_dir")
    cases.append(Case("links/etc_dir", "symlink to a folder", "quarantine", "link"))
    os.symlink(root / "no" / "such" / "file.txt", links / "dangling.txt")
    cases.append(Case("links/dangling.txt", "dangling symlink", "quarantine", "link"))
    os.mkfifo(links / "fifo.txt")
    cases.append(Case("links/fifo.txt", "FIFO", "quarantine", "fifo"))

    # ---- archives: every member a source of its own, named `archive.zip/member` ----------------
    _archives(root, raw, cases)

    # ---- some good inputs mixed in -------------------------------------------------------------------
    for seed in sorted(SEEDS.glob("*.txt"))[:2]:
        put(f"good/{seed.name}", seed.read_bytes(), "good seed", "publish")
    put("good/report_jsonl.jsonl", good + "\n", "good jsonl", "publish")
    put("good/report_csv.csv", "title,year,content\n报告,2023,\"" + text.replace('"', "'") + "\"\n",
        "good csv", "publish")
    # the doc ids of the BI tables are <file stem>#<doc_index>: two usable files with one stem
    # (a/report.txt, b/report.csv) make duplicate target_attainment keys, and the BI validation
    # then fails the run. Not what this corpus is about: its usable files have distinct stems.
    stems = [Path(c.name).stem for c in cases if c.expect in ("publish", "partial")]
    assert len(stems) == len(set(stems)), sorted(s for s in stems if stems.count(s) > 1)
    return cases


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _gbk_named_zip(name: str, data: bytes) -> bytes:
    """A ZIP as a Chinese archiver writes it: the member name in GBK bytes, no UTF-8 flag."""
    gbk = name.encode("gbk")
    placeholder = b"Q" * len(gbk)
    packed = _zip([(placeholder.decode("ascii"), data)])
    assert packed.count(placeholder) == 2        # the local header and the central directory
    return packed.replace(placeholder, gbk)


def _archives(root: Path, raw: bytes, cases: list[Case]) -> None:
    """The hostile archive set: a bomb, traversal names, nested archives (one too deep), an
    encrypted member, a corrupt central directory, a GBK member name, a member that is no text."""
    folder = root / "archives"
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)

    def expect(name: str, kind: str, what: str, hint: str = "") -> None:
        cases.append(Case(f"archives/{name}", kind, what, hint))

    # 40 MiB of zeros packed ~1000 times: refused before it is unpacked
    write("bomb.zip", _zip([("zeros.txt", b"0" * (40 * 1024 * 1024)), ("bomb_report.txt", raw)]))
    expect("bomb.zip", "zip bomb", "quarantine", "zip bomb")
    # names that point outside: data, never a path
    write("traversal.zip", _zip([("../../../etc/traversal_report.txt", raw),
                                 ("/abs/absolute_report.txt", raw),
                                 ("C:\\Windows\\windows_report.txt", raw)]))
    expect("traversal.zip/etc/traversal_report.txt", "zip traversal name", "publish")
    expect("traversal.zip/abs/absolute_report.txt", "zip traversal name", "publish")
    expect("traversal.zip/Windows/windows_report.txt", "zip traversal name", "publish")
    # an archive in an archive is read; four deep is refused, its siblings still read
    inner = _zip([("nested_report.txt", raw)])
    write("nested.zip", _zip([("inner.zip", inner), ("outer_report.txt", raw)]))
    expect("nested.zip/inner.zip/nested_report.txt", "zip nested", "publish")
    expect("nested.zip/outer_report.txt", "zip nested", "publish")
    deep = _zip([("too_deep_report.txt", raw)])
    for level in range(3):
        deep = _zip([(f"level{level}.zip", deep)])
    write("deep.zip", _zip([("deep_sibling_report.txt", raw), ("d.zip", deep)]))
    expect("deep.zip/deep_sibling_report.txt", "zip nested too deep", "publish")
    expect("deep.zip/d.zip/level2.zip/level1.zip", "zip nested too deep", "quarantine", "nested")
    # an encrypted member: that member quarantined, the other read
    data = bytearray(_zip([("plain_report.txt", raw), ("secret_report.txt", raw)]))
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 0x1                             # the encryption flag of the last entry
    write("encrypted.zip", bytes(data))
    expect("encrypted.zip/plain_report.txt", "zip encrypted member", "publish")
    expect("encrypted.zip/secret_report.txt", "zip encrypted member", "quarantine", "encrypted")
    # the central directory cut off: the whole archive quarantined
    write("corrupt_cd.zip", _zip([("lost_report.txt", raw)])[:-30])
    expect("corrupt_cd.zip", "zip corrupt central directory", "quarantine", "damaged")
    # a member name in GBK bytes without the UTF-8 flag, and a member that is no text at all
    write("gbk_names.zip", _gbk_named_zip("甲县工作报告.txt", raw))
    expect("gbk_names.zip/甲县工作报告.txt", "zip gbk member name", "publish")
    write("binary_member.zip", _zip([("member_report.txt", raw), ("picture.png", b"\x89PNG\r\n\x1a\n" + bytes(100))]))
    expect("binary_member.zip/member_report.txt", "zip mixed members", "publish")
    expect("binary_member.zip/picture.png", "zip mixed members", "quarantine", "")
