"""flows/quality (validate, suites): what GX is handed. Columns a suite only checks for nulls are
compacted to stand-ins (the texts and sentences that are most of a table's bytes); the results
must not change."""
from __future__ import annotations

import pyarrow as pa
import pytest

from flows.quality import compact, load_suite, null_only_columns, validate_tables
from helpers import seed_compilation


@pytest.fixture(scope="module")
def reports() -> pa.Table:
    from flows.schemas import to_table

    res = seed_compilation()
    return to_table("reports", [dict(vars(r), sha256="0" * 64) for r in res.reports])


def test_null_only_columns_follow_the_suite():
    suite = load_suite("reports")
    assert {"text", "glossary", "removed_detail"} <= null_only_columns(suite)
    # a column another expectation names, a row_condition mentions or a compound key holds is
    # not compacted
    assert "sha256" not in null_only_columns(suite)          # a regex checks it
    assert "is_report" not in null_only_columns(suite)       # a row_condition mentions it
    longer = dict(suite, expectations=suite["expectations"] + [
        {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "text", "min_value": 10}}])
    assert "text" not in null_only_columns(longer)
    cond = dict(suite, expectations=suite["expectations"] + [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "removed_lines", "min_value": 0, "row_condition": 'glossary == ""',
                    "condition_parser": "pandas"}}])
    assert "glossary" not in null_only_columns(cond)


def test_compact_keeps_names_types_and_nulls(reports):
    text = reports.column("text").to_pylist()
    broken = reports.set_column(reports.schema.get_field_index("text"), "text",
                                pa.array([None] + text[1:], pa.string()))
    small = compact(broken, {"text", "no_such_column"})
    assert small.schema == broken.schema and small.num_rows == broken.num_rows
    assert small.column("text").to_pylist() == [None] + [""] * (len(text) - 1)
    assert small.nbytes < broken.nbytes / 10
    assert compact(reports, set()).equals(reports)


def test_validation_results_are_the_same_compacted_or_not(reports):
    """validate_tables compacts by itself: a null text still fails its not-null expectation, with
    the same count; a clean table passes."""
    assert validate_tables({"reports": reports}).success
    text = reports.column("text").to_pylist()
    broken = reports.set_column(reports.schema.get_field_index("text"), "text",
                                pa.array([None, None] + text[2:], pa.string()))
    report = validate_tables({"reports": broken})
    assert not report.success
    [failure] = report.failures
    assert (failure.expectation, failure.kwargs["column"], failure.unexpected_count) == \
        ("expect_column_values_to_not_be_null", "text", 2)


def test_gx_gets_narrow_integers_as_int64_and_the_same_values():
    """GX 1.x compares only int64 / float64 columns vectorised (a Python call per value of an
    int32 column): _to_pandas widens them, values and nulls unchanged."""
    import numpy as np
    import pyarrow as pa

    from flows.quality.validate import _to_pandas

    t = pa.table({"year": pa.array([2023, 2024], pa.int32()), "n": pa.array([1, None], pa.int16()),
                  "s": pa.array(["a", None], pa.string()), "v": pa.array([1.5, 2.0])})
    df = _to_pandas(t)
    assert df["year"].dtype == np.int64 and df["year"].tolist() == [2023, 2024]
    assert df["n"].isna().tolist() == [False, True] and df["n"].iloc[0] == 1   # nulls: float64
    assert df["s"].tolist()[0] == "a" and df["v"].dtype == np.float64
