"""The lake's silver and gold tables as Delta Lake tables (the deltalake package, delta-rs).

Every change of a table is one Delta commit: atomic (a reader sees the version before or the
version after), kept in the table's log (history, time travel), and readable by any engine that
reads Delta (Spark, DuckDB's delta_scan, polars, pandas and pyarrow through deltalake, Power BI's
DeltaLake.Table). A commit's metadata names the run that made it and the code version
(gwr_run_id, gwr_code_version).

A run replaces the rows of what it re-read and keeps the rest: `commit(table, data,
replace=(column, values))` is one overwrite whose predicate is `column IN (values)` (the rows of
those sources, or those regions, go; `data` comes in); new sources are appended. On object
storage, two writers are kept apart by Delta's conditional put: a commit that loses the race is
retried by delta-rs, or fails with a conflict the caller retries.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from .parquet import delta_writer_properties, options
from ..schemas import TABLES
from .storage import Storage

RUN_KEY = "gwr_run_id"
CODE_KEY = "gwr_code_version"
ADDED_KEY = "gwr_rows_added"     # rows a streamed append added (its commit has no write metrics)
COMMIT_RETRIES = 10       # deltalake's own, for a commit that does not conflict with the other
CONFLICT_RETRIES = 5      # ours: the whole write again, after a concurrent commit of the same rows
STREAM_ROWS = 2048        # rows per Parquet row group of a streamed append
MAINTENANCE = ("VACUUM START", "VACUUM END")   # commits that change no row of a table


@dataclass(frozen=True)
class Commit:
    table: str
    version: int
    rows: int            # rows of the table at that version


def _literal(v) -> str:
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return str(int(v))


def predicate(column: str, values) -> str:
    """`column IN (...)` as Delta's SQL predicate; string literals with their quotes doubled."""
    return f"{column} IN ({', '.join(_literal(v) for v in sorted(set(values)))})"


class DeltaTables:
    def __init__(self, storage: Storage):
        self.storage = storage

    def uri(self, table: str) -> str:
        layer = TABLES[table][0]
        return self.storage.delta_uri(layer, table)

    def exists(self, table: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(self.uri(table), storage_options=self.storage.delta_options())

    def open(self, table: str, version: int | None = None):
        """The DeltaTable at `version` (latest when None), or None when the table does not exist."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.uri(table), version=version, storage_options=self.storage.delta_options())
        except TableNotFoundError:
            return None

    def version(self, table: str) -> int | None:
        dt = self.open(table)
        return dt.version() if dt is not None else None

    def read(self, table: str, version: int | None = None, columns: list[str] | None = None,
             where: tuple[str, list] | None = None) -> pa.Table:
        """The table (at `version`) with the schema's columns in order, or only `columns`; only
        the rows whose where[0] is in where[1]. An empty table when it does not exist yet."""
        schema = TABLES[table][1]
        names = columns or schema.names
        dt = self.open(table, version)
        if dt is None:
            return schema.empty_table().select(names)
        import pyarrow.dataset as ds

        data = dt.to_pyarrow_dataset()
        flt = None
        if where is not None:
            flt = ds.field(where[0]).isin(pa.array(list(where[1]), schema.field(where[0]).type))
        have = set(data.schema.names)
        got = data.to_table(columns=[n for n in names if n in have], filter=flt)
        for n in names:          # a column added to the schema after the table was written
            if n not in have:
                got = got.append_column(schema.field(n), pa.nulls(got.num_rows, schema.field(n).type))
        return got.select(names).cast(pa.schema([schema.field(n) for n in names]))

    def commit(self, table: str, data, *, run_id: str, code_version: str,
               replace: tuple[str, list] | None = None, whole: bool = False) -> Commit | None:
        """One commit: append `data` (an Arrow table or dataset); or, with replace=(column,
        values), overwrite the rows whose column is in values with `data` (whose rows must all
        match); or, `whole`, replace the table. -> the version made (None: nothing to do).

        Another writer's commit in between (another run on object storage, which has no lock):
        deltalake retries a commit that does not conflict; one that does (both replaced the same
        rows: "a concurrent transaction added new data ... must be rerun") is written again over
        the new version, up to CONFLICT_RETRIES times -- the rows replaced are this run's, whole."""
        import random
        import time

        from deltalake.exceptions import CommitFailedError

        _, schema, _ = TABLES[table]
        if isinstance(data, pa.Table):
            data = data.select(schema.names).cast(schema)
            sample, rows = data, data.num_rows
        else:                                   # a dataset of staged files: streamed
            sample = data.head(256, columns=schema.names)
            rows = data.count_rows()
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                if not self._write(table, data, sample, rows, run_id, code_version, replace, whole):
                    return None
                break
            except CommitFailedError:
                if attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
        # the version this commit made: the latest, unless another writer committed since
        dt, entries = self._history(table, 32)
        mine = next((h["version"] for h in entries if h.get(RUN_KEY) == run_id), None)
        if mine is not None and mine != dt.version():
            dt.load_as_version(mine)
        return Commit(table, dt.version(), dt.count())

    def _history(self, table: str, limit: int | None = None):
        """(the table at its latest version, its commits newest first), numbered right:
        deltalake numbers history entries down from the version it loaded, while it lists the
        newest commits, so a commit landing in between shifts every number. Read again until no
        commit landed."""
        for _ in range(20):
            dt = self.open(table)
            if dt is None:
                return None, []
            entries = dt.history(limit)
            if self.version(table) == dt.version():
                break
        return dt, entries

    def _write(self, table: str, data, sample: pa.Table, rows: int, run_id: str, code_version: str,
               replace: tuple[str, list] | None, whole: bool) -> bool:
        """One attempt of a commit (False: nothing to do).

        A table is made by a commit of its own (CREATE TABLE, version 0), before its first rows:
        deltalake checks no conflict against a commit that makes the table, so two writers that
        both found no table (on object storage) would both append, the later one rebased over
        the other's version, and every row both wrote would be there twice. Over a made table
        their commits conflict as any two writes of the same rows do (and are written again)."""
        from deltalake import CommitProperties, DeltaTable, write_deltalake

        _, schema, part = TABLES[table]
        if not isinstance(data, pa.Table):      # a dataset: a new stream for each attempt
            data = data.scanner(columns=schema.names, batch_size=256, batch_readahead=2,
                                fragment_readahead=1).to_reader()
        props = CommitProperties(custom_metadata={RUN_KEY: run_id, CODE_KEY: code_version},
                                 max_commit_retries=COMMIT_RETRIES)
        uri = self.uri(table)
        made = False
        if not self.exists(table):
            DeltaTable.create(uri, schema, partition_by=[part] if part else None, mode="ignore",
                              storage_options=self.storage.delta_options(), commit_properties=props)
            made = True
        if not whole and not rows and not (replace and replace[1]):
            return made
        common = dict(storage_options=self.storage.delta_options(), commit_properties=props,
                      writer_properties=delta_writer_properties(sample))
        if whole:
            write_deltalake(uri, data, mode="overwrite", schema_mode="overwrite", **common)
        elif replace is not None and replace[1]:
            write_deltalake(uri, data, mode="overwrite", predicate=predicate(*replace), schema_mode="merge",
                            **common)
        elif isinstance(data, pa.RecordBatchReader):
            self._append_streamed(table, data, sample, run_id, code_version)
        else:
            write_deltalake(uri, data, mode="append", schema_mode="merge", **common)
        return True

    def _append_streamed(self, table: str, data: pa.RecordBatchReader, sample: pa.Table, run_id: str,
                         code_version: str) -> None:
        """Append a stream of rows in one commit with memory that does not grow with the rows:
        pyarrow writes the Parquet files batch by batch (deltalake's writer holds the whole
        input first), then one Delta transaction adds them. A run killed in between leaves files
        no version names: invisible to readers, removed by vacuum."""
        import json
        import time
        import uuid

        import pyarrow.dataset as ds
        from deltalake import CommitProperties, DeltaTable
        from deltalake.transaction import AddAction

        layer, schema, part = TABLES[table]
        folder = self.storage.path(layer, table)
        written: list = []
        ds.write_dataset(
            data, folder, format="parquet", filesystem=self.storage.pyarrow_fs(),
            basename_template=f"part-{uuid.uuid4().hex}-{{i}}.parquet",
            partitioning=ds.partitioning(pa.schema([schema.field(part)]), flavor="hive") if part else None,
            file_options=ds.ParquetFileFormat().make_write_options(**options(sample)),
            existing_data_behavior="overwrite_or_ignore", max_rows_per_group=STREAM_ROWS,
            min_rows_per_group=min(STREAM_ROWS, 1024), file_visitor=written.append)
        now = int(time.time() * 1000)
        actions = []
        for f in written:
            rel = f.path[len(folder):].lstrip("/")
            values = {}
            if part:
                raw = rel.split("/", 1)[0].split("=", 1)[1]
                values[part] = None if raw == "__HIVE_DEFAULT_PARTITION__" else raw
            actions.append(AddAction(rel, f.size, values, now, True,
                                     json.dumps({"numRecords": f.metadata.num_rows})))
        if actions:
            added = sum(f.metadata.num_rows for f in written)
            props = CommitProperties(custom_metadata={RUN_KEY: run_id, CODE_KEY: code_version, ADDED_KEY: str(added)},
                                     max_commit_retries=COMMIT_RETRIES)
            DeltaTable(self.uri(table), storage_options=self.storage.delta_options()).create_write_transaction(
                actions, mode="append", schema=schema, partition_by=[part] if part else None,
                commit_properties=props)

    def history(self, table: str) -> list[dict]:
        """Each version of the table: version, time (ISO, UTC), operation, run id, code version,
        the table's rows at that version, rows added (the commit's metrics) and removed (Delta's
        WRITE metrics do not count them: the rows before, plus added, minus the rows after),
        newest first. Counts are None for a version whose log was cleaned up."""
        from datetime import datetime, timezone

        dt, entries = self._history(table)
        if dt is None:
            return []
        rows: dict[int, int | None] = {}
        probe = self.open(table)
        for v in sorted(h["version"] for h in entries if h.get("version") is not None):
            try:
                probe.load_as_version(v)
                rows[v] = probe.count()
            except Exception:  # noqa: BLE001 - an old version whose log is gone
                rows[v] = None
        out = []
        for h in entries:
            metrics = h.get("operationMetrics") or {}
            v = h.get("version")
            added = metrics.get("num_added_rows")
            if added is None and h.get(ADDED_KEY) is not None:
                added = int(h[ADDED_KEY])
            removed = metrics.get("num_removed_rows")
            now, before = rows.get(v), (rows.get(v - 1) if v else 0)
            if removed is None and None not in (now, before):
                removed = before + (added or 0) - now
            out.append({
                "table": table, "version": v,
                "time": datetime.fromtimestamp(h.get("timestamp", 0) / 1000, timezone.utc).isoformat(),
                "operation": h.get("operation"), "run_id": h.get(RUN_KEY),
                "code_version": h.get(CODE_KEY), "rows": now,
                "rows_added": added, "rows_removed": removed,
            })
        return out

    def only_maintenance(self, table: str, since: int) -> bool:
        """Every commit after version `since` changed no data (vacuum's VACUUM START / END)."""
        dt, entries = self._history(table)
        if dt is None:
            return False
        later = [h for h in entries if (h.get("version") or 0) > since]
        return bool(later) and all(h.get("operation") in MAINTENANCE for h in later)

    def columns(self, table: str, version: int | None = None) -> set[str]:
        """The columns the table has at `version` (its Delta schema)."""
        dt = self.open(table, version)
        if dt is None:
            return set()
        return set(pa.schema(dt.schema()).names)

    def rows_at(self, table: str, version: int) -> int:
        dt = self.open(table, version)
        return dt.count() if dt is not None else 0

    def file_uris(self, table: str, version: int | None = None) -> list[str]:
        """The Parquet files of the table at `version`: what a reader without Delta must read
        (a glob over the folder would also see removed files and checkpoints)."""
        dt = self.open(table, version)
        return list(dt.file_uris()) if dt is not None else []

    def files(self, table: str, version: int | None = None) -> list[str]:
        """The same, relative to the table's folder."""
        base = self.uri(table).rstrip("/") + "/"
        return [u[len(base):] if u.startswith(base) else u for u in self.file_uris(table, version)]

    def compact(self, table: str, run_id: str, code_version: str) -> int:
        """Rewrite the table's small files into fewer large ones (the rows do not change; a new
        version). -> files removed."""
        from deltalake import CommitProperties

        dt = self.open(table)
        if dt is None:
            return 0
        props = CommitProperties(custom_metadata={RUN_KEY: run_id, CODE_KEY: code_version})
        got = dt.optimize.compact(commit_properties=props)
        return int(got.get("numFilesRemoved", 0) or 0)

    def vacuum(self, table: str, retention_hours: int, keep_versions: list[int],
               dry_run: bool = False) -> list[str]:
        """Delete the files no version within the retention (nor a kept version) needs, and the
        files older than the retention that no version names (a write killed before its commit):
        deltalake's full vacuum, which lists the table's folder."""
        dt = self.open(table)
        if dt is None:
            return []
        return dt.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False,
                         keep_versions=sorted(set(keep_versions)) or None, full=True)
