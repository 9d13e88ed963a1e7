"""Validate a batch of tables with the Great Expectations suites kept in expectations/<table>.json,
and render GX Data Docs (static HTML) of the results.

great_expectations is imported here only, inside the functions: it costs seconds and hundreds of
MB, and nothing else needs it. Neither function knows the lake: validate_tables returns the
results (each table's GX result as JSON in ValidationReport.gx_results, which the flow stores in
<lake>/validation/<run_id>.json), build_data_docs writes a site into a folder it is given (the
flow hands that folder to flows/lake.py, which publishes it as <lake>/reports/data_docs/).
"""
from __future__ import annotations

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
    global _SETTLED
    if not _SETTLED:   # GX's import made ~1M objects: out of the collector's way (flows/memory.py)
        from .memory import settle

        settle()
        _SETTLED = True
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def validate_tables(tables: dict[str, pa.Table],
                    suites_dir: str | os.PathLike | None = None) -> ValidationReport:
    """Run the suite of every table on it; one report for the whole batch."""
    from great_expectations.core import ExpectationSuite

    context = _context()
    source = context.data_sources.add_pandas("gwr_lake")

    report = ValidationReport(success=True)
    for table, data in tables.items():
        raw = load_suite(table, suites_dir)
        suite = ExpectationSuite(**raw)
        if len(suite.expectations) != len(raw.get("expectations", [])):
            # GX only logs a bad expectation and drops it: refuse to validate with fewer
            raise ValueError(f"expectations/{table}.json: {len(raw['expectations']) - len(suite.expectations)}"
                             " expectation(s) could not be loaded (unknown type or bad kwargs)")
        batch = (source.add_dataframe_asset(table)
                 .add_batch_definition_whole_dataframe("batch")
                 .get_batch(batch_parameters={"dataframe": data.to_pandas()}))
        result = batch.validate(suite, result_format={"result_format": "SUMMARY",
                                                     "partial_unexpected_count": 5})
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
                    suites_dir: str | os.PathLike | None = None) -> Path:
    """GX Data Docs of validation results: (run_id, table, GX result as JSON) triples, e.g. from
    ValidationReport.gx_results of several runs. Writes a static site into out_dir (an index of
    the suites and of every result, a page per result) and returns its index.html. The pages load
    their CSS and JS from CDNs (GX's templates): offline they are readable but unstyled."""
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema)
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier, ValidationResultIdentifier)

    out = Path(out_dir).resolve()
    context = _context()
    context.add_data_docs_site("gwr_lake", {
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    suites = set()
    for run_id, table, raw in results:
        suite_name = table.split("#")[0]
        if suite_name not in suites:
            try:
                context.suites.add(ExpectationSuite(**load_suite(suite_name, suites_dir)))
            except FileNotFoundError:
                pass  # a result of a table whose suite is gone: the result page is still built
            suites.add(suite_name)
        try:
            result = ExpectationSuiteValidationResultSchema().load(raw)
        except Exception:  # noqa: BLE001 - a result GX cannot read back (another version): skip it
            continue
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
            run_id=RunIdentifier(run_name=run_id, run_time=_run_time(run_id)),
            batch_identifier=table.replace("#", "-"))
        context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=["gwr_lake"])
    return out / "index.html"


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
