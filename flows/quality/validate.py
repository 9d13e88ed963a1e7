"""Validate a batch of Arrow tables with the GX suites of expectations/<table>.json -> one
ValidationReport: what failed, readable (Failure), and each table's GX result as JSON
(ValidationReport.gx_results, which the flow stores in <lake>/validation/<run_id>.json and
data_docs.build_data_docs renders). Nothing here knows the lake.

great_expectations is imported inside the functions only (flows/quality/gx.py): it costs
seconds and hundreds of MB, and nothing else needs it.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from .gx import RESULT_FORMAT, session  # noqa: F401  (RESULT_FORMAT: what GX is asked for)
from .suites import compact, load_suite, null_only_columns, plain_string_columns


@dataclass
class Failure:
    """One expectation that did not hold on a table, with what GX saw."""
    table: str
    expectation: str
    why: str
    kwargs: dict
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list = field(default_factory=list)
    observed: object = None
    error: str | None = None
    where: list = field(default_factory=list)   # source_name#doc_index of rows with the examples

    def line(self) -> str:
        """The failure in one line: table, expectation, its arguments, why, what was found."""
        what = {k: v for k, v in self.kwargs.items()
                if k not in ("batch_id", "column_list", "value_set", "condition_parser")}
        cond = what.pop("row_condition", None)
        if isinstance(cond, dict):  # GX 1.x wraps a pandas query string
            cond = cond.get("pass_through_filter", cond)
        if cond:
            what["where"] = cond
        got = []
        if self.unexpected_count:
            got.append(f"{self.unexpected_count} row(s)")
        if self.examples:
            got.append("e.g. " + ", ".join(repr(x) for x in self.examples[:5]))
        if self.observed is not None and not self.unexpected_count:
            got.append(f"observed {self.observed!r}"[:300])
        if self.error:
            got.append(f"error: {self.error}")
        return f"{self.table}: {self.expectation} {what} ({self.why}): " + "; ".join(got)


@dataclass
class ValidationReport:
    """The validation of a batch of tables: success, per table counts, failures, GX results."""
    success: bool
    tables: dict = field(default_factory=dict)   # table -> {rows, expectations, failed}
    failures: list[Failure] = field(default_factory=list)
    gx_results: dict = field(default_factory=dict)  # table -> GX result JSON, for Data Docs

    def summary(self) -> str:
        """One line: passed with how many expectations, or how many failed per table."""
        if self.success:
            n = sum(t["expectations"] for t in self.tables.values())
            return f"validation passed: {n} expectations on {len(self.tables)} tables"
        by_table: dict[str, int] = {}
        for f in self.failures:
            by_table[f.table] = by_table.get(f.table, 0) + 1
        parts = [f"{t}: {n} of {self.tables.get(t, {}).get('expectations', '?')} failed"
                 for t, n in by_table.items()]
        first = self.failures[0].line() if self.failures else ""
        return "validation failed (" + "; ".join(parts) + "). First: " + first

    def to_dict(self) -> dict:
        """The report as plain data (what the flow stores as <lake>/validation/<run_id>.json)."""
        return {"success": self.success, "tables": self.tables,
                "failures": [asdict(f) for f in self.failures], "gx_results": self.gx_results}

    def to_markdown(self, run_id: str = "") -> str:
        """The report as a Markdown page: the summary, a table per table, every failure."""
        out = [f"# Validation {run_id}".rstrip(), "",
               f"**{'PASSED' if self.success else 'FAILED'}** — {self.summary()}", "",
               "| table | rows | expectations | failed |", "|---|---|---|---|"]
        for t, s in self.tables.items():
            out.append(f"| {t} | {s['rows']} | {s['expectations']} | {s['failed']} |")
        if self.failures:
            out += ["", "## Failures", ""]
            out += [f"- {f.line()}" for f in self.failures]
        return "\n".join(out) + "\n"


def validate_tables(tables: dict[str, pa.Table],
                    suites_dir: str | os.PathLike | None = None) -> ValidationReport:
    """Run the suite of every table on it, all in this process's one GX session; one report
    for the whole batch. A table may come compacted (compact()): the results are the same."""
    report = ValidationReport(success=True)
    prepared = []
    for table, data in tables.items():   # every suite read before GX runs: a missing one fails fast
        raw = load_suite(table, suites_dir)
        prepared.append((table, raw, compact(data, null_only_columns(raw))))
    with session() as gx:
        for table, raw, data in prepared:
            frame = _to_pandas(data, plain=plain_string_columns(raw))
            _record(report, table, data, gx.validate(table, raw, frame))
    return report


def _record(report: ValidationReport, table: str, data: pa.Table, result) -> None:
    """A table's GX result into the report: its failures, its counts, its JSON."""
    failed = 0
    for res in result.results:
        if res.success:
            continue
        failed += 1
        cfg = res.expectation_config
        r = res.result or {}
        exc = res.exception_info or {}
        report.failures.append(Failure(
            table=table, expectation=cfg.type, why=(cfg.meta or {}).get("why", ""),
            kwargs=_plain(dict(cfg.kwargs)),
            unexpected_count=r.get("unexpected_count"),
            unexpected_percent=r.get("unexpected_percent"),
            examples=_plain(r.get("partial_unexpected_list") or []),
            observed=_plain(r.get("observed_value")),
            error=exc.get("exception_message") if exc.get("raised_exception") else None,
            where=_where(data, cfg.kwargs.get("column"), r.get("partial_unexpected_list")),
        ))
    report.tables[table] = {"rows": data.num_rows, "expectations": len(result.results),
                            "failed": failed}
    report.gx_results[table] = _plain(result.to_json_dict())
    report.success = report.success and bool(result.success)


def _to_pandas(data: pa.Table, plain: set[str] = frozenset()):
    """pandas for GX. String columns become categoricals (dictionary-encoded by Arrow): GX
    filters the whole frame for every expectation with a row_condition, and taking rows of a
    categorical takes its small integer codes, not a Python object (or Arrow-backed string) per
    value; the checks the suites make on strings (null, in a set, a regex, unique keys) give the
    same results on them. Columns in `plain` (plain_string_columns: used otherwise) stay strings,
    as Python objects. Integer columns narrower than 64 bits (year, doc_index: int32) become
    int64, the same values: GX 1.x compares only int64 / float64 columns vectorised
    (column_values_between checks `dtype in [int, float]`) and calls a Python function per value
    of any other."""
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    for i, f in enumerate(data.schema):
        if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)) and f.name not in plain:
            data = data.set_column(i, f.name, pc.dictionary_encode(data.column(i)))
    df = data.to_pandas()
    cast = {c: pd.StringDtype("python", na_value=df[c].dtype.na_value) for c in df.columns
            if isinstance(df[c].dtype, pd.StringDtype) and df[c].dtype.storage == "pyarrow"}
    cast.update({c: np.int64 for c in df.columns   # (u)int8-32: int64 holds every value
                 if isinstance(df[c].dtype, np.dtype) and df[c].dtype.kind in "iu"
                 and df[c].dtype.itemsize < 8})
    return df.astype(cast) if cast else df


def _where(data: pa.Table, column: str | None, examples) -> list[str]:
    """source_name#doc_index (or #item_index) of the rows holding a failure's example values."""
    if not column or not examples or column not in data.column_names \
            or "source_name" not in data.column_names:
        return []
    idx = "doc_index" if "doc_index" in data.column_names else "item_index"
    seen = set(map(repr, examples))
    cols = [c for c in ("source_name", idx, column) if c in data.column_names]
    out = {f"{r['source_name']}#{r.get(idx, '')}" for r in data.select(cols).to_pylist()
           if repr(r[column]) in seen}
    return sorted(out)[:50]


def merge_reports(reports: list[ValidationReport]) -> ValidationReport:
    """Reports of several batches (of one or several tables) -> one: rows and failures add up;
    the GX results are kept per batch (`table`, `table#2`, ...) for Data Docs."""
    out = ValidationReport(success=all(r.success for r in reports))
    for r in reports:
        for t, s in r.tables.items():
            have = out.tables.setdefault(t, {"rows": 0, "expectations": s["expectations"],
                                             "failed": 0})
            have["rows"] += s["rows"]
            have["failed"] += s["failed"]
        out.failures += r.failures
        for t, raw in r.gx_results.items():
            key, k = t, 1
            while key in out.gx_results:
                k += 1
                key = f"{t}#{k}"
            out.gx_results[key] = raw
    return out


def _plain(x):
    """JSON-safe copy of a GX value (numpy scalars, row-condition objects, ...)."""
    return json.loads(json.dumps(x, default=str, ensure_ascii=False))
