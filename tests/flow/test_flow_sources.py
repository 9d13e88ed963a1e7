"""Where reports come from, through the whole flow: http(s) URLs (retries, a web page, timeouts
and the size cap, a daily re-run's conditional GET, Retry-After on 429), source lists (CSV and
YAML, with region / year hints), an s3:// prefix (a moto server), the vendor workbook and a GBK
ZIP of Word documents. The servers are started here, on 127.0.0.1 (the unit tests of each reader
are in tests/inputs/)."""
from __future__ import annotations

import shutil
import time

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from flowkit import (DATA, SEEDS, Served, by_source, duck, files, lake_of, rows, run, run_state, same_rows,
                     send, static, table)

pytestmark = pytest.mark.timeout(300)
REPORT = (SEEDS / "001_9eeac6bb57bd8a70.txt").read_bytes()
OTHER = (SEEDS / "000_c9b0bbd917161d38.txt").read_bytes()
FAST = dict(http_timeout_s=0.4, http_max_bytes=200_000, http_retries=2, http_backoff_s=0.05)
# a report that names neither its region nor its years: a source list's hints fill them
HINTLESS = ("政府工作报告\n各位代表：\n现在，我代表县人民政府，向大会报告工作，请予审议，并请县政协委员提出意见。\n"
            "一、过去一年工作回顾\n过去一年，全县地区生产总值增长6.5%，一般公共预算收入完成12.3亿元，增长8.1%。"
            "城镇居民人均可支配收入增长5.6%。\n二、今年工作安排\n今年经济社会发展的主要预期目标是：地区生产总值增长6%"
            "左右，一般公共预算收入增长5%，城镇居民人均可支配收入增长6%。\n") * 3


def sha_of(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def quarantine(lake) -> list[tuple]:
    return rows(duck(lake), "select source_name, stage, error, reason from quarantine order by all")


# ---- http(s) ----------------------------------------------------------------------------------
def _flaky(h, n):                      # 500 first, then 200
    send(h, 500, b"busy") if n == 1 else send(h, 200, REPORT)


def _slow(h, n):                       # never answers in time
    h.server.times.append(time.monotonic())
    time.sleep(1.5)
    send(h, 200, REPORT)


def _page(h, n):                       # a web page, no suffix in the URL
    body = ("<html><head><title>report</title></head><body><p>" + REPORT.decode("utf-8").replace("\n", "</p><p>")
            + "</p></body></html>").encode()
    send(h, 200, body, ctype="text/html; charset=utf-8")


@pytest.fixture
def web():
    routes = {"/reports/flaky.txt": _flaky, "/page": _page,
              "/reports/slow.txt": _slow, "/reports/big.txt": static(b"x" * 300_000),
              "/hint/a.txt": static(HINTLESS.encode()), "/hint/b.txt": static(HINTLESS.encode())}
    with Served(routes) as served:
        yield served


def test_a_500_then_200_is_retried_and_lands(prefect_server, web, tmp_path):
    lake = tmp_path / "lake"
    s = run(f"{web.url}/reports/flaky.txt", lake, **FAST)
    assert web.hits["/reports/flaky.txt"] == 2   # one retry
    assert [i["source_name"] for i in s["inputs"]] == ["flaky.txt"] and s["inputs"][0]["new_in_bronze"]
    panel = table(lake, "indicator_panel")
    assert panel.num_rows > 5 and set(panel["source_name"].to_pylist()) == {"flaky.txt"}
    assert lake_of(lake).source_index()["flaky.txt"]["location"] == f"{web.url}/reports/flaky.txt"


def test_a_web_page_is_a_source(prefect_server, web, tmp_path):
    lake = tmp_path / "lake"
    run(f"{web.url}/page", lake, **FAST)
    items = table(lake, "source_items").to_pylist()
    assert [(i["source_name"], i["container"]) for i in items] == [("127.0.0.1_page.html", "html")]
    assert table(lake, "indicator_panel").num_rows > 5


@pytest.mark.parametrize("path, attempts, error", [("slow.txt", 3, "TransientHTTPError"),
                                                   ("big.txt", 1, "too_large")])
def test_timeouts_and_oversized_files_are_quarantined(prefect_server, web, tmp_path, path, attempts, error):
    """A timeout is retried (http_retries=2: 3 attempts) then quarantined; a file over the cap
    is quarantined at once. Nothing usable: the run fails, saying so."""
    lake = tmp_path / "lake"
    web.server.times = []
    state = run_state(f"{web.url}/reports/{path}", lake, **FAST)
    assert state.is_failed() and "no usable input" in state.message
    assert web.hits[f"/reports/{path}"] == attempts
    got = quarantine(lake)
    assert len(got) == 1 and got[0][:3] == (path, "fetch", error)
    if path == "slow.txt":
        assert "timeout after 0.4 s" in got[0][3]
        tries = web.server.times     # 0.4 s timeouts and 0.05, 0.1 s between: not 1.5 s each
        assert tries[-1] - tries[0] < 3, tries
    assert table(lake, "indicator_panel").num_rows == 0


def test_a_daily_rerun_downloads_nothing_unchanged(prefect_server, tmp_path, monkeypatch):
    """The second day: every URL asked for with the validators the first day's answer gave
    (If-None-Match, If-Modified-Since); 304s download nothing and write nothing. A URL whose
    content changed is downloaded and processed again, alone. After a change of the code that
    makes the rows, the downloads are not conditional: every URL's rows are made again."""
    import flows.stages.process as process

    version = {"etag": '"c1"', "body": REPORT}

    def changing(h, n):
        static(version["body"], etag=version["etag"])(h, n)

    routes = {"/etag.txt": static(OTHER, etag='"e1"'),
              "/modified.txt": static((SEEDS / "004_0884824e28a0f3f2.txt").read_bytes(),
                                      last_modified="Wed, 01 Mar 2023 08:00:00 GMT"),
              "/changing.txt": changing}
    lake = tmp_path / "lake"
    with Served(routes) as web:
        listed = tmp_path / "daily.yaml"
        listed.write_text("".join(f"- {web.url}{p}\n" for p in routes), encoding="utf-8")
        s = run(listed, lake, **FAST)
        assert s["status"] == "published" and len(s["inputs"]) == 3
        state = lake_of(lake).records.input_state()
        assert state[f"{web.url}/etag.txt"]["etag"] == '"e1"'
        assert state[f"{web.url}/modified.txt"]["last_modified"] == "Wed, 01 Mar 2023 08:00:00 GMT"
        before = files(lake)

        s = run(listed, lake, **FAST)
        assert s["status"] == "nothing_new" and s["inputs"] == [] and s["quarantined"] == []
        assert files(lake) == before                          # not one file written or touched
        assert web.hits == {p: 2 for p in routes}
        assert web.headers["/etag.txt"][1].get("If-None-Match") == '"e1"'
        assert web.headers["/modified.txt"][1].get("If-Modified-Since") == "Wed, 01 Mar 2023 08:00:00 GMT"
        assert web.headers["/changing.txt"][1].get("If-None-Match") == '"c1"'

        version.update(etag='"c2"', body=(SEEDS / "003_10be600c11dd0ddc.txt").read_bytes())
        s = run(listed, lake, **FAST)
        assert s["status"] == "published" and s["work"]["processed"] == 1
        assert [i["source_name"] for i in s["inputs"]] == ["changing.txt"]
        assert lake_of(lake).records.input_state()[f"{web.url}/changing.txt"]["etag"] == '"c2"'
        assert lake_of(lake).source_index()["changing.txt"]["sha256"] == s["inputs"][0]["sha256"]

        monkeypatch.setattr(process, "code_version", lambda: "another-extractor")
        s = run(listed, lake, **FAST)
        assert not any({"If-None-Match", "If-Modified-Since"} & set(h[3]) for h in web.headers.values())
    assert s["status"] == "published" and s["work"]["processed"] == 3
    assert {e["code_version"] for e in lake_of(lake).source_index().values()} == {"another-extractor"}
    assert set(table(lake, "reports")["source_name"].to_pylist()) == {"etag.txt", "modified.txt", "changing.txt"}


def test_retry_after_on_429_is_honoured_and_capped(prefect_server, tmp_path):
    """A 429 with Retry-After: the download waits what the server asked (not the backoff), at
    most retry_after_max_s."""
    times: dict[str, list[float]] = {}

    def throttled(seconds):
        def route(h, n):
            times.setdefault(h.path, []).append(time.monotonic())
            send(h, 429, b"slow down", {"Retry-After": seconds}) if n == 1 else send(h, 200, REPORT)
        return route

    lake = tmp_path / "lake"
    with Served({"/asked.txt": throttled("2"), "/capped.txt": throttled("3600")}) as web:
        listed = tmp_path / "sources.csv"
        listed.write_text(f"location\n{web.url}/asked.txt\n{web.url}/capped.txt\n", encoding="utf-8")
        s = run(listed, lake, **(FAST | dict(retry_after_max_s=3.0)))
    assert s["status"] == "published" and sorted(i["source_name"] for i in s["inputs"]) == ["asked.txt", "capped.txt"]
    gap = {p: t[1] - t[0] for p, t in times.items()}
    assert gap["/asked.txt"] >= 1.9, gap          # the backoff alone would be 0.05 s
    assert 2.9 <= gap["/capped.txt"] < 10, gap    # not an hour: retry_after_max_s


# ---- source lists --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["csv", "yaml"])
def test_a_source_list_with_region_and_year_hints(seeded_lake, web, tmp_path, kind):
    """A list names URLs and a local file, with hints for what the texts leave out: the
    reports get the region and years of their entry; a text that says them keeps its own."""
    local = tmp_path / "lists" / "local"
    local.mkdir(parents=True)
    (local / "hintless.txt").write_text(HINTLESS, encoding="utf-8")
    shutil.copy(SEEDS / "001_9eeac6bb57bd8a70.txt", local / "seed.txt")
    entries = [(f"{web.url}/hint/a.txt", "tang_2023.txt", "唐县", "2023"),
               (f"{web.url}/hint/b.txt", "", "北京市", "2021"),
               ("local/hintless.txt", "", "海拉尔区", "2019"),
               ("local/seed.txt", "", "", "")]
    if kind == "csv":
        listed = tmp_path / "lists" / "sources.csv"
        listed.write_text("location,name,region,year\n" + "".join(",".join(e) + "\n" for e in entries),
                          encoding="utf-8")
    else:
        import yaml

        listed = tmp_path / "lists" / "sources.yaml"
        doc = {"sources": [{k: v for k, v in zip(("location", "name", "region", "year"), e) if v} for e in entries]}
        listed.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    lake = tmp_path / "lake"
    s = run(listed, lake, **FAST)
    assert s["status"] == "published" and s["quarantined"] == []
    got = {r[0]: r[1:] for r in rows(duck(lake), "select source_name, region, province, review_year, plan_year "
                                                 "from reports where is_report")}
    assert got["tang_2023.txt"] == ("保定市唐县", "河北省", 2022, 2023)
    assert got["b.txt"] == ("北京市", "北京市", 2020, 2021)
    assert got["local/hintless.txt"][0].endswith("海拉尔区") and got["local/hintless.txt"][2:] == (2018, 2019)
    own = rows(duck(seeded_lake[0]), "select region, review_year, plan_year from reports where is_report "
                                     "and source_name = '001_9eeac6bb57bd8a70.txt'")
    assert [got["local/seed.txt"][:1] + got["local/seed.txt"][2:]] == own       # the text's own, no hint
    # the panel rows carry the report's region and years
    assert rows(duck(lake), "select distinct region, year from indicator_panel where source_name = 'tang_2023.txt' "
                            "order by year") == [("保定市唐县", 2022), ("保定市唐县", 2023)]
    # bronze holds the file as found (three of the sources share its bytes): the hints are the list's
    assert rows(duck(lake), f"select place, year from source_items where sha256 = '{sha_of(HINTLESS)}'") == \
        [(None, None)]
    if kind == "yaml":
        return
    # a hint corrected in the list: that source is processed again, with it
    before = files(lake)
    s = run(listed, lake, **FAST)
    assert s["status"] == "nothing_new" and s["work"]["unchanged"] == 2 and files(lake) == before
    listed.write_text(listed.read_text(encoding="utf-8").replace("海拉尔区", "易县"), encoding="utf-8")
    s = run(listed, lake, **FAST)
    assert s["status"] == "published" and s["work"]["processed"] == 1 and s["work"]["unchanged"] == 1
    assert rows(duck(lake), "select distinct region, plan_year from reports "
                            "where source_name = 'local/hintless.txt'") == [("保定市易县", 2019)]


# ---- s3:// ---------------------------------------------------------------------------------
BUCKET = "gwr-sources"


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 with two seeds under s3://gwr-sources/reports/."""
    import fsspec
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    mp = pytest.MonkeyPatch()
    for k, v in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        mp.setenv(k, v)
    s3fs.S3FileSystem.clear_instance_cache()
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(BUCKET)
    fs.pipe(f"{BUCKET}/reports/2023/a.txt", OTHER)
    fs.pipe(f"{BUCKET}/reports/2024/b.txt", REPORT)
    fs.pipe(f"{BUCKET}/elsewhere/c.txt", REPORT)
    yield fs
    s3fs.S3FileSystem.clear_instance_cache()
    mp.undo()
    server.stop()


def test_an_s3_prefix_is_a_source(seeded_lake, s3, tmp_path, capsys):
    from flows.cli import main

    lake = tmp_path / "lake"
    assert main(["run", "--source", f"s3://{BUCKET}/reports/", "--lake", str(lake)]) == 0
    assert ": published" in capsys.readouterr().out
    (s,) = lake_of(lake).records.manifests()
    assert s["source"] == f"s3://{BUCKET}/reports/"
    assert sorted(i["source_name"] for i in s["inputs"]) == ["2023/a.txt", "2024/b.txt"]
    index = lake_of(lake).source_index()
    assert index["2024/b.txt"]["location"] == f"s3://{BUCKET}/reports/2024/b.txt" and index["2024/b.txt"]["etag"]
    # the same rows as the same files read from a folder (the seeded lake's, by another name)
    names = {"2023/a.txt": "000_c9b0bbd917161d38.txt", "2024/b.txt": "001_9eeac6bb57bd8a70.txt"}
    for t in ("reports", "indicator_panel"):
        got = table(lake, t)
        got = got.set_column(got.schema.get_field_index("source_name"), "source_name",
                             pa.array([names[n] for n in got["source_name"].to_pylist()], pa.string()))
        same_rows(got, by_source(table(seeded_lake[0], t), names.values()), t)
    # the next run lists the prefix: the same ETags, nothing read
    before = files(lake)
    s = run(f"s3://{BUCKET}/reports/", lake)
    assert s["status"] == "nothing_new" and s["work"]["unchanged"] == 2 and files(lake) == before
    # an object replaced: that one again
    s3.pipe(f"{BUCKET}/reports/2023/a.txt", (SEEDS / "004_0884824e28a0f3f2.txt").read_bytes())
    s = run(f"s3://{BUCKET}/reports/", lake)
    assert s["status"] == "published" and [i["source_name"] for i in s["inputs"]] == ["2023/a.txt"]
    assert s["work"]["processed"] == 1 and s["work"]["unchanged"] == 1


# ---- documents as delivered --------------------------------------------------------------------
def test_the_vendor_workbook_through_the_flow(prefect_server, tmp_path):
    """Every row of the vendor's workbook that has a text is one report, exactly; the rows whose
    columns disagree with their text (another county's report) say so in
    reports.metadata_conflicts and in the run's summary."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(DATA / "corpus" / "vendor" / "baoding_counties_dev.xlsx", src)
    lake = tmp_path / "lake"
    s = run(src, lake)
    assert s["status"] == "published"
    con = duck(lake)
    (items,), = rows(con, "select count(*) from source_items")
    assert items == 66      # the rows with a text (README: 158 rows, 66 with text)
    # each row without a text is a quarantine record saying so, none of them a report
    skipped = rows(con, "select item_index, stage, reason from quarantine")
    assert len(skipped) == len(s["quarantined"]) == 158 - 66
    assert all(stage == "fetch" and "has no text" in reason for _, stage, reason in skipped)
    per_item = rows(con, "select item_index, count(*) filter (where is_report), count(*) from reports group by 1")
    assert len(per_item) == items and all(n_rep == 1 and n == 1 for _, n_rep, n in per_item), per_item
    conflicts = rows(con, "select item_index, doc_index, metadata_conflicts from reports "
                          "where metadata_conflicts is not null order by item_index")
    assert len(conflicts) >= 3
    said = " ".join(c for _, _, c in conflicts)
    for county in ("高唐县", "米易县", "新安县"):      # reports filed under 唐县, 易县, 安新
        assert county in said, county
    # the summary lists the same conflicts, one line each, naming the document
    assert len(s["conflicts"]) == len(conflicts)
    lines = {int(c.split("(item ")[1].split(")")[0]): c for c in s["conflicts"]}
    for item, doc, text in conflicts:
        assert lines[item].startswith(f"baoding_counties_dev.xlsx#{doc} (item {item}):") and text in lines[item]
    from flows.stages.summary import format_summary

    assert f"metadata conflicts (the text wins; reports.metadata_conflicts): {len(conflicts)}" in format_summary(s)


def test_a_gbk_zip_of_word_documents_gives_the_panel_of_its_files(prefect_server, tmp_path):
    """The three DOCX of a ZIP whose member names are GBK bytes are read as the files they are:
    the same reports and panel rows as the three files given on their own."""
    archive = "三省政府工作报告_gbk.zip"
    members = ["2025年吉林省政府工作报告.docx", "2025年西藏政府工作报告.docx", "2025年青海省政府工作报告.docx"]
    zipped, loose = tmp_path / "zipped", tmp_path / "loose"
    zipped.mkdir()
    loose.mkdir()
    shutil.copy(DATA / "archives" / archive, zipped)
    for m in members:
        shutil.copy(DATA / "corpus" / "prov2025" / m, loose)
    a = run(zipped, tmp_path / "lake-zip")
    b = run(loose, tmp_path / "lake-docx")
    assert a["status"] == b["status"] == "published" and a["quarantined"] == []
    assert sorted(i["source_name"] for i in a["inputs"]) == [f"{archive}/{m}" for m in members]
    def unzipped(t):
        """The table with the archive's name taken out of every text (source names, doc ids)."""
        for i, f in enumerate(t.schema):
            if pa.types.is_string(f.type):
                t = t.set_column(i, f.name, pc.replace_substring(t[f.name], f"{archive}/", ""))
        return t

    for name in ("reports", "indicator_mentions", "indicator_panel", "indicator_wide", "target_attainment"):
        t = table(tmp_path / "lake-zip", name)
        assert t.num_rows > 0, name
        if "source_name" in t.column_names:
            assert sorted(set(t["source_name"].to_pylist())) == [f"{archive}/{m}" for m in members], name
        same_rows(unzipped(t), table(tmp_path / "lake-docx", name), name)
    regions = {r[0] for r in rows(duck(tmp_path / "lake-zip"), "select distinct region from reports")}
    assert regions == {"吉林省", "西藏自治区", "青海省"}
    assert by_source(table(tmp_path / "lake-zip", "sources"), [f"{archive}/{m}" for m in members]).num_rows == 3
