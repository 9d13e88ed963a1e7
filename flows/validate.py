"""Validate a batch of tables with the Great Expectations suites kept in expectations/<table>.json,
and render GX Data Docs (static HTML) of the results.

great_expectations is imported here only, inside the functions: it costs seconds and hundreds of
MB, and nothing else needs it. Neither function knows the lake: validate_tables returns the
results (each table's GX result as JSON in ValidationReport.gx_results, which the flow stores in
<lake>/validation/<run_id>.json), build_data_docs writes a site into a folder it is given (the
flow hands that folder to flows/lake.py, which publishes it as <lake>/reports/data_docs/).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"
_SETTLED = False


@dataclass
class Failure:
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
    success: bool
    tables: dict = field(default_factory=dict)   # table -> {rows, expectations, failed}
    failures: list[Failure] = field(default_factory=list)
    gx_results: dict = field(default_factory=dict)  # table -> GX result JSON, for Data Docs

    def summary(self) -> str:
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
        return {"success": self.success, "tables": self.tables,
                "failures": [asdict(f) for f in self.failures], "gx_results": self.gx_results}

    def to_markdown(self, run_id: str = "") -> str:
        out = [f"# Validation {run_id}".rstrip(), "",
               f"**{'PASSED' if self.success else 'FAILED'}** — {self.summary()}", "",
               "| table | rows | expectations | failed |", "|---|---|---|---|"]
        for t, s in self.tables.items():
            out.append(f"| {t} | {s['rows']} | {s['expectations']} | {s['failed']} |")
        if self.failures:
            out += ["", "## Failures", ""]
            out += [f"- {f.line()}" for f in self.failures]
        return "\n".join(out) + "\n"


def load_suite(table: str, suites_dir: str | os.PathLike | None = None) -> dict:
    path = Path(suites_dir or SUITES_DIR) / f"{table}.json"
    if not path.exists():
        raise FileNotFoundError(f"no expectation suite for table {table!r}: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _context():
    """A quiet, in-memory GX context (no progress bars, no analytics)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import logging

    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)  # the second sets itself to INFO

    # GX fingerprints every pandas batch it is handed (an md5 over pandas' hash of every value,
    # kept as a batch marker) when the frame is under HASH_THRESHOLD bytes: ~0.45 ms per report
    # for the text columns of reports and source_items, for a marker nothing here reads (the
    # lake names its files by its own digests). 0 turns the fingerprint off; results unchanged.
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    # GX rebuilds an expectation's configuration ~10 times per metric it asks for: once here
    # (flows/gxpatch.py; ~30% of a small validation's time, the same results)
    from . import gxpatch

    gxpatch.install()
    global _SETTLED
    if not _SETTLED:   # GX's import made ~1M objects: out of the collector's way (flows/memory.py)
        from .memory import settle

        settle()
        _SETTLED = True
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


# GX's BASIC result format: success, unexpected count and percent, and a few unexpected values
# per expectation (what Failure and Data Docs show). SUMMARY adds value counts and row indexes of
# the unexpected values, which nothing here reads, for about a third more time per expectation.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}
NULL_CHECKS = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")


def null_only_columns(suite: dict) -> set[str]:
    """Columns the suite only checks for null / not null: no other expectation names them, no
    row_condition mentions them, they are in no compound key. (What an expectation names is
    data -- its kwargs -- so this follows the suite as it is edited.)"""
    import re

    null_checked = {e["kwargs"].get("column") for e in suite.get("expectations", [])
                    if e.get("type") in NULL_CHECKS and not e["kwargs"].get("row_condition")}
    named: set[str] = set()
    for e in suite.get("expectations", []):
        kwargs = e.get("kwargs", {})
        if e.get("type") in NULL_CHECKS and not kwargs.get("row_condition"):
            continue
        if e.get("type") == "expect_table_columns_to_match_ordered_list":
            continue   # about names and order only: a stand-in keeps both
        for v in _strings(kwargs):
            named.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", v))
    return {c for c in null_checked if c and c not in named}


def _strings(x):
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


def _to_pandas(data: pa.Table):
    """pandas for GX, its strings as Python objects: GX filters the whole frame for every
    expectation with a row_condition, and taking rows of Arrow-backed strings (pandas' default)
    copies their bytes each time; Python strings are taken by reference (4x less time on reports).
    Integer columns narrower than 64 bits (year, doc_index: int32) become int64, the same values:
    GX 1.x compares only int64 / float64 columns vectorised (column_values_between checks
    `dtype in [int, float]`) and calls a Python function per value of any other."""
    import numpy as np
    import pandas as pd

    df = data.to_pandas()
    cast = {c: pd.StringDtype("python", na_value=df[c].dtype.na_value) for c in df.columns
            if isinstance(df[c].dtype, pd.StringDtype) and df[c].dtype.storage == "pyarrow"}
    cast.update({c: np.int64 for c in df.columns   # (u)int8-32: int64 holds every value
                 if isinstance(df[c].dtype, np.dtype) and df[c].dtype.kind in "iu"
                 and df[c].dtype.itemsize < 8})
    return df.astype(cast) if cast else df


def validate_tables(tables: dict[str, pa.Table],
                    suites_dir: str | os.PathLike | None = None) -> ValidationReport:
    """Run the suite of every table on it; one report for the whole batch. A table may come
    compacted (compact()): the results are the same."""
    from great_expectations.core import ExpectationSuite

    context = _context()
    source = context.data_sources.add_pandas("gwr_lake")

    report = ValidationReport(success=True)
    for table, data in tables.items():
        raw = load_suite(table, suites_dir)
        data = compact(data, null_only_columns(raw))
        suite = ExpectationSuite(**raw)
        if len(suite.expectations) != len(raw.get("expectations", [])):
            # GX only logs a bad expectation and drops it: refuse to validate with fewer
            raise ValueError(f"expectations/{table}.json: {len(raw['expectations']) - len(suite.expectations)}"
                             " expectation(s) could not be loaded (unknown type or bad kwargs)")
        batch = (source.add_dataframe_asset(table)
                 .add_batch_definition_whole_dataframe("batch")
                 .get_batch(batch_parameters={"dataframe": _to_pandas(data)}))
        result = batch.validate(suite, result_format=RESULT_FORMAT)
        failed = 0
        for res in result.results:
            if res.success:
                continue
            failed += 1
            cfg = res.expectation_config
            r = res.result or {}
            why = (cfg.meta or {}).get("why", "")
            exc = res.exception_info or {}
            report.failures.append(Failure(
                table=table, expectation=cfg.type, why=why, kwargs=_plain(dict(cfg.kwargs)),
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
    return report


def _where(data: pa.Table, column: str | None, examples) -> list[str]:
    """source_name#doc_index (or #item_index) of the rows holding a failure's example values."""
    if not column or not examples or column not in data.column_names \
            or "source_name" not in data.column_names:
        return []
    idx = "doc_index" if "doc_index" in data.column_names else "item_index"
    seen = set(map(repr, examples))
    out = {f"{r['source_name']}#{r.get(idx, '')}"
           for r in data.select([c for c in ("source_name", idx, column) if c in data.column_names]).to_pylist()
           if repr(r[column]) in seen}
    return sorted(out)[:50]


def merge_reports(reports: list[ValidationReport]) -> ValidationReport:
    """Reports of several batches (of one or several tables) -> one: rows and failures add up;
    the GX results are kept per batch (`table`, `table#2`, ...) for Data Docs."""
    out = ValidationReport(success=all(r.success for r in reports))
    for r in reports:
        for t, s in r.tables.items():
            have = out.tables.setdefault(t, {"rows": 0, "expectations": s["expectations"], "failed": 0})
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


def build_data_docs(results: list[tuple[str, str, dict]], out_dir: str | os.PathLike,
                    suites_dir: str | os.PathLike | None = None,
                    previous: str | os.PathLike | None = None) -> Path:
    """GX Data Docs of validation results: (run_id, table, GX result as JSON) triples, e.g. from
    ValidationReport.gx_results of several runs. Writes a static site into out_dir (an index of
    the suites and of every result, a page per result) and returns its index.html. The pages load
    their CSS and JS from CDNs (GX's templates): offline they are readable but unstyled.

    previous: the site as built before (e.g. by the last run). Its pages of results that are
    still listed are kept as they are -- a result never changes once written -- and only the
    pages it lacks are rendered, with the suites' pages and the index (pages of results no
    longer listed are dropped): a run renders its own results, not every run's again."""
    import shutil

    from great_expectations.core import ExpectationSuite
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier, ValidationResultIdentifier)

    out = Path(out_dir).resolve()
    if previous and Path(previous).is_dir() and (Path(previous) / "index.html").is_file():
        shutil.copytree(previous, out, dirs_exist_ok=True)
    context = _context()
    context.add_data_docs_site("gwr_lake", {
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    suites: set[str] = set()
    render: list = []
    store = context.validation_results_store
    # the suites each page was rendered from (a digest of the JSON): a page is rendered again
    # only when its suite changed
    marker = out / "_gwr_suites.json"
    rendered = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}
    for run_id, table, raw in results:
        suite_name = table.split("#")[0]
        if suite_name not in suites:
            try:
                suite = load_suite(suite_name, suites_dir)
                context.suites.add(ExpectationSuite(**suite))
                digest = hashlib.sha256(json.dumps(suite, sort_keys=True).encode()).hexdigest()
                if rendered.get(suite_name) != digest or \
                        not (out / "expectations" / f"{suite_name}.html").is_file():
                    render.append(ExpectationSuiteIdentifier(name=suite_name))
                    rendered[suite_name] = digest
            except FileNotFoundError:
                pass  # a result of a table whose suite is gone: the result page is still built
            suites.add(suite_name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
            run_id=RunIdentifier(run_name=run_id, run_time=_run_time(run_id)),
            batch_identifier=table.replace("#", "-"))
        try:
            # the result as GX stores it (its own JSON), without a load + dump through its schema;
            # read back (and checked) by GX when it renders the page or the index
            text = json.dumps(raw, indent=2, sort_keys=True)
            store.deserialize(text)
        except Exception:  # noqa: BLE001 - a result GX cannot read back (another version): skip it
            continue
        store.store_backend.set(key.to_tuple(), text)
        if not _page(out, key).is_file():
            render.append(key)
    if render or not (out / "index.html").is_file():
        # GX renders what `render` names (all of it when empty: a first site) and the index
        context.build_data_docs(site_names=["gwr_lake"], resource_identifiers=render or None)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(rendered, sort_keys=True), encoding="utf-8")
    return out / "index.html"


def _page(site: Path, key) -> Path:
    """Where GX's site puts the page of a validation result (validations/<suite>/<run name>/
    <run time>/<batch>.html)."""
    run_time = key.run_id.run_time.strftime("%Y%m%dT%H%M%S.%fZ")
    return (site / "validations" / key.expectation_suite_identifier.name / key.run_id.run_name
            / run_time / f"{key.batch_identifier}.html")


def _run_time(run_id: str):
    """The time a run id starts with (20260101T120000Z-...), else now (UTC)."""
    from datetime import datetime, timezone

    try:
        return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.now(timezone.utc)


def _plain(x):
    """JSON-safe copy of a GX value (numpy scalars, row-condition objects, ...)."""
    return json.loads(json.dumps(x, default=str, ensure_ascii=False))
