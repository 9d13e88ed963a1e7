"""The Great Expectations suites of expectations/<table>.json, read as plain data, and what a
table's suite lets validation leave out of the rows it hands to GX (no GX import here)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow as pa

SUITES_DIR = Path(__file__).resolve().parent.parent.parent / "expectations"
NULL_CHECKS = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")
# expectations whose pandas implementation treats a categorical column as its strings (isnull,
# isin, str.contains on astype(str), duplicated; column names only)
CATEGORY_SAFE = frozenset(NULL_CHECKS + (
    "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_match_regex", "expect_compound_columns_to_be_unique",
    "expect_table_columns_to_match_ordered_list"))


def suite_path(table: str, suites_dir: str | os.PathLike | None = None) -> Path:
    """Where the suite of `table` is: <suites_dir or expectations/>/<table>.json."""
    return Path(suites_dir or SUITES_DIR) / f"{table}.json"


def load_suite(table: str, suites_dir: str | os.PathLike | None = None) -> dict:
    """The suite of `table` as a dict (GX's suite JSON). Raises FileNotFoundError without one."""
    path = suite_path(table, suites_dir)
    if not path.exists():
        raise FileNotFoundError(f"no expectation suite for table {table!r}: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def null_only_columns(suite: dict) -> set[str]:
    """Columns the suite only checks for null / not null: no other expectation names them, no
    row_condition mentions them, they are in no compound key. (What an expectation names is
    data -- its kwargs -- so this follows the suite as it is edited.)"""
    null_checked = {e["kwargs"].get("column") for e in suite.get("expectations", [])
                    if e.get("type") in NULL_CHECKS and not e["kwargs"].get("row_condition")}
    named: set[str] = set()
    for e in suite.get("expectations", []):
        kwargs = e.get("kwargs", {})
        if e.get("type") in NULL_CHECKS and not kwargs.get("row_condition"):
            continue
        if e.get("type") == "expect_table_columns_to_match_ordered_list":
            continue   # about names and order only: a stand-in keeps both
        named.update(_names(kwargs))
    return {c for c in null_checked if c and c not in named}


def plain_string_columns(suite: dict) -> set[str]:
    """Names the suite's expectations use in ways a categorical column might not behave as its
    strings: the columns of an expectation outside CATEGORY_SAFE, and every name a row_condition
    mentions. The other string columns can reach GX as categoricals (validate._to_pandas)."""
    out: set[str] = set()
    for e in suite.get("expectations", []):
        kwargs = dict(e.get("kwargs", {}))
        cond = kwargs.pop("row_condition", None)
        out.update(_names(cond))
        if e.get("type") not in CATEGORY_SAFE:
            out.update(_names(kwargs))
    return out


def _names(x) -> set[str]:
    """Every identifier in the strings of a nest of kwargs."""
    return {n for v in _strings(x) for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", v)}


def _strings(x):
    """Every string in a nest of dicts (keys too), lists and tuples."""
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _strings(v)


def compact(data: pa.Table, columns: set[str]) -> pa.Table:
    """The table as its suite sees it: each string column in `columns` (checked for nullness
    only, see null_only_columns) replaced by a stand-in with the same nulls and "" elsewhere.
    Report texts and sentences are most of a table's bytes; GX copies every column each time it
    filters a frame, and converts every value to pandas. Names, types and order are kept."""
    import pyarrow.compute as pc

    for name in columns:
        if name not in data.column_names:
            continue
        i = data.schema.get_field_index(name)
        col = data.column(i)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        stand_in = pc.if_else(pc.is_valid(col), pa.scalar("", col.type), pa.scalar(None, col.type))
        data = data.set_column(i, data.schema.field(i), stand_in)
    return data
