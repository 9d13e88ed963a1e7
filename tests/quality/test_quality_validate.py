"""flows/quality (validate, suites): what GX is handed. Columns a suite only checks for nulls are
compacted to stand-ins (the texts and sentences that are most of a table's bytes); the results
must not change."""
from __future__ import annotations

import pyarrow as pa
import pytest

from flows.quality import compact, load_suite, null_only_columns, validate_tables
from flows.quality.suites import plain_string_columns
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


def test_gx_gets_narrow_integers_as_int64_and_strings_as_categories():
    """GX 1.x compares only int64 / float64 columns vectorised (a Python call per value of an
    int32 column): _to_pandas widens them, values and nulls unchanged. String columns come as
    categoricals (cheap to filter), except the `plain` ones, which come as Python strings."""
    import numpy as np
    import pandas as pd

    from flows.quality.validate import _to_pandas

    t = pa.table({"year": pa.array([2023, 2024], pa.int32()), "n": pa.array([1, None], pa.int16()),
                  "s": pa.array(["a", None], pa.string()), "v": pa.array([1.5, 2.0]),
                  "p": pa.array(["x", "y"], pa.string())})
    df = _to_pandas(t, plain={"p"})
    assert df["year"].dtype == np.int64 and df["year"].tolist() == [2023, 2024]
    assert df["n"].isna().tolist() == [False, True] and df["n"].iloc[0] == 1   # nulls: float64
    assert isinstance(df["s"].dtype, pd.CategoricalDtype)
    assert df["s"].isna().tolist() == [False, True]
    assert df["s"].tolist()[0] == "a" and df["v"].dtype == np.float64
    assert isinstance(df["p"].dtype, pd.StringDtype) and df["p"].dtype.storage == "python"
    assert df["p"].tolist() == ["x", "y"]


def test_plain_string_columns_follow_the_suite():
    """Columns a row_condition mentions, or an expectation outside CATEGORY_SAFE names, reach GX
    as strings; the columns of null, set, regex and key checks as categoricals."""
    suite = load_suite("indicator_mentions")
    plain = plain_string_columns(suite)
    assert {"measure", "status"} <= plain           # row conditions
    assert not {"indicator", "kind", "period", "source_name", "quote"} & plain
    lengths = dict(suite, expectations=suite["expectations"] + [
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "quote", "min_value": 1}}])
    assert "quote" in plain_string_columns(lengths)


def test_one_session_validates_batch_after_batch_without_leftovers(reports):
    """The process's GX session keeps the tables' data assets between calls: each batch is
    judged on its own rows (a broken batch after a clean one, a clean one after it)."""
    text = reports.column("text").to_pylist()
    broken = reports.set_column(reports.schema.get_field_index("text"), "text",
                                pa.array([None] + text[1:], pa.string()))
    counts = []
    for table in (reports, broken, reports, broken.slice(0, 3), reports.slice(0, 1)):
        report = validate_tables({"reports": table})
        counts.append((report.success, report.tables["reports"]["rows"],
                       [f.unexpected_count for f in report.failures]))
    assert counts == [(True, reports.num_rows, []), (False, reports.num_rows, [1]),
                      (True, reports.num_rows, []), (False, 3, [1]), (True, 1, [])]


def test_threads_share_the_session_one_validation_at_a_time(reports):
    """Validations from several threads (the flow validates beside the BI tables) give what
    they give one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    text = reports.column("text").to_pylist()
    batches = [reports.set_column(reports.schema.get_field_index("text"), "text",
                                  pa.array([None] * k + text[k:], pa.string())) for k in range(6)]

    def failed(table):
        report = validate_tables({"reports": table})
        return [(f.expectation, f.unexpected_count) for f in report.failures]

    alone = [failed(b) for b in batches]
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(failed, batches)) == alone
    assert alone[0] == [] and alone[5] == [("expect_column_values_to_not_be_null", 5)]


def test_a_mention_beyond_the_plausible_ranges_is_evidence_not_a_failure():
    """"出口增长12倍" (a province's salmon exports, 2025年青海省政府工作报告) is 1,200% as read: the
    mention table keeps it as evidence and validates; the panel keeps only plausible values, so
    the run publishes."""
    from flows.schemas import to_table
    from flows.stages.process import run_core
    from flows.core.model import SourceItem

    text = ("2025年某省政府工作报告\n各位代表：\n2024年，全省地区生产总值增长5.2%。“青海三文鱼”公共品牌正式发布、"
            "出口增长12倍，实际利用外资增长1.33倍。\n")
    res = run_core("q.txt", "0" * 64, [SourceItem("q.txt", 1, "txt", "utf-8", text)])
    growth = {(vars(m)["indicator"], vars(m)["value"]) for m in res.mentions if vars(m)["measure"] == "growth_pct"}
    assert ("exports", 1200.0) in growth and ("fdi", 133.0) in growth
    assert not [p for p in res.panel if vars(p)["measure"] == "growth_pct" and vars(p)["value"] > 1000]
    report = validate_tables({"indicator_mentions": to_table("indicator_mentions", [vars(m) for m in res.mentions]),
                              "indicator_panel": to_table("indicator_panel", [vars(p) for p in res.panel])})
    assert report.success, report.failures
