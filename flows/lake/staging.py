"""A run's rows before they are published: one Parquet file per chunk and table under
_staging/<run_id>/<table>/, written where the chunk was processed (a worker process, a Dask
worker), read back by the validation and by the publish. Never inside a table's folder; what a
run that died left behind is removed by the next run that takes the lake."""
from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import parquet
from ..runtime.faults import crashpoint
from ..schemas import TABLES
from .storage import Storage

ROOT = "_staging"


class Staging:
    def __init__(self, storage: Storage):
        self.s = storage

    def write(self, run_id: str, table: str, part: str, data: pa.Table) -> str | None:
        """Stage rows of a table (a chunk's); None when there are none."""
        if data.num_rows == 0:
            return None
        schema = TABLES[table][1]
        data = data.select(schema.names).cast(schema)
        buf = io.BytesIO()
        pq.write_table(data, buf, **parquet.options(data))
        path = self.s.write_bytes(buf.getvalue(), ROOT, run_id, table, f"{part}.parquet")
        crashpoint(f"stage:{table}:written")
        return path

    def dataset(self, run_id: str, table: str):
        """The staged files of a table as one pyarrow dataset (None: nothing staged)."""
        names = self.s.list(ROOT, run_id, table, suffix=".parquet")
        if not names:
            return None
        paths = [self.s.path(ROOT, run_id, table, n) for n in names]
        return ds.dataset(paths, format="parquet", schema=TABLES[table][1], filesystem=self.s.pyarrow_fs())

    def read(self, run_id: str, table: str, columns: list[str] | None = None,
             where: tuple[str, list] | None = None) -> pa.Table:
        """Everything a run staged for a table (or its `columns`, only rows whose where[0] is
        in where[1])."""
        schema = TABLES[table][1]
        d = self.dataset(run_id, table)
        if d is None:
            return schema.empty_table().select(columns or schema.names)
        flt = None
        if where is not None:
            flt = ds.field(where[0]).isin(pa.array(list(where[1]), schema.field(where[0]).type))
        return d.to_table(columns=columns or schema.names, filter=flt)

    def batches(self, run_id: str, table: str, max_rows: int):
        """The staged rows of a table in pieces of at most max_rows (memory stays per piece)."""
        d = self.dataset(run_id, table)
        if d is None:
            return
        pending, n = [], 0
        for batch in d.to_batches(batch_size=max_rows):
            pending.append(batch)
            n += batch.num_rows
            if n >= max_rows:
                yield pa.Table.from_batches(pending, schema=d.schema)
                pending, n = [], 0
        if pending:
            yield pa.Table.from_batches(pending, schema=d.schema)

    def rows(self, run_id: str, table: str) -> int:
        d = self.dataset(run_id, table)
        return d.count_rows() if d is not None else 0

    def discard(self, run_id: str) -> None:
        self.s.delete_tree(ROOT, run_id)

    def runs(self) -> list[str]:
        if self.s.url:
            try:
                return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.s.fs.ls(self.s.path(ROOT), detail=False))
            except FileNotFoundError:
                return []
        import os

        try:
            return sorted(e.name for e in os.scandir(self.s.path(ROOT)) if e.is_dir())
        except FileNotFoundError:
            return []
