"""The lake: the only package that knows where data lives and writes it.

    bronze/source_items/<sha256>.parquet     every source file's items as fetched (append-only)
    silver/reports/                          Delta table: one row per report
    silver/sources/                          Delta table: the source index (what the lake holds)
    gold/indicator_mentions/                 Delta tables, partitioned by year
    gold/indicator_panel/
    gold/indicator_wide/
    gold/target_attainment/
    quarantine/<run_id>-<stage>.parquet      inputs a stage could not use, and why
    validation/<run_id>.json, .md            Great Expectations results of each run
    manifests/<run_id>.json                  each run: inputs, counts, validation, table versions
    reports/index.html, reports/data_docs/   the HTML report and the GX Data Docs
    lake.duckdb                              DuckDB views over the live files (open it from here)
    _current.json                            the last publish: the version of every table
    _tags.json                               named versions (flows tag)
    _staging/<run_id>/                       a run's rows before they are published

A run publishes by Delta commits, one per table (flows/lake/tables.py), in DELTA_TABLES order,
then writes _current.json: readers of the pointer (flows sql, the DuckDB file) see one
consistent set of versions; a reader of one table alone sees each table's latest commit.
"""
from __future__ import annotations

import contextlib
import os
import time

import pyarrow as pa

from ..runtime.faults import crashpoint
from .bronze import Bronze
from .errors import LakeBusy, LakeError, LakeUpgradeError, LakeUrlError  # noqa: F401
from .records import Records, utcnow
from ..schemas import BI_TABLES, DELTA_TABLES, KEYS, TABLES  # noqa: F401
from .staging import Staging
from .storage import Storage, is_url
from .tables import Commit, DeltaTables, predicate  # noqa: F401


POINT_ATTEMPTS = 20


class Lake:
    def __init__(self, root: str | os.PathLike = "lake"):
        self.storage = Storage(root)
        self.bronze = Bronze(self.storage)
        self.staging = Staging(self.storage)
        self.tables = DeltaTables(self.storage)
        self.records = Records(self.storage)

    def location(self) -> str:
        return self.storage.root

    def __repr__(self) -> str:
        return f"Lake({self.storage.root!r})"

    # ---- one writer at a time ------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, timeout_s: float = 3600.0, poll_s: float = 0.5, on_wait=None):
        """One writing run at a time on a local lake: a second run waits (up to timeout_s) for
        the first, then finds its work done; on_wait(message) is called once when it starts
        waiting (the flow logs it: a run that waits says why). On object storage there is no
        lock: Delta's conditional put keeps concurrent commits apart (a commit that loses is
        retried)."""
        if self.storage.url:
            yield self
            return
        import fcntl

        os.makedirs(self.storage.root, exist_ok=True)
        # "a": the lock file is created once and never truncated (a run that finds nothing new
        # leaves every file of the lake as it was, its times included)
        with open(os.path.join(self.storage.root, ".lock"), "a") as fh:
            deadline = time.monotonic() + timeout_s
            waiting = False
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if on_wait is not None and not waiting and timeout_s > 0:
                        on_wait(f"another run is writing to {self.storage.root} (its lock is "
                                f"{self.storage.root}/.lock): waiting for it to finish, up to {timeout_s:g} s")
                    waiting = True
                    if time.monotonic() >= deadline:
                        raise LakeBusy(f"another run has been writing to {self.storage.root} for over "
                                       f"{timeout_s:g} s (its lock is {self.storage.root}/.lock)") from None
                    time.sleep(poll_s)
            try:
                crashpoint("lock:acquired")
                for run in self.staging.runs():   # what a run that died left behind
                    self.staging.discard(run)
                yield self
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- reading -------------------------------------------------------------------------
    def read(self, table: str, versions: dict | None = None, columns: list[str] | None = None,
             where: tuple[str, list] | None = None) -> pa.Table:
        """A table as of `versions` ({table: version}, e.g. a publish's set; latest when None
        or when the set does not name the table)."""
        if table == "quarantine":
            return self.records.quarantine()
        if table == "source_items":
            return self.bronze.read(self.bronze.shas())
        version = (versions or {}).get(table)
        return self.tables.read(table, version, columns, where)

    def source_index(self) -> dict:
        """{source_name: {sha256, code_version, size, mtime_ns, etag, ...}} of every source the
        lake holds rows of (empty for a new lake)."""
        t = self.tables.read("sources")
        return {r["source_name"]: r for r in t.to_pylist()}

    def latest_versions(self) -> dict[str, int]:
        out = {}
        for t in DELTA_TABLES:
            v = self.tables.version(t)
            if v is not None:
                out[t] = v
        return out

    # ---- publishing ----------------------------------------------------------------------
    def commit(self, table: str, data, run_id: str, code_version: str,
               replace: tuple[str, list] | None = None, whole: bool = False) -> Commit | None:
        crashpoint(f"publish:{table}:before")
        done = self.tables.commit(table, data, run_id=run_id, code_version=code_version, replace=replace,
                                  whole=whole)
        crashpoint(f"publish:{table}:committed")
        return done

    def point(self, run_id: str, code_version: str, extra: dict | None = None) -> dict:
        """Write _current.json: the set of versions readers should see together (every Delta
        table at its latest version, after a publish's commits). Another writer may commit and
        point between our reading the versions and writing (object storage has no lock): the
        versions are read again after writing, and written again until they stand, so that the
        last pointer written names every commit made before it."""
        versions = self.latest_versions()
        crashpoint("publish:pointer:before")
        for _ in range(POINT_ATTEMPTS):
            pointer = {"run_id": run_id, "published_at": utcnow(), "code_version": code_version,
                       "versions": versions, **(extra or {})}
            self.records.write_current(pointer)
            crashpoint("publish:pointer:written")
            now = self.latest_versions()
            if now == versions:
                break
            versions = now
        return pointer

    def pointer_is_current(self) -> bool:
        """The pointer names every table's latest data: its version, or an older one that only
        vacuum's commits (no data) followed. True for a lake with no table yet. False after a
        run died between its commits and its pointer: the next run points."""
        named = (self.records.current() or {}).get("versions") or {}
        latest = self.latest_versions()
        if set(named) != set(latest):
            return False
        return all(v == named[t] or self.tables.only_maintenance(t, named[t]) for t, v in latest.items())

    def pointer_unreported(self) -> bool:
        """The pointer's run left no manifest: it died after writing the pointer, before its
        report, lake.duckdb and manifest (the next run points again and writes them)."""
        cur = self.records.current() or {}
        return bool(cur.get("run_id")) and not self.storage.exists("manifests", f"{cur['run_id']}.json")
