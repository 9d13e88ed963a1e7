"""Source lists (flows/inputs/lists.py): CSV and YAML files naming paths, URLs and fsspec URLs,
with name, region and year hints."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.inputs import InputError, InputOptions, list_sources, read

pytestmark = pytest.mark.timeout(30)
OPTS = InputOptions()


@pytest.fixture
def tree(tmp_path):
    """lists/ holds the lists and reports/ beside them; outside/ is not under lists/."""
    (tmp_path / "lists" / "reports" / "2023").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    for rel in ("lists/reports/2023/gd.txt", "lists/reports/2023/bj.txt", "lists/reports/sh.txt",
                "lists/reports/2023/.hidden.txt", "outside/far.txt"):
        (tmp_path / rel).write_text(rel, encoding="utf-8")
    return tmp_path


def _table(sources) -> list[tuple]:
    return [(s.name, s.kind, s.region, s.year) for s in sources]


def test_a_csv_list(tree):
    far = tree / "outside" / "far.txt"
    (tree / "lists" / "sources.csv").write_text(
        "location,name,region,year,notes\n"
        "reports/sh.txt,,上海市,2024,a note\n"
        "reports/2023,,,2023,\n"
        "\n"
        "# reports/skipped.txt,,,,a comment row\n"
        f"{far},,,,\n"
        "../outside/far.txt,far-again.txt,,,\n"
        "https://www.gov.cn/zhuanti/2024zfgzbg/,,全国,2024,\n"
        "https://example.org/r/2023/hailar.txt,hailar_2023.txt,海拉尔区,2023,\n"
        "memory://gwr-lists-test/r/,mem,,,\n", encoding="utf-8")
    import fsspec

    fsspec.filesystem("memory").pipe("/gwr-lists-test/r/m.txt", b"m")
    try:
        sources = list_sources(tree / "lists" / "sources.csv", OPTS)
    finally:
        fsspec.filesystem("memory").rm("/gwr-lists-test", recursive=True)
    assert _table(sources) == [
        ("reports/sh.txt", "local", "上海市", 2024),
        ("reports/2023/bj.txt", "local", None, 2023),    # a folder: its files, hints on each
        ("reports/2023/gd.txt", "local", None, 2023),
        ("far.txt", "local", None, None),                # outside the list's folder: its own name
        ("far-again.txt", "local", None, None),
        ("www.gov.cn_zhuanti_2024zfgzbg.html", "http", "全国", 2024),
        ("hailar_2023.txt", "http", "海拉尔区", 2023),
        ("mem/m.txt", "fsspec", None, None),             # a prefix with a name: the names' prefix
    ]
    # relative paths are resolved against the list's folder, not the working directory
    assert Path(sources[0].location) == tree / "lists" / "reports" / "sh.txt"
    assert read(sources[0], OPTS).data == b"lists/reports/sh.txt"
    assert sources[6].location == "https://example.org/r/2023/hailar.txt"


def test_csv_header_aliases_bom_and_gbk(tree):
    lists = tree / "lists"
    (lists / "urls.csv").write_bytes("\ufeffURL,Year\nreports/sh.txt,2021\n".encode("utf-8"))
    assert _table(list_sources(lists / "urls.csv", OPTS)) == [("reports/sh.txt", "local", None, 2021)]
    (lists / "gbk.csv").write_bytes("path,region\nreports/sh.txt,上海市\n".encode("gb18030"))
    assert _table(list_sources(lists / "gbk.csv", OPTS)) == [("reports/sh.txt", "local", "上海市", None)]


def test_a_vendor_table_csv_is_a_source_not_a_list(tree):
    """A CSV with a text column is a table of reports (the core reads it), even with a url column."""
    (tree / "vendor.csv").write_text("年份,地区,url,报告全文\n2023,广东省,https://x/y,全文\n",
                                     encoding="utf-8")
    assert _table(list_sources(tree / "vendor.csv", OPTS)) == [("vendor.csv", "local", None, None)]


def test_a_yaml_list(tree):
    lists = tree / "lists"
    (lists / "sources.yaml").write_text(
        "# the reports of 2023\n"
        "- reports/sh.txt\n"
        "- {location: reports/2023/gd.txt, region: 广东省, year: 2023}\n"
        "- url: https://example.org/hailar/2013.html\n"
        "  name: hailar_2013.html\n"
        "  region: 海拉尔区\n"
        "  year: 2013\n", encoding="utf-8")
    assert _table(list_sources(lists / "sources.yaml", OPTS)) == [
        ("reports/sh.txt", "local", None, None),
        ("reports/2023/gd.txt", "local", "广东省", 2023),
        ("hailar_2013.html", "http", "海拉尔区", 2013)]
    (lists / "wrapped.yml").write_text("sources:\n  - path: reports\n    name: all\n    year: 2023\n",
                                       encoding="utf-8")
    assert [s.name for s in list_sources(lists / "wrapped.yml", OPTS)] == [
        "all/2023/bj.txt", "all/2023/gd.txt", "all/sh.txt"]
    (lists / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert list_sources(lists / "empty.yaml", OPTS) == []


def test_a_list_naming_its_own_folder_leaves_itself_out(tree):
    lists = tree / "lists"
    (lists / "here.yaml").write_text("- .\n", encoding="utf-8")
    assert [s.name for s in list_sources(lists / "here.yaml", OPTS)] == [
        "reports/2023/bj.txt", "reports/2023/gd.txt", "reports/sh.txt"]


@pytest.mark.parametrize("text, message", [
    ("location,year\nreports/sh.txt,2023\nreports/2023/gd.txt,twenty\n",
     r"bad\.csv row 3: year 'twenty' is not a year"),
    ("location,year\nreports/sh.txt,2023\nreports/2023/gd.txt,1066\n",
     r"bad\.csv row 3: year '1066' is not a year"),
    ("location,name\nreports/sh.txt,a\n,b\n", r"bad\.csv row 3: no location"),
    ("location\nreports/sh.txt\nreports/missing.txt\n", r"bad\.csv row 3: source not found"),
    ("location,name\nreports/sh.txt,x.txt\nreports/2023/gd.txt,x.txt\n",
     r"bad\.csv row 3: the source name 'x\.txt' is given by row 2 too"),
    ("location\nreports\nreports/sh.txt\n",
     r"bad\.csv row 3: the source name 'reports/sh\.txt' is given by row 2 too"),
])
def test_a_bad_csv_row_is_named(tree, text, message):
    (tree / "lists" / "bad.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        list_sources(tree / "lists" / "bad.csv", OPTS)


@pytest.mark.parametrize("text, message", [
    ("- reports/sh.txt\n- {location: reports/2023/gd.txt, yaer: 2023}\n",
     r"bad\.yaml: entry 2 has unknown key\(s\) yaer"),
    ("- reports/sh.txt\n- 42\n", r"bad\.yaml: entry 2 is int, not a mapping"),
    ("- {url: https://a/b.txt, path: reports/sh.txt}\n", r"bad\.yaml: entry 1 gives url and path"),
    ("- {location: reports/sh.txt, year: '2023年'}\n", r"bad\.yaml entry 1: year '2023年' is not a year"),
    ("- {name: orphan.txt}\n", r"bad\.yaml entry 1: no location"),
    ("location: reports/sh.txt\n", r"bad\.yaml: a source list is a list of entries"),
    ("- [unclosed\n", r"bad\.yaml: not valid YAML"),
])
def test_a_bad_yaml_entry_is_named(tree, text, message):
    (tree / "lists" / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        list_sources(tree / "lists" / "bad.yaml", OPTS)
