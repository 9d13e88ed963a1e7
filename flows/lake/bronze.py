"""Bronze: every source file's decoded items as fetched, one Parquet file per file content,
named by the sha256 of its bytes (bronze/source_items/<sha256>.parquet). Append-only: a file
whose bytes are already there is not written again; two writers of the same bytes, one wins."""
from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import parquet
from ..runtime.faults import crashpoint
from ..schemas import TABLES
from .storage import Storage

FOLDER = ("bronze", "source_items")


class Bronze:
    def __init__(self, storage: Storage):
        self.s = storage
        self.schema = TABLES["source_items"][1]

    def name(self, sha256: str) -> str:
        return f"{sha256}.parquet"

    def has(self, sha256: str) -> bool:
        return self.s.exists(*FOLDER, self.name(sha256))

    def write(self, sha256: str, table: pa.Table) -> bool:
        """Land the items of one source file; False (nothing written) when already there."""
        if self.has(sha256):
            return False
        table = table.select(self.schema.names).cast(self.schema)
        buf = io.BytesIO()
        pq.write_table(table, buf, **parquet.options(table))
        written = self.s.write_new(buf.getvalue(), *FOLDER, self.name(sha256))
        if written:
            crashpoint("bronze:written")
        return written

    def read(self, shas: list[str]) -> pa.Table:
        """The items of landed source files (each file's in its order); a bronze file written
        before a column was added to the schema reads with that column null."""
        if not shas:
            return self.schema.empty_table()
        paths = [self.s.path(*FOLDER, self.name(s)) for s in shas]
        dataset = ds.dataset(paths, format="parquet", schema=self.schema, filesystem=self.s.pyarrow_fs())
        return dataset.to_table()

    def summary(self, sha256: str) -> dict:
        """{items, encoding, containers} of a landed file, without reading its text."""
        path = self.s.path(*FOLDER, self.name(sha256))
        t = pq.read_table(path, columns=["encoding", "container"], filesystem=self.s.pyarrow_fs())
        return {"items": t.num_rows, "encoding": t["encoding"][0].as_py() if t.num_rows else "",
                "containers": sorted(set(t["container"].to_pylist()) - {None})}

    def size(self, sha256: str) -> int:
        return self.s.size(*FOLDER, self.name(sha256))

    def shas(self) -> list[str]:
        return [n[:-len(".parquet")] for n in self.s.list(*FOLDER, suffix=".parquet")]
