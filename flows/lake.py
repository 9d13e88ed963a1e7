"""The lake on disk: the only module that knows a path and the only one that writes.

    <root>/bronze/source_items/<sha256>.parquet          append-only, one file per source file
    <root>/silver/reports/part-<digest>-0.parquet
    <root>/gold/indicator_mentions/year=2023/part-<digest>-0.parquet
    <root>/gold/indicator_panel/year=2023/part-<digest>-0.parquet
    <root>/quarantine/<run_id>-<stage>.parquet          append-only
    <root>/validation/<run_id>.json, .md                 one report per run
    <root>/manifests/<run_id>.json                       one per run: inputs, counts, result
    <root>/_staging/<run_id>/...                         work area, outside every table folder
    <root>/_trash/<time>-<run_id>/...                    replaced versions, deleted after a minute

A table is written whole into _staging and then swapped in with one rename (an atomic exchange
where the OS has one), so a reader sees the old table or the new one, never a half-written
file; a run that is not published leaves the live tables untouched. Every Parquet file under a
table folder belongs to the live table, so `read_parquet('<table>/**/*.parquet',
hive_partitioning=true)` and `pyarrow.dataset` read exactly it. File names carry a digest of
the table's content: the same rows make the same files (a re-run that changes nothing writes
nothing), and a path never changes meaning, so a reader that listed the files just before a
swap gets FileNotFoundError (and reads again), never a mix of two versions.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .schemas import KEYS, TABLES

# the file types flows/core/sources.py reads; anything else is quarantined as unsupported
SOURCE_SUFFIXES = (".txt", ".text", ".html", ".htm", ".xhtml", ".shtml", ".csv", ".tsv", ".jsonl",
                   ".ndjson", ".json")


TRASH_GRACE_S = 60  # how long a replaced table version is kept for readers still listing it


class LakeBusy(RuntimeError):
    pass


class LakeSchemaError(RuntimeError):
    """A live table was written with another schema than flows/schemas.py's."""


def list_source_files(source: str | os.PathLike) -> list[tuple[str, Path]]:
    """(source_name, path) of every file under a folder (or the one file), sorted by name.
    source_name is the path relative to the folder (posix); hidden files and folders are skipped."""
    src = Path(source)
    if src.is_file():
        return [(src.name, src)]
    if not src.is_dir():
        raise FileNotFoundError(f"source not found: {src}")
    out = []
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append((rel.as_posix(), p))
    return out


def read_source(path: Path) -> bytes:
    return Path(path).read_bytes()


class Lake:
    def __init__(self, root: str | os.PathLike = "lake"):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # ---- paths ---------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        layer = TABLES[table][0]
        return self.root / layer if table == "quarantine" else self.root / layer / table

    def _staging(self, run_id: str) -> Path:
        return self.root / "_staging" / run_id

    def _tmp_path(self, suffix: str) -> Path:
        d = self.root / "_staging" / "tmp"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{uuid.uuid4().hex}{suffix}"

    def _write_file_atomic(self, path: Path, write) -> Path:
        """write(tmp_path) into the staging area, then rename into place."""
        tmp = self._tmp_path(path.suffix)
        try:
            write(tmp)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @contextlib.contextmanager
    def lock(self):
        """One writing run per lake at a time."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                raise LakeBusy(f"another run is writing to {self.root} (lock {self.root / '.lock'})") from e
            try:
                yield self
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- bronze: append-only, keyed by the sha256 of the file bytes ------------------------
    def _bronze_path(self, sha256: str) -> Path:
        return self.table_dir("source_items") / f"{sha256}.parquet"

    def has_bronze(self, sha256: str) -> bool:
        return self._bronze_path(sha256).exists()

    def write_bronze(self, sha256: str, table: pa.Table) -> bool:
        """Land the items of one source file; False (nothing written) when already there."""
        path = self._bronze_path(sha256)
        if path.exists():
            return False
        table = table.cast(TABLES["source_items"][1])
        self._write_file_atomic(path, lambda tmp: pq.write_table(table, tmp))
        return True

    # ---- whole tables: read, stage, publish -------------------------------------------------
    def read_table(self, table: str) -> pa.Table:
        """The live table with its full schema (an empty table when there is none yet)."""
        _, schema, part = TABLES[table]
        d = self.table_dir(table)
        files = sorted(d.rglob("*.parquet")) if d.is_dir() else []
        if not files:
            return schema.empty_table()
        partitioning = None
        if part:
            partitioning = ds.partitioning(pa.schema([schema.field(part)]), flavor="hive")
        written = pq.read_schema(files[0])
        missing = [n for n in schema.names if n != part and n not in written.names]
        try:
            if missing:
                raise ValueError(f"missing column(s) {', '.join(missing)}")
            dataset = ds.dataset([str(f) for f in files], format="parquet", partitioning=partitioning,
                                 partition_base_dir=str(d), schema=schema)
            return dataset.to_table().select(schema.names).cast(schema)
        except (ValueError, pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise LakeSchemaError(
                f"{d} was written with another schema than flows/schemas.py ({e}); its rows "
                "cannot be merged: move that lake away (or use another --lake) and run over "
                "all sources again") from e

    def stage(self, run_id: str, table: str, data: pa.Table) -> Path | None:
        """Write a whole table into the run's staging area (not visible to readers). Returns
        None, staging nothing, when the live table already holds exactly these rows.

        File names carry a digest of the table's content, so a path never changes meaning: a
        reader that opens a file twice reads the same bytes, or finds it gone."""
        layer, schema, part = TABLES[table]
        data = sort_rows(table, data.select(schema.names).cast(schema)).combine_chunks()
        version = _digest(data)
        live = self.table_dir(table)
        if live.is_dir() and {_version_of(p) for p in live.rglob("*.parquet")} == {version}:
            return None
        out = self._staging(run_id) / layer / table
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        if part and data.num_rows:
            ds.write_dataset(
                data, out, format="parquet",
                partitioning=ds.partitioning(pa.schema([schema.field(part)]), flavor="hive"),
                basename_template=f"part-{version}-{{i}}.parquet", existing_data_behavior="error",
            )
        else:  # an empty table keeps one (empty) file: readable, with its schema
            pq.write_table(data, out / f"part-{version}-0.parquet")
        return out

    def publish(self, run_id: str) -> list[str]:
        """Swap every table staged by the run into place; returns the tables published.
        Replaced versions wait in _trash for TRASH_GRACE_S (a reader may still be listing
        them), then go at a later publish."""
        self._empty_trash()
        staging = self._staging(run_id)
        trash = self.root / "_trash" / f"{int(time.time())}-{run_id}"
        published = []
        for table, (layer, _, _) in TABLES.items():
            staged = staging / layer / table
            if staged.is_dir():
                _swap_in(staged, self.table_dir(table), trash / layer / table)
                published.append(table)
        self.discard(run_id)
        return published

    def discard(self, run_id: str) -> None:
        shutil.rmtree(self._staging(run_id), ignore_errors=True)

    def _empty_trash(self) -> None:
        d = self.root / "_trash"
        for old in d.iterdir() if d.is_dir() else []:
            stamp = old.name.split("-", 1)[0]
            if not stamp.isdigit() or time.time() - int(stamp) > TRASH_GRACE_S:
                shutil.rmtree(old, ignore_errors=True)

    # ---- logs ------------------------------------------------------------------------------
    def write_quarantine(self, run_id: str, stage: str, rows: list[dict]) -> Path | None:
        if not rows:
            return None
        from .schemas import to_table

        data = to_table("quarantine", rows)
        path = self.table_dir("quarantine") / f"{run_id}-{stage}.parquet"
        return self._write_file_atomic(path, lambda tmp: pq.write_table(data, tmp))

    def write_text(self, folder: str, name: str, text: str) -> Path:
        """A small report file: folder is one of validation, manifests."""
        assert folder in ("validation", "manifests"), folder
        path = self.root / folder / name
        return self._write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def write_manifest(self, run_id: str, manifest: dict) -> Path:
        text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        return self.write_text("manifests", f"{run_id}.json", text + "\n")

    def manifests(self) -> list[dict]:
        d = self.root / "manifests"
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(d.glob("*.json"))]


def _digest(data: pa.Table) -> str:
    """A short digest of a table's content (schema and rows)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return hashlib.sha256(sink.getvalue()).hexdigest()[:16]


def _version_of(path: Path) -> str:
    """part-<digest>-<i>.parquet -> digest"""
    parts = path.stem.split("-")
    return parts[1] if len(parts) == 3 and parts[0] == "part" else ""


def sort_rows(table: str, data: pa.Table) -> pa.Table:
    """A fixed row order (by the table's key), so the same rows always make the same files."""
    keys = KEYS.get(table)
    if not keys or data.num_rows == 0:
        return data
    return data.sort_by([(k, "ascending") for k in keys])


def upsert_by_source(current: pa.Table, new: pa.Table, sources: set[str]) -> pa.Table:
    """Rows of `current` from other sources, plus `new`: a run replaces what it re-read."""
    import pyarrow.compute as pc

    if current.num_rows and sources:
        keep = pc.invert(pc.is_in(current["source_name"], value_set=pa.array(sorted(sources))))
        current = current.filter(keep)
    return pa.concat_tables([current, new.select(current.schema.names).cast(current.schema)])


# ---- the swap ----------------------------------------------------------------------------
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False when the OS can't."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _swap_in(staged: Path, live: Path, old: Path) -> None:
    """Put `staged` at `live`; the previous `live` ends at `old`."""
    live.parent.mkdir(parents=True, exist_ok=True)
    if not live.exists():
        os.rename(staged, live)
        return
    old.parent.mkdir(parents=True, exist_ok=True)
    if _exchange(staged, live):
        os.rename(staged, old)  # staged now holds the previous table
    else:  # two renames: for an instant the table is absent, never half-written
        os.rename(live, old)
        os.rename(staged, live)
