"""The six suites of expectations/: each loads whole in GX, passes on real tables and fails on a
broken table of its kind; the value ranges indicator_wide's suite leaves to the panel's suite
are the panel's to catch, for every value column of the wide table."""
from __future__ import annotations

import csv
import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from conftest import REPO
from flows.quality import load_suite, validate_tables
from flows.schemas import from_objects, to_table, wide_value_columns
from helpers import CORPUS, SEEDS, items_of, seed_compilation

TABLES = ("source_items", "reports", "indicator_mentions", "indicator_panel",
          "indicator_wide", "target_attainment")


@pytest.fixture(scope="module")
def real() -> dict[str, pa.Table]:
    """The six tables as the flow makes them: the seed compilation's items, reports, mentions
    and panel rows; the BI tables of the seeds' and the hailar reports' panel (targets of one
    file, actuals of the next)."""
    from flows import panel_rows
    from flows.core.bi import bi_tables
    from flows.core.model import as_dicts

    res = seed_compilation()
    items = items_of([SEEDS / res.source_name])
    sha = "0" * 64
    out = {"source_items": from_objects("source_items", items, {
        "sha256": sha, "byte_size": 1000, "fetched_at": datetime.now(timezone.utc)}),
        "reports": from_objects("reports", res.reports, {"sha256": [sha] * len(res.reports)}),
        "indicator_mentions": from_objects("indicator_mentions", res.mentions),
        "indicator_panel": from_objects("indicator_panel", res.panel)}
    files = sorted(SEEDS.glob("*.txt")) + sorted(CORPUS.glob("hailar_*.txt"))
    out.update(bi_tables(to_table("indicator_panel", as_dicts(panel_rows(items_of(files))))))
    return out


def _set(t: pa.Table, column: str, values) -> pa.Table:
    """`t` with `column` replaced (a list of values, or one value for every row)."""
    i = t.schema.get_field_index(column)
    field = t.schema.field(i)
    if not isinstance(values, list):
        values = [values] * t.num_rows
    return t.set_column(i, field, pa.array(values, field.type))


def _first_row(t: pa.Table, column: str, value) -> pa.Table:
    """`t` with the first row's `column` set to `value`."""
    return _set(t, column, [value] + t.column(column).to_pylist()[1:])


def _duplicate(t: pa.Table) -> pa.Table:
    return pa.concat_tables([t, t.slice(0, 1)])


NOT_NULL, IN_SET, BETWEEN = ("expect_column_values_to_not_be_null",
                             "expect_column_values_to_be_in_set", "expect_column_values_to_be_between")
REGEX, UNIQUE, COLUMNS = ("expect_column_values_to_match_regex", "expect_compound_columns_to_be_unique",
                          "expect_table_columns_to_match_ordered_list")
# table -> [(how it is broken, the expectation and column that must fail)]
BROKEN = {
    "source_items": [
        (lambda t: _set(t, "sha256", "not-a-digest"), (REGEX, "sha256")),
        (_duplicate, (UNIQUE, None)),
        (lambda t: _set(t, "byte_size", 0), (BETWEEN, "byte_size")),
    ],
    "reports": [
        (lambda t: _first_row(t, "text", None), (NOT_NULL, "text")),
        (lambda t: _set(t, "tier", "planet"), (IN_SET, "tier")),
        (_duplicate, (UNIQUE, None)),
    ],
    "indicator_mentions": [
        (lambda t: _set(t, "kind", "forecast"), (IN_SET, "kind")),
        (lambda t: _set(t, "start", -1), (BETWEEN, "start")),
        (_duplicate, (UNIQUE, None)),
    ],
    "indicator_panel": [
        (lambda t: _set(t, "indicator", "happiness"), (IN_SET, "indicator")),
        (lambda t: _set(t, "year", 1800), (BETWEEN, "year")),
        (_duplicate, (UNIQUE, None)),
    ],
    "indicator_wide": [
        (_duplicate, (UNIQUE, None)),
        (lambda t: _set(t, "tier", "planet"), (IN_SET, "tier")),
        (lambda t: _set(t, "kind", "forecast"), (IN_SET, "kind")),
        (lambda t: _first_row(t, "region", None), (NOT_NULL, "region")),
        (lambda t: _set(_set(t, "no_target", None), "n_values", 0),
         (BETWEEN, "n_values")),
        (lambda t: _set(t, "n_values", 99), (BETWEEN, "n_values")),
        (lambda t: t.drop_columns(["gdp_growth_pct"]),
         (COLUMNS, None)),
    ],
    "target_attainment": [
        (lambda t: _set(t, "status", "met"), (NOT_NULL, "actual")),
        (lambda t: _set(t, "measure", "mood"), (IN_SET, "measure")),
        (_duplicate, (UNIQUE, None)),
    ],
}


@pytest.mark.parametrize("table", TABLES)
def test_every_expectation_loads_in_gx(table):
    """GX drops an expectation it cannot load with a log line only: the session refuses."""
    from flows.quality.gx import session

    with session() as gx:
        suite = gx.suite(table, load_suite(table))
    assert len(suite.expectations) == len(load_suite(table)["expectations"])


def test_a_suite_gx_cannot_load_whole_is_refused(real, tmp_path):
    bad = dict(load_suite("reports"), expectations=load_suite("reports")["expectations"] + [
        {"type": "expect_no_such_thing", "kwargs": {"column": "text"}}])
    (tmp_path / "reports.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match="could not be loaded"):
        validate_tables({"reports": real["reports"]}, tmp_path)


def test_the_suites_pass_on_real_tables(real):
    report = validate_tables(real)
    assert report.success, [f.line() for f in report.failures]
    assert set(report.tables) == set(TABLES)
    assert all(real[t].num_rows for t in TABLES)


@pytest.mark.parametrize("table,case", [(t, i) for t in TABLES for i in range(len(BROKEN[t]))])
def test_each_suite_fails_on_a_broken_table(real, table, case):
    breaks, (expectation, column) = BROKEN[table][case]
    report = validate_tables({table: breaks(real[table])})
    assert not report.success
    failed = {(f.expectation, f.kwargs.get("column")) for f in report.failures}
    assert (expectation, column) in failed, failed


def _plausible() -> dict[tuple[str, str], tuple[float, float]]:
    with open(REPO / "flows" / "vocab" / "plausible.csv", encoding="utf-8") as fh:
        return {(r["measure"], r["unit"]): (float(r["min"]), float(r["max"]))
                for r in csv.DictReader(fh)}


def _panel_rows(values: dict[tuple[str, str, str], float]) -> pa.Table:
    """A valid panel with one reported row per (indicator, measure, unit) and its value."""
    base = dict(source_name="a.txt", region="甲市", tier="city", province="乙省", kind="actual",
                year=2022, value_high=None, qualifier=None, estimate=False, strength=None,
                status="reported", value_text="1", quote="1", start=0, end=1, rule="direct",
                subject="explicit", confidence="high")
    return to_table("indicator_panel", [
        dict(base, doc_index=i + 1, indicator=code, measure=measure, unit=unit, value=v)
        for i, ((code, measure, unit), v) in enumerate(values.items())])


@pytest.mark.parametrize("side", ["min", "max"])
def test_the_panel_suite_bounds_every_wide_value_column(side):
    """indicator_wide's suite checks no value range: each value column holds the panel's values
    of one (indicator, measure, unit) (tests/test_bi.py test_real_wide_table_has_the_panel_values),
    so the panel's suite must accept the plausible bounds of every column's measure and unit
    (flows/vocab/plausible.csv) and reject every value beyond them."""
    plausible = _plausible()
    by_pair: dict[tuple[str, str], list] = {}
    for key in wide_value_columns():
        by_pair.setdefault(key[1:], []).append(key)
    assert set(by_pair) <= set(plausible)
    i = 0 if side == "min" else 1
    for pair, keys in by_pair.items():
        bound = plausible[pair][i]
        assert validate_tables({"indicator_panel": _panel_rows({k: bound for k in keys})}).success
        beyond = {k: bound - 1 - n if side == "min" else bound * 1.5 + n
                  for n, k in enumerate(keys)}
        report = validate_tables({"indicator_panel": _panel_rows(beyond)})
        counts = [f.unexpected_count for f in report.failures
                  if (f.expectation, f.kwargs["column"]) == (BETWEEN, "value")]
        assert len(keys) in counts, (pair, side, [f.line() for f in report.failures])


def test_the_wide_suite_leaves_the_values_to_the_panel():
    """What indicator_wide's suite still checks: its columns, keys and sets, and its own counts;
    no expectation on a value column (the panel's suite has them, above)."""
    suite = load_suite("indicator_wide")
    values = set(wide_value_columns().values())
    named = {e["kwargs"].get("column") for e in suite["expectations"]}
    assert not named & values
    kinds = {e["type"] for e in suite["expectations"]}
    assert {"expect_table_columns_to_match_ordered_list", "expect_compound_columns_to_be_unique",
            "expect_column_values_to_be_in_set"} <= kinds


def _comparable(result) -> dict:
    """A GX suite result's JSON without its batch's metadata (load time, fingerprint)."""
    out = result.to_json_dict()
    out.pop("meta", None)
    return out


@pytest.mark.parametrize("table", TABLES)
def test_gx_gives_categorical_strings_the_results_of_plain_ones(real, table):
    """validate._to_pandas hands GX string columns as categoricals: on the real table and on
    each broken one, GX's results are those of the same columns as plain strings (here every
    string column categorical, those of row conditions too)."""
    from flows.quality.gx import session
    from flows.quality.suites import compact, null_only_columns
    from flows.quality.validate import _to_pandas

    raw = load_suite(table)
    for data in [real[table]] + [breaks(real[table]) for breaks, _ in BROKEN[table]]:
        data = compact(data, null_only_columns(raw))
        with session() as gx:
            categorical = _comparable(gx.validate(table, raw, _to_pandas(data)))
            plain = _comparable(gx.validate(table, raw, _to_pandas(data, set(data.column_names))))
        assert categorical == plain
