"""flows/gxpatch.py: two local fixes to GX 1.24.1's per-expectation overhead. They must change
nothing but the time: the same kwargs for every expectation of every suite, the same ids, the
same validation results."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import gxpatch
from flows.validate import RESULT_FORMAT, SUITES_DIR, _context, load_suite, validate_tables
from helpers import ROOT, seed_compilation


@pytest.fixture(scope="module")
def gx():
    _context()   # imports GX and installs the fixes, as every validation does
    assert gxpatch.installed()
    yield
    gxpatch.install()


def test_applied_to_the_version_pyproject_pins(gx):
    import great_expectations

    pinned = re.search(r'"great_expectations==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned and pinned.group(1) == gxpatch.GX_VERSION == great_expectations.__version__


def test_another_version_is_left_alone(gx, monkeypatch):
    import great_expectations

    gxpatch.uninstall()
    monkeypatch.setattr(great_expectations, "__version__", "1.25.0")
    assert gxpatch.install() is False and not gxpatch.installed()
    monkeypatch.undo()
    assert gxpatch.install() is True


@pytest.mark.parametrize("table", sorted(p.stem for p in SUITES_DIR.glob("*.json")))
def test_runtime_kwargs_are_gx_own_for_every_expectation(gx, table):
    from great_expectations.core import ExpectationSuite

    original = gxpatch._ORIGINAL["runtime_kwargs"]
    suite = ExpectationSuite(**load_suite(table))
    assert suite.expectations
    # as the suites are, and with the runtime keys set in the expectation itself
    variants = [e.copy(update={"result_format": "COMPLETE", "catch_exceptions": True})
                for e in suite.expectations]
    assert all(v.configuration.kwargs["result_format"] == "COMPLETE" for v in variants)
    for expectation in suite.expectations + variants:
        for runtime in (None, {}, dict(RESULT_FORMAT), {"catch_exceptions": False},
                        {"result_format": "SUMMARY", "catch_exceptions": True}):
            assert gxpatch._get_runtime_kwargs(expectation, runtime) == \
                original(expectation, runtime), (table, expectation.expectation_type, runtime)


_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5)
    | st.floats(allow_nan=True) | st.sampled_from([np.int64(3), np.float64(1.5), np.bool_(True)]),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_plain)
def test_json_ready_converts_as_gx_does(value):
    from great_expectations.util import convert_to_json_serializable

    def same(a, b):   # NaN -> None in both; floats compared as such
        if isinstance(a, float) and isinstance(b, float):
            return a == b or (math.isnan(a) and math.isnan(b))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return type(a) is type(b) and a == b

    assert same(gxpatch._json_ready(value), convert_to_json_serializable(value))


def test_metric_ids_are_the_same(gx):
    from great_expectations.core.id_dict import IDDict

    kwargs = {"column": "year", "row_condition": None, "condition_parser": None,
              "value_set": [2023, 2024], "mostly": 1.0, "nested": {"a": (1, None), 2: {"b"}}}
    patched = IDDict(kwargs).to_id()
    gxpatch.uninstall()
    try:
        assert IDDict(kwargs).to_id() == patched
    finally:
        gxpatch.install()


def _tables() -> dict[str, pa.Table]:
    from flows.schemas import from_objects

    res = seed_compilation()
    reports = from_objects("reports", res.reports, {"sha256": "0" * 64})
    text = reports.column("text").to_pylist()
    broken = reports.set_column(reports.schema.get_field_index("text"), "text",
                                pa.array([None] + text[1:], pa.string()))
    return {"reports": reports, "broken": broken,
            "indicator_mentions": from_objects("indicator_mentions", res.mentions),
            "indicator_panel": from_objects("indicator_panel", res.panel)}


def _results(report) -> list:
    """Each expectation's type, kwargs, success and result, without GX's ids and timings."""
    out = []
    for table, raw in sorted(report.gx_results.items()):
        for r in raw["results"]:
            cfg = r["expectation_config"]
            out.append((table, cfg["type"], json.dumps(cfg["kwargs"], sort_keys=True),
                        r["success"], json.dumps(r["result"], sort_keys=True)))
    return out


def test_validations_are_the_same_with_and_without(gx, monkeypatch):
    tables = _tables()
    checks = [{"reports": tables["reports"]}, {"indicator_mentions": tables["indicator_mentions"]},
              {"indicator_panel": tables["indicator_panel"]}, {"reports": tables["broken"]}]
    patched = [validate_tables(t) for t in checks]
    gxpatch.uninstall()
    monkeypatch.setattr(gxpatch, "install", lambda: False)   # _context() would put them back
    plain = [validate_tables(t) for t in checks]
    monkeypatch.undo()
    gxpatch.install()
    assert [r.success for r in patched] == [True, True, True, False]
    for a, b in zip(patched, plain):
        assert a.success == b.success and a.tables == b.tables
        assert [vars(f) for f in a.failures] == [vars(f) for f in b.failures]
        assert _results(a) == _results(b) and _results(a)


def test_installs_once_from_many_threads(gx):
    """The flow validates in threads too: racing installs patch GX once, and the function _json_ready
    hands other types to stays GX's own (a second install must not take _json_ready for it)."""
    from concurrent.futures import ThreadPoolExecutor

    from great_expectations.core import id_dict
    from great_expectations.util import convert_to_json_serializable

    gxpatch.uninstall()
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda _: gxpatch.install(), range(32)))
    assert id_dict.convert_to_json_serializable is gxpatch._json_ready
    assert gxpatch._GX_CONVERT is convert_to_json_serializable
    assert gxpatch._json_ready({"x": 1.5, "y": [np.int64(2), float("nan")]}) == {"x": 1.5, "y": [2, None]}
