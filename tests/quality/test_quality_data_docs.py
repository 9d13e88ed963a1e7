"""flows/quality/data_docs.py: GX Data Docs of validation results; a site built again from the
one before keeps its pages of results and renders only what it lacks (and a changed suite)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from flows.quality import build_data_docs, validate_tables
from flows.schemas import to_table


def _panel(value: float):
    row = dict(source_name="a.txt", doc_index=1, region="甲市", tier="city", province="乙省",
               indicator="gdp", kind="actual", measure="growth_pct", year=2022, value=value,
               value_high=None, unit="percent", qualifier=None, estimate=False, strength=None,
               status="reported", value_text="5%", quote="增长5%", start=0, end=2)
    return to_table("indicator_panel", [row])


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    """GX results of a passing and a failing panel (ValidationReport.gx_results)."""
    return {"pass": validate_tables({"indicator_panel": _panel(5.0)}).gx_results["indicator_panel"],
            "fail": validate_tables({"indicator_panel": _panel(5000.0)}).gx_results["indicator_panel"]}


def _pages(site: Path, run_id: str) -> list[Path]:
    return sorted((site / "validations" / "indicator_panel" / run_id).rglob("*.html"))


def test_a_site_of_results_and_their_suites(results, tmp_path):
    index = build_data_docs([("20260101T120000Z-a", "indicator_panel", results["pass"]),
                             ("20260101T120000Z-a", "indicator_panel#2", results["fail"])],
                            tmp_path / "site")
    assert isinstance(index, str) and Path(index) == tmp_path / "site" / "index.html"
    text = Path(index).read_text(encoding="utf-8")
    assert "20260101T120000Z-a" in text
    assert len(_pages(tmp_path / "site", "20260101T120000Z-a")) == 2
    assert (tmp_path / "site" / "expectations" / "indicator_panel.html").is_file()


def test_a_site_built_again_keeps_its_pages_and_renders_what_is_new(results, tmp_path):
    first = [("20260101T120000Z-a", "indicator_panel", results["pass"])]
    build_data_docs(first, tmp_path / "one")
    [page] = _pages(tmp_path / "one", "20260101T120000Z-a")
    page.write_text(page.read_text(encoding="utf-8") + "<!-- kept -->", encoding="utf-8")
    suites = tmp_path / "suites"
    shutil.copytree(REPO / "expectations", suites)

    second = first + [("20260102T120000Z-b", "indicator_panel", results["fail"])]
    build_data_docs(second, tmp_path / "two", suites, keep_from=tmp_path / "one")
    [kept] = _pages(tmp_path / "two", "20260101T120000Z-a")
    assert kept.read_text(encoding="utf-8").endswith("<!-- kept -->")   # not rendered again
    assert len(_pages(tmp_path / "two", "20260102T120000Z-b")) == 1
    assert "20260102T120000Z-b" in (tmp_path / "two" / "index.html").read_text(encoding="utf-8")

    suite = json.loads((suites / "indicator_panel.json").read_text(encoding="utf-8"))
    [year] = [e for e in suite["expectations"] if e["kwargs"].get("column") == "year"]
    year["kwargs"]["max_value"] = 2077
    (suites / "indicator_panel.json").write_text(json.dumps(suite), encoding="utf-8")
    build_data_docs(second, tmp_path / "three", suites, keep_from=tmp_path / "two")
    page = (tmp_path / "three" / "expectations" / "indicator_panel.html").read_text(encoding="utf-8")
    assert "2077" in page   # a changed suite's page is rendered again
