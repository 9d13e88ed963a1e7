"""How the lake writes Parquet: whole texts (bronze items, silver reports: string columns
averaging over PROSE_BYTES a value) without a dictionary and with ZSTD, every other column with a
dictionary and Snappy (Parquet's usual default). Chinese prose compresses far better with ZSTD
and reads back faster; the gold tables BI tools read keep Snappy throughout (bench/RESULTS.md
has the measurements)."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

PROSE_BYTES = 2048
PROSE_CODEC = "zstd"
CODEC = "snappy"


def prose_columns(data: pa.Table) -> set[str]:
    out = set()
    for field, col in zip(data.schema, data.columns):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            values = len(col) - col.null_count
            if values and (pc.sum(pc.binary_length(col)).as_py() or 0) / values > PROSE_BYTES:
                out.add(field.name)
    return out


def options(data: pa.Table) -> dict:
    """Keyword arguments of a pq.write_table of the lake."""
    prose = prose_columns(data)
    return {"use_dictionary": [n for n in data.column_names if n not in prose],
            "compression": {n: PROSE_CODEC if n in prose else CODEC for n in data.column_names}}


def delta_writer_properties(data: pa.Table):
    """The same choice for a Delta table's files (deltalake.WriterProperties, whose codec is
    one per file): a table with prose columns (silver reports) is written with ZSTD and no
    dictionary for the prose, the others with Snappy."""
    from deltalake import ColumnProperties, WriterProperties

    prose = prose_columns(data)
    if not prose:
        return WriterProperties(compression="SNAPPY")
    return WriterProperties(compression="ZSTD", compression_level=1, column_properties={
        n: ColumnProperties(dictionary_enabled=False) for n in prose})
