"""Great Expectations' side of the package: a quiet in-memory context, and the one validation
session each process keeps (its context, its pandas data source, a data asset and batch
definition per table, the suites already parsed), used one validation at a time.

Only GX's public API is used: a data source, a data asset per table and its whole-dataframe
batch definition are made once and then handed a new dataframe for every batch
(`batch_definition.get_batch(batch_parameters={"dataframe": df}).validate(suite)`).
"""
from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager

# GX's BASIC result format: success, unexpected count and percent, and a few unexpected values
# per expectation (what Failure and Data Docs show). SUMMARY adds value counts and row indexes of
# the unexpected values, which nothing here reads; BOOLEAN_ONLY would leave Data Docs without the
# observed values of the expectations that pass.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}
SUITES_KEPT = 32          # parsed suites a session keeps (one per distinct suite JSON)

_SETTLED = False
_LOCK = threading.Lock()  # one validation at a time per process (a session is not thread-safe)
_SESSION: Session | None = None


def quiet_context():
    """A new in-memory GX context with no progress bars and no analytics (imports GX)."""
    global _SETTLED
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import logging

    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)  # the second sets itself to INFO
    if not _SETTLED:   # GX's import made ~1M objects: out of the collector's sight (gc.freeze),
        import gc      # so that a collection walks only what the run makes afterwards

        gc.freeze()
        _SETTLED = True
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


class Session:
    """A GX context with a pandas data source, the tables' batch definitions and parsed suites."""

    def __init__(self) -> None:
        """A new context with its pandas data source (imports GX)."""
        self.context = quiet_context()
        self.source = self.context.data_sources.add_pandas("gwr_lake")
        self._batches: dict = {}   # table -> its whole-dataframe batch definition
        self._suites: dict = {}    # suite JSON -> ExpectationSuite

    def batch_definition(self, table: str):
        """The batch definition of `table`'s data asset (made on first use)."""
        if table not in self._batches:
            asset = self.source.add_dataframe_asset(table)
            self._batches[table] = asset.add_batch_definition_whole_dataframe("batch")
        return self._batches[table]

    def suite(self, table: str, raw: dict):
        """The ExpectationSuite of a suite's JSON, parsed once. Raises ValueError when GX could
        not load every expectation (it only logs a bad one and drops it)."""
        from great_expectations.core import ExpectationSuite

        key = json.dumps(raw, sort_keys=True, ensure_ascii=False)
        if key not in self._suites:
            suite = ExpectationSuite(**raw)
            lost = len(raw.get("expectations", [])) - len(suite.expectations)
            if lost:
                raise ValueError(f"expectations/{table}.json: {lost} expectation(s) "
                                 "could not be loaded (unknown type or bad kwargs)")
            while len(self._suites) >= SUITES_KEPT:
                self._suites.pop(next(iter(self._suites)))
            self._suites[key] = suite
        return self._suites[key]

    def validate(self, table: str, raw: dict, frame):
        """GX's ExpectationSuiteValidationResult of the suite `raw` on a pandas frame. The frame
        is emptied (in place) afterwards: the data source's execution engine keeps the last
        batch of each asset until the next one comes, and the rows should not outlive the call."""
        suite = self.suite(table, raw)
        batch = self.batch_definition(table).get_batch(batch_parameters={"dataframe": frame})
        try:
            return batch.validate(suite, result_format=RESULT_FORMAT)
        finally:
            frame.drop(index=frame.index, inplace=True)


@contextmanager
def session():
    """This process's validation session, held for the block (made on first use)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            _SESSION = Session()
        yield _SESSION
