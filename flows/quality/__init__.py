"""Great Expectations for gwr-lake: the suites (expectations/<table>.json), validation of Arrow
tables, and Data Docs. great_expectations is imported in this package only, and only when a
function needs it (importing flows.quality does not load it).

    load_suite(table, suites_dir=None) -> dict
    null_only_columns(suite) -> set[str];  compact(table, columns) -> pa.Table
    validate_tables(tables: dict[str, pa.Table], suites_dir=None) -> ValidationReport
    merge_reports(reports) -> ValidationReport
    build_data_docs(results, out_dir, suites_dir=None, keep_from=None) -> str
"""
from __future__ import annotations

from .data_docs import build_data_docs
from .suites import SUITES_DIR, compact, load_suite, null_only_columns
from .validate import Failure, ValidationReport, merge_reports, validate_tables

__all__ = ["SUITES_DIR", "Failure", "ValidationReport", "build_data_docs", "compact",
           "load_suite", "merge_reports", "null_only_columns", "validate_tables"]
