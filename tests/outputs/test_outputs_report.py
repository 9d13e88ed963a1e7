"""What a person reads after a run: the HTML report and the GX Data Docs under <lake>/reports/
(flows/stages/report.py, flows/outputs/report_html.py), the Prefect artifacts' growth chart
(flows/outputs/artifacts.py), the link from the Prefect UI, a failed run's report, and the page as
a real browser draws it (headless Chromium: skipped when it is absent, a failure when CI is set)."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SEEDS
from helpers import sort_rows

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
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


PANEL_ROW = dict(source_name="x.txt", doc_index=1, region="甲市", tier="city", province="乙省",
                 indicator="gdp", kind="actual", measure="growth_pct", year=2020, value=-2.5,
                 value_high=None, unit="percent", qualifier=None, estimate=False, strength=None,
                 status="reported", value_text="-2.5%", quote="下降2.5%", start=0, end=2,
                 rule="direct", subject="explicit", confidence="high")


# ---- written by the run ------------------------------------------------------------------
def test_the_run_writes_a_self_contained_report(seeded_lake):
    from flows.lake import Lake

    lake, summary = seeded_lake
    page_path = lake / "reports" / "index.html"
    page = page_path.read_text(encoding="utf-8")
    assert summary["report"] == page_path.resolve().as_uri()
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)
    assert "window.vegaEmbed" in page   # the Vega bundle is inlined
    assert f"Run <b>{summary['run_id']}</b>" in page and ">published<" in page
    # every region of the panel has its section, chart and evidence table
    panel = Lake(lake).read("indicator_panel").to_pylist()
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
    assert f"../validation/{summary['run_id']}.md" in page and f"../validation/{summary['run_id']}-bi.md" in page


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
    from flows.core.bi import bi_tables
    from flows.lake import Lake

    lake, summary = seeded_lake
    lk = Lake(lake)
    expected = bi_tables(lk.read("indicator_panel"))
    for name, table in expected.items():
        assert sort_rows(name, lk.read(name)).equals(sort_rows(name, table)), name
        assert summary["bi"]["rows"][name] == table.num_rows > 0
    assert summary["bi"]["validation"]["success"]
    assert (lake / "validation" / f"{summary['run_id']}-bi.md").read_text(encoding="utf-8").count("PASSED") == 1


def test_the_run_writes_the_lakes_duckdb_file(seeded_lake):
    """lake.duckdb: views over the pointer's files, opened by DuckDB alone from the lake folder."""
    import duckdb

    from flows.lake import Lake

    lake, summary = seeded_lake
    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    con.execute(f"SET file_search_path = '{lake}'")
    for t in ("reports", "indicator_panel", "indicator_wide", "target_attainment", "sources"):
        (n,), = con.execute(f"select count(*) from {t}").fetchall()
        assert n == Lake(lake).read(t, summary["versions"]).num_rows > 0, t
    con.close()


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
    from flows.settings import Settings

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
    before = {t: lk.read(t) for t in ("indicator_panel", "indicator_wide", "target_attainment")}
    pointer = lk.records.current()
    page_path = lake_copy / "reports" / "index.html"
    old_page = page_path.read_text(encoding="utf-8")

    state = gwr_lake(settings=Settings(source=str(source), lake=str(lake_copy), expectations=str(suites),
                                       workers=0), return_state=True)
    assert state.is_failed()
    assert ("BI tables" in state.message) == (broken == "bi"), state.message
    for t in ("indicator_wide", "target_attainment"):
        assert lk.read(t).equals(before[t]), t     # the previous BI tables stay
    assert lk.read("indicator_panel").equals(before["indicator_panel"]) == (broken == "batch")
    assert (lk.records.current() == pointer) == (broken == "batch")   # nothing published
    page = page_path.read_text(encoding="utf-8")
    assert page != old_page
    assert "FAILED" in page and "targets are forbidden" in page and "failed_validation" in page
    run_id = re.search(r"Run <b>([^<]+)</b>", page).group(1)
    manifest = json.loads((lake_copy / "manifests" / f"{run_id}.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed_validation"
    assert manifest["report"] == page_path.resolve().as_uri()
    assert (lake_copy / "reports" / "data_docs" / "index.html").is_file()
    if broken == "bi":
        assert "FAILED" in (lake_copy / "validation" / f"{run_id}-bi.md").read_text(encoding="utf-8")
        assert lk.records.current()["bi"]["stale"] is True    # the next run rebuilds them


# ---- the pure page ------------------------------------------------------------------------------
def test_render_report_escapes_evidence():
    from flows.outputs.report_html import render_report
    from flows.schemas import schema, to_table

    row = dict(PANEL_ROW, region="甲<b>市", year=2022, value=5.0, estimate=True, value_text="5%",
               quote="增长5%</script><script>alert(1)</script>")
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


# ---- a fall is drawn below / left of zero --------------------------------------------------------
def _fall_page() -> str:
    """A region whose GDP fell 2.5% in 2020, grew 3% in 2021 and planned 6% for 2021."""
    from flows.outputs.report_html import render_report
    from flows.schemas import schema, to_table

    rows = [PANEL_ROW, dict(PANEL_ROW, year=2021, value=3.0, value_text="3%", quote="增长3%"),
            dict(PANEL_ROW, kind="target", year=2021, value=6.0, value_text="6%", quote="增长6%左右")]
    return render_report(to_table("indicator_panel", rows), schema("target_attainment").empty_table(),
                         run={"run_id": "r1", "status": "published"}, lake="/x")


def _svg_bars(svg: str) -> dict[str, tuple[float, float]]:
    """growth_svg's bars: label ("-2.5%") -> (x, width)."""
    return {label: (float(x), float(w)) for x, w, label in re.findall(
        r'<rect x="([-\d.]+)" y="[-\d.]+" width="([\d.]+)" height="[\d.]+" fill="#[0-9a-f]+"/>'
        r'<text [^>]*>(-?[\d.]+%)</text>', svg)}


def test_the_artifacts_growth_chart_draws_a_fall_left_of_zero():
    from flows.outputs.artifacts import chart_markdown, growth_pairs, growth_svg

    panel = [dict(PANEL_ROW, year=2022), dict(PANEL_ROW, kind="target", year=2023, value=5.0),
             dict(PANEL_ROW, region="乙市", year=2022, value=4.0), dict(PANEL_ROW, region="乙市", kind="target",
                                                                       year=2023, value=5.5)]
    pairs = growth_pairs(panel)
    assert pairs == [("乙市", "2022 / 2023", 4.0, 5.5), ("甲市", "2022 / 2023", -2.5, 5.0)]
    svg = growth_svg(pairs)
    zero = float(re.search(r'<line x1="([\d.]+)"', svg).group(1))
    bars = _svg_bars(svg)
    assert set(bars) == {"-2.5%", "4%", "5%", "5.5%"}
    x, w = bars["-2.5%"]
    assert x < zero and x + w == pytest.approx(zero, abs=0.11)       # ends at the zero line
    for label in ("4%", "5%", "5.5%"):                                # rises start there
        assert bars[label][0] == pytest.approx(zero, abs=0.11)
    assert w / bars["5%"][1] == pytest.approx(0.5, rel=0.02)          # to scale: 2.5 is half of 5
    assert re.search(r'text-anchor="end">-2.5%</text>', svg)          # its label left of the bar
    md = chart_markdown(panel, "r1")
    uri = re.search(r"\(data:image/svg\+xml;base64,([^)]+)\)", md).group(1)
    assert base64.b64decode(uri).decode() == svg
    # the table's text bars: a fall grows left of the zero mark, a rise right of it
    assert re.search(r"`█{9}\| -2.5`", md) and re.search(r"`\|█{15} 4`", md), md


def _ticks_and_points(dom: str, chart: str) -> tuple[dict[float, float], dict[float, float]]:
    """In a chart Vega drew: the y axis's ticks (value -> y of the tick line) and the points
    (value -> y)."""
    start = dom.index(f'id="{chart}"')
    svg = dom[start:dom.index("</svg>", start)]
    labels = [re.findall(r">([−\-\d.]+)</text>", g)
              for g in re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg, re.S)]
    lines = [re.findall(r'<line transform="translate\(0,([-\d.]+)\)" x2="-5"', g)
             for g in re.findall(r'<g class="mark-rule role-axis-tick"[^>]*>(.*?)</g>', svg, re.S)]
    y_labels = next(v for v in labels if v and not all(len(x) == 4 for x in v))   # not the years
    y_lines = next(v for v in lines if v)
    assert len(y_labels) == len(y_lines), (y_labels, y_lines)
    ticks = {float(v.replace("−", "-")): float(y) for v, y in zip(y_labels, y_lines)}
    points = {float(v.replace("−", "-")): float(y) for v, y in re.findall(
        r'aria-label="[^"]*?growth, %: ([−\-\d.]+);[^"]*" role="graphics-symbol"[^>]*'
        r'transform="translate\([-\d.]+,([-\d.]+)\)"', svg)}
    return ticks, points


def test_the_reports_growth_chart_draws_a_fall_below_zero(tmp_path):
    page = _fall_page()
    spec = json.loads(re.search(r"const specs = (.*);\n", page).group(1).replace("<\\/", "</"))
    assert {(d["year"], d["kind"], d["value"]) for d in spec["chart-0"]["data"]["values"]} == \
        {("2020", "actual", -2.5), ("2021", "actual", 3.0), ("2021", "target", 6.0)}
    path = tmp_path / "fall.html"
    path.write_text(page, encoding="utf-8")
    dom = browse(path.as_uri(), tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    ticks, points = _ticks_and_points(dom.stdout, "chart-0")
    assert 0.0 in ticks and min(ticks) < 0, ticks          # the axis goes below zero
    assert set(points) == {-2.5, 3.0, 6.0}, points
    assert points[-2.5] > ticks[0.0] > points[3.0] > points[6.0]   # SVG's y grows downwards
    # on the scale the axis shows: -2.5 lies 1.25 of the 0 -> 2 step below zero
    step = ticks[0.0] - ticks[2.0]
    assert points[-2.5] == pytest.approx(ticks[0.0] + 1.25 * step, abs=2.0)   # ticks are whole pixels


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
    assert "chart error: " not in re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert html.count('<table class="values">') == page.count('<table class="values">') > 10
    assert html.count("<tr>") > 100

    shot = tmp_path / "report.png"
    r = browse(url, tmp_path, f"--screenshot={shot}", "--window-size=1400,2600", "--hide-scrollbars")
    assert r.returncode == 0 and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("GWR_REPORT_SCREENSHOT"):   # keep it to look at
        shutil.copy(shot, os.environ["GWR_REPORT_SCREENSHOT"])


def test_a_failed_runs_report_renders_in_headless_chromium(tmp_path):
    """A run whose validation failed: the page says so, and still draws."""
    from flows.outputs.report_html import render_report
    from flows.schemas import schema, to_table

    failure = {"table": "indicator_panel", "expectation": "expect_column_values_to_be_in_set",
               "why": "test: targets are forbidden", "kwargs": {"column": "kind"}, "unexpected_count": 1,
               "examples": ["target"]}
    check = {"success": False, "summary": "validation FAILED: 1 of 30 expectations",
             "tables": {"indicator_panel": {"rows": 2, "expectations": 30, "failed": 1}}, "failures": [failure]}
    rows = [PANEL_ROW, dict(PANEL_ROW, kind="target", year=2021, value=6.0)]
    page = render_report(to_table("indicator_panel", rows), schema("target_attainment").empty_table(),
                         run={"run_id": "r2", "status": "failed_validation", "error": "validation FAILED"},
                         checks=[("batch: this run's new rows", check), ("BI tables", None)], lake="/x")
    path = tmp_path / "failed.html"
    path.write_text(page, encoding="utf-8")
    html = browse(path.as_uri(), tmp_path, "--dump-dom").stdout
    text = re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert "failed_validation" in text and "FAILED" in text and "targets are forbidden" in text
    assert re.search(r'<div class="chart vega-embed" id="chart-0"[^>]*><svg', html)
