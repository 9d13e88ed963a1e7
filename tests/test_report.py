"""The HTML report and the GX Data Docs every run writes under <lake>/reports/, the Prefect link
to them, the BI tables' validation gate, and the page drawn by a real browser (headless
Chromium: skipped when it is absent, a failure when CI is set)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SEEDS

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if CI:
        pytest.fail("CI is set but chromium is not installed (.ci/run installs it: apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium); with CI=true this fails")


def browse(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp / 'chromium-profile'}",
           "--virtual-time-budget=10000", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def chart_ids(page: str) -> list[str]:
    return re.findall(r'<div class="chart" id="([^"]+)"></div>', page)


# ---- written by the run ------------------------------------------------------------------
def test_the_run_writes_a_self_contained_report(seeded_lake):
    lake, summary = seeded_lake
    page_path = lake / "reports" / "index.html"
    page = page_path.read_text(encoding="utf-8")
    assert summary["report"] == page_path.resolve().as_uri()
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)
    assert "window.vegaEmbed" in page   # the Vega bundle is inlined
    assert f"Run <b>{summary['run_id']}</b>" in page and ">published<" in page
    # every region of the panel has its section, chart and evidence table
    from flows.lake import Lake

    panel = Lake(lake).read_table("indicator_panel").to_pylist()
    regions = {r["region"] for r in panel if r["region"]}
    assert len(regions) > 10
    for region in regions:
        assert f"<h2>{region}" in page, region
    assert page.count('<table class="values">') == len(regions)
    assert len(chart_ids(page)) >= len(regions) - 2
    quote = next(r["quote"] for r in panel if r["indicator"] == "gdp" and r["kind"] == "target")
    assert f"<q>{quote}</q>" in page
    # what validation said, and links that resolve
    assert 'id="validation"' in page and "passed" in page
    for href in re.findall(r'href="([^"#]+)"', page):
        assert (page_path.parent / href).resolve().is_file(), href
    assert 'href="data_docs/index.html"' in page


def test_the_run_builds_data_docs_of_every_table(seeded_lake):
    lake, summary = seeded_lake
    docs = lake / "reports" / "data_docs"
    index = (docs / "index.html").read_text(encoding="utf-8")
    for table in ("source_items", "reports", "indicator_mentions", "indicator_panel",
                  "indicator_wide", "target_attainment"):
        pages = list((docs / "validations" / table / summary["run_id"]).rglob("*.html"))
        assert pages, table
        assert f"validations/{table}/{summary['run_id']}/" in index, table
        assert (docs / "expectations" / f"{table}.html").is_file(), table


def test_the_run_publishes_bi_tables(seeded_lake):
    from flows.bi import bi_tables
    from flows.lake import Lake, sort_rows

    lake, summary = seeded_lake
    lk = Lake(lake)
    expected = bi_tables(lk.read_table("indicator_panel"))
    for name, table in expected.items():
        assert sort_rows(name, lk.read_table(name)).equals(sort_rows(name, table)), name
        assert summary["bi"]["rows"][name] == table.num_rows > 0
    assert summary["bi"]["validation"]["success"]
    assert (lake / "validation" / f"{summary['run_id']}-bi.md").read_text(encoding="utf-8").count("PASSED") == 1


def test_the_run_links_to_the_report(seeded_lake):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    lake, summary = seeded_lake
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["gwr-lake-report"])))
    assert arts and all(a.type == "markdown" for a in arts)
    mine = [a for a in arts if summary["run_id"] in (a.description or "")]
    assert mine and f"[HTML report]({summary['report']})" in mine[0].data
    assert "data_docs/index.html" in mine[0].data


@pytest.mark.parametrize("broken", ["batch", "bi"])
def test_a_failed_validation_still_writes_the_report(lake_copy, tmp_path, broken):
    """batch: the panel suite fails, nothing is published; bi: the panel is published but the
    BI suite fails, so the previous BI tables stay. Either way the report says what failed."""
    from flows.flow import gwr_lake
    from flows.lake import Lake

    suites = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", suites)
    table = "indicator_panel" if broken == "batch" else "indicator_wide"
    suite = json.loads((suites / f"{table}.json").read_text(encoding="utf-8"))
    suite["expectations"].append({"type": "expect_column_values_to_be_in_set",
                                  "kwargs": {"column": "kind", "value_set": ["actual"]},
                                  "meta": {"why": "test: targets are forbidden"}})
    (suites / f"{table}.json").write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SEEDS / "003_10be600c11dd0ddc.txt", source / "extra_copy.txt")
    lk = Lake(lake_copy)
    before = {t: lk.read_table(t) for t in ("indicator_panel", "indicator_wide", "target_attainment")}
    page_path = lake_copy / "reports" / "index.html"
    old_page = page_path.read_text(encoding="utf-8")

    state = gwr_lake(source=str(source), lake=str(lake_copy), expectations=str(suites), return_state=True)
    assert state.is_failed()
    assert ("BI tables" in state.message) == (broken == "bi"), state.message
    for t in ("indicator_wide", "target_attainment"):
        assert lk.read_table(t).equals(before[t]), t     # the previous BI tables stay
    assert lk.read_table("indicator_panel").equals(before["indicator_panel"]) == (broken == "batch")
    page = page_path.read_text(encoding="utf-8")
    assert page != old_page
    assert "FAILED" in page and "targets are forbidden" in page and "failed_validation" in page
    run_id = re.search(r"Run <b>([^<]+)</b>", page).group(1)
    manifest = json.loads((lake_copy / "manifests" / f"{run_id}.json").read_text(encoding="utf-8"))
    assert manifest["status"] in ("failed", "failed_validation")
    assert manifest.get("report") == page_path.resolve().as_uri() or broken == "bi"
    assert (lake_copy / "reports" / "data_docs" / "index.html").is_file()
    if broken == "bi":
        assert "FAILED" in (lake_copy / "validation" / f"{run_id}-bi.md").read_text(encoding="utf-8")


# ---- the pure page --------------------------------------------------------------------------
def test_render_report_escapes_evidence():
    from flows.report import render_report
    from flows.schemas import schema, to_table

    row = dict(source_name="x.txt", doc_index=1, region="甲<b>市", tier="city", province="乙省",
               indicator="gdp", kind="actual", measure="growth_pct", year=2022, value=5.0,
               value_high=None, unit="percent", qualifier=None, estimate=True, strength=None,
               status="reported", value_text="5%", quote="增长5%</script><script>alert(1)</script>",
               start=0, end=2, rule="direct", subject="explicit", confidence="high")
    page = render_report(to_table("indicator_panel", [row, dict(row, kind="target", year=2023)]),
                         schema("target_attainment").empty_table(),
                         run={"run_id": "r1", "status": "published"}, lake="/x")
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page           # in the evidence table
    assert "</script><script>alert(1)" not in page and page.count("</script>") == 2  # in the specs
    assert "<h2>甲&lt;b&gt;市" in page and "(预计)" in page
    specs = json.loads(re.search(r"const specs = (.*);\n", page).group(1).replace("<\\/", "</"))
    assert list(specs) == ["chart-0"]
    assert {d["kind"] for d in specs["chart-0"]["data"]["values"]} == {"actual", "target"}
    assert specs["chart-0"]["data"]["values"][0]["quote"].endswith("alert(1)</script>")


# ---- drawn by a browser -------------------------------------------------------------------
def test_report_renders_in_headless_chromium(seeded_lake, tmp_path):
    lake, _ = seeded_lake
    page_path = lake / "reports" / "index.html"
    page = page_path.read_text(encoding="utf-8")
    url = page_path.resolve().as_uri()
    dom = browse(url, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    wanted = chart_ids(page)
    drawn = re.findall(r'<div class="chart vega-embed" id="([^"]+)"[^>]*><svg', html)
    assert wanted and sorted(drawn) == sorted(wanted), set(wanted) - set(drawn)
    assert html.count('class="mark-symbol') >= len(wanted)   # points were drawn
    assert "chart error:" not in html.split("<script>")[0] and "chart error: " not in re.sub(
        r"<script>.*?</script>", "", html, flags=re.S)
    assert html.count('<table class="values">') == page.count('<table class="values">') > 10
    assert html.count("<tr>") > 100

    shot = tmp_path / "report.png"
    r = browse(url, tmp_path, f"--screenshot={shot}", "--window-size=1400,2600", "--hide-scrollbars")
    assert r.returncode == 0 and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("GWR_REPORT_SCREENSHOT"):   # keep it to look at
        shutil.copy(shot, os.environ["GWR_REPORT_SCREENSHOT"])


def test_the_data_docs_job_ends_before_a_failed_page_is_raised(monkeypatch, tmp_path):
    """write_report: the Data Docs job (a worker writing into the lake) is waited for even when
    the page fails, so that no write of the run's is left running once the run lets the lake go;
    the page's error is the one raised."""
    from flows import analyst, runners
    from flows.lake import Lake

    waited = []

    class Job:
        def result(self):
            waited.append(True)
            raise RuntimeError("docs failed too")

    def bad_page(*args, **kwargs):
        raise ValueError("page failed")

    monkeypatch.setattr(runners, "start", lambda *args, **kwargs: Job())
    monkeypatch.setattr(analyst, "_page", bad_page)
    with pytest.raises(ValueError, match="page failed"):
        analyst.write_report(Lake(tmp_path / "lake"), "r1", {"status": "running"}, None)
    assert waited == [True]
