"""The lake on disk: the only module that knows a path and the only one that writes.

    <root>/bronze/source_items/<sha256>.parquet          append-only, one file per source file
    <root>/silver/reports/part-<digest>-0.parquet          one file per segment
    <root>/gold/indicator_mentions/year=2023/part-<digest>-0.parquet
    <root>/gold/indicator_panel/year=2023/part-<digest>-0.parquet
    <root>/gold/indicator_wide/year=2023/..., target_attainment/year=2023/...   (BI, flows/bi.py)
    <root>/quarantine/<run_id>-<stage>.parquet          append-only
    <root>/reports/index.html, data_docs/                the HTML report, GX Data Docs (every run)
    <root>/validation/<run_id>.json, .md                 one report per run
    <root>/manifests/<run_id>.json                       one per run: inputs, counts, result
    <root>/_staging/<run_id>/...                         work area, outside every table folder
    <root>/_trash/<time>-<run_id>/...                    replaced versions, deleted after a minute

A run stages its rows as SEGMENTS (one per chunk of sources and table: part-<digest>-<i>.parquet,
the digest of the segment's rows) in _staging; at publish each staged table is completed with
the live segments of the sources the run did not read (hard links) and each layer is swapped in
with one rename (an atomic exchange where the OS has one), so a reader sees the old table or the
new one, never a half-written file; a run that is not published leaves the live tables
untouched. Each layer's _version.json lists its tables' segments (rows, sources, files), and
silver's holds the lake's source index (what the plan of the next run compares with). Every Parquet file under a
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
import logging
import os
import re
import shutil
import stat
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .core.model import SourceError
from .faults import crashpoint
from .schemas import KEYS, TABLES

from .core.read import SUFFIXES as SOURCE_SUFFIXES  # noqa: E402  (the file types the core reads)


TRASH_GRACE_S = 60  # how long a replaced table version is kept for readers still listing it


class LakeBusy(RuntimeError):
    pass


class LakeSchemaError(RuntimeError):
    """A live table was written with another schema than flows/schemas.py's."""


class LakeAuditError(RuntimeError):
    """A run's batch may not be published: its validation failed, or its staged files do not
    read back as they were written. Nothing was published."""


class LakeRecoveryError(RuntimeError):
    """A committed publish cannot be finished (its staged files were removed by hand)."""


# the layers a publish exchanges whole, in this order (bronze and quarantine are append-only)
LAYER_ORDER = ("silver", "gold")

log = logging.getLogger(__name__)

# the run ids flows/flow.py makes (<UTC time>-<flow run id>): how recovery finds a dead run's files
# (validation/<run_id>[-bi].json, quarantine/<run_id>-<stage>.parquet, _staging/<run_id>/)
_RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")


def list_source_files(source: str | os.PathLike) -> list[tuple[str, Path]]:
    """(source_name, path) of every file under a folder (or the one file), sorted by name.
    source_name is the path relative to the folder (posix); hidden files and folders are skipped.

    Symbolic links are listed but never followed (read_source refuses them, so they are
    quarantined: nothing outside the source is read), and so are FIFOs, sockets and devices (read
    would block or never end). A name that is not valid UTF-8 is given with its bad bytes
    escaped (\\xNN), so it can be stored and shown; read_source refuses that file too."""
    src = Path(source)
    if src.is_file():
        return [(_printable(src.name), src.resolve())]
    if not src.is_dir():
        raise FileNotFoundError(f"source not found: {src}")
    out = []
    for p in _walk(src):
        rel = p.relative_to(src)
        if not any(part.startswith(".") for part in rel.parts):
            out.append((_printable(rel.as_posix()), p))
    return sorted(out, key=lambda np: np[0])


def _walk(root: Path):
    """Every entry under root that is not a directory; symlinked directories are not entered
    (they are returned, as entries, to be refused)."""
    stack = [root]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                else:
                    yield Path(e.path)


def _printable(name: str) -> str:
    """A file name as text that can be stored: undecodable bytes (surrogate escapes) -> \\xNN."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# a source file larger than this is quarantined unread (a report is well under 1 MB; a JSON Lines
# file of every provincial report of a decade is ~30 MB); GWR_MAX_SOURCE_BYTES changes it
MAX_SOURCE_BYTES = int(os.environ.get("GWR_MAX_SOURCE_BYTES") or 32 * 1024 * 1024)


def read_source(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of one source file. Raises SourceError (code too_large, not_a_file, bad_name)
    for a file that must not be read: a symbolic link (it may point anywhere), a FIFO / socket /
    device, a file over MAX_SOURCE_BYTES (its sha256 is then computed by streaming, and given in
    the error's .sha256), a name that is not valid UTF-8. Other OSErrors pass through."""
    path = Path(path)
    limit = MAX_SOURCE_BYTES if max_bytes is None else max_bytes
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        raise SourceError(
            f"{path.name} is a symbolic link (to {target}); links are not followed, so that nothing "
            "outside the source folder is read: copy the file itself into the source folder.",
            "not_a_file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if
                stat.S_ISSOCK(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or
                stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise SourceError(f"{path.name} is {kind}, not a regular file; it is not read. Put the "
                          "report in a regular file.", "not_a_file")
    if _printable(path.name) != path.name:
        raise SourceError(
            f"the file name {_printable(path.name)!r} is not valid UTF-8 (written by a system with "
            "another file name encoding); rename the file (e.g. convmv -f gbk -t utf8) and run again.",
            "bad_name")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):  # replaced between lstat and open
            raise SourceError(f"{path.name} is not a regular file; it is not read.", "not_a_file")
        if st.st_size > limit:
            err = SourceError(
                f"{path.name} is {st.st_size:,} bytes, over the {limit:,}-byte limit for one source "
                "file (GWR_MAX_SOURCE_BYTES), so it was not read: a government work report is a few "
                "hundred KB. Split it (one report per file, or JSON Lines files under the limit), or "
                "raise GWR_MAX_SOURCE_BYTES if the machine has the memory for it.", "too_large")
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            err.sha256 = h.hexdigest()
            raise err
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise SourceError(f"{path.name} grew over the {limit:,}-byte limit while being read; it was "
                          "not used.", "too_large")
    return data


def is_url(root) -> bool:
    """True for an fsspec URL such as s3://bucket/prefix (a lake on object storage)."""
    return isinstance(root, str) and "://" in root and not root.startswith("file://")


class Lake:
    def __new__(cls, root: str | os.PathLike = "lake"):
        # Lake("s3://bucket/prefix") (any fsspec URL) is an ObjectStoreLake, defined below
        if cls is Lake and is_url(root):
            cls = ObjectStoreLake
        return super().__new__(cls)

    def __init__(self, root: str | os.PathLike = "lake"):
        self.root = Path(root)

    def location(self) -> str:
        """The lake's absolute path (or URL), for logs and manifests."""
        return str(self.root.resolve())

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

    def _write_file_atomic(self, path: Path, write, point: str = "write",
                           exclusive: bool = False) -> Path | None:
        """write(tmp_path) into the staging area, fsync, then rename into place: the file is
        whole or absent, even after a crash. `point` names the crash points around the rename.
        exclusive: never replace an existing file (a hard link, which fails when the name is
        taken: two writers of one bronze file, one wins); None when it existed."""
        tmp = self._tmp_path(path.suffix)
        try:
            write(tmp)
            _fsync(tmp)
            crashpoint(f"{point}:tmp-written")
            path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return None
                except OSError:  # no hard links here: check, then rename (a narrow race)
                    if path.exists():
                        return None
                    os.replace(tmp, path)
            else:
                os.replace(tmp, path)
            _fsync(path.parent)
            crashpoint(f"{point}:written")
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
                crashpoint("lock:acquired")
                self.recover()  # a run that died half-way: finish or undo it first
                yield self
            finally:
                try:
                    self._clean_staging()
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
        return self._write_file_atomic(path, lambda tmp: pq.write_table(table, tmp, **parquet_options(table)), "bronze",
                                       exclusive=True) is not None

    def bronze_summary(self, sha256: str) -> dict:
        """{items, encoding} of a landed source file, without reading its text."""
        t = pq.read_table(self._bronze_path(sha256), columns=["encoding"],
                          filesystem=getattr(self, "pafs", None))
        return {"items": t.num_rows, "encoding": t["encoding"][0].as_py() if t.num_rows else ""}

    def read_bronze(self, sha256: str, nulls_only: frozenset[str] | set[str] = frozenset()) -> pa.Table:
        """The items of one landed source file. nulls_only: string columns of which the caller
        needs only the nulls (a validation): one that Parquet's statistics say holds none is not
        read, and comes back as "" in every row."""
        return self.read_bronzes([sha256], nulls_only)

    def bronze_bytes(self, sha256: str) -> int:
        """The size on disk of a landed source file's items (compressed Parquet)."""
        return self._bronze_path(sha256).stat().st_size

    def read_bronzes(self, shas: list[str], nulls_only: frozenset[str] | set[str] = frozenset(),
                     ) -> pa.Table:
        """The items of several landed source files in one read (Arrow reads the files side by
        side): each file's items in its order, the files in no set order; their sha256 column
        says whose they are. nulls_only: as read_bronze (a column is spared only if no file holds
        a null in it)."""
        schema = TABLES["source_items"][1]
        paths = [str(self._bronze_path(s)) for s in shas]
        if not paths:
            return schema.empty_table()
        filesystem = getattr(self, "pafs", None)
        dataset = ds.dataset(paths, format="parquet", schema=schema, filesystem=filesystem)
        return _read_sparing(paths, schema, nulls_only,
                             lambda cols: dataset.to_table(columns=cols or schema.names),
                             filesystem=filesystem)

    # ---- whole tables: read, stage, publish -------------------------------------------------
    def read_table(self, table: str, where: tuple[str, list] | None = None,
                   columns: list[str] | None = None) -> pa.Table:
        """The live table with its full schema (an empty table when there is none yet); only the
        rows whose where[0] is in where[1] when given. columns: only those, in no set order."""
        _, schema, part = TABLES[table]
        d = self.table_dir(table)
        files = sorted(d.rglob("*.parquet")) if d.is_dir() else []
        if not files:
            return schema.empty_table().select(columns or schema.names)
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
            if columns:
                return dataset.to_table(columns=columns, filter=_isin(where, schema))
            # in the key's order: the same rows read the same, however they are split in files
            return sort_rows(table, dataset.to_table(filter=_isin(where, schema)).select(schema.names)
                             .cast(schema))
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
                data, out, format="parquet", file_options=_dataset_options(data),
                partitioning=ds.partitioning(pa.schema([schema.field(part)]), flavor="hive"),
                basename_template=f"part-{version}-{{i}}.parquet", existing_data_behavior="error",
            )
        else:  # an empty table keeps one (empty) file: readable, with its schema
            pq.write_table(data, out / f"part-{version}-0.parquet", **parquet_options(data))
        meta = self._staging(run_id) / SEGMENTS / table
        shutil.rmtree(meta, ignore_errors=True)
        _write_json(meta / f"{version}.json",
                    _verified(out, table, _segment_info(table, data, version, out)))
        (meta / WHOLE).touch()   # the table is replaced whole, no live segment is kept
        crashpoint(f"stage:{table}:written")
        return out

    def stage_segment(self, run_id: str, table: str, data: pa.Table) -> dict | None:
        """Rows of some sources (a chunk of a run) as one new SEGMENT of `table`: files named by
        the digest of these rows, written into the run's staging area (several tasks may stage
        segments of one run at once). At publish, the live segments of the other sources are
        kept as they are (hard links): a run rewrites only what it read. None for no rows."""
        layer, schema, part = TABLES[table]
        data = sort_rows(table, data.select(schema.names).cast(schema)).combine_chunks()
        if not data.num_rows:
            return None
        version = _digest(data)
        out = self._staging(run_id) / layer / table
        files = _write_parts(data, out, version, part)
        info = _verified(out, table, {"version": version, "rows": data.num_rows, "files": files,
                                      "sources": sorted(set(data["source_name"].to_pylist()))})
        _write_json(self._staging(run_id) / SEGMENTS / table / f"{version}.json", info)
        crashpoint(f"stage:{table}:written")
        return info

    def read_staged(self, run_id: str, table: str, columns: list[str] | None = None,
                    where: tuple[str, list] | None = None) -> pa.Table:
        """Rows the run staged for `table` (only `columns`; only rows whose where[0] is in
        where[1])."""
        layer, schema, _ = TABLES[table]
        d = self._staging(run_id) / layer / table
        files = sorted(d.rglob("*.parquet")) if d.is_dir() else []
        if not files:
            return schema.empty_table().select(columns or schema.names)
        return _read_dir(d, table, files, columns, where)

    def iter_staged(self, run_id: str, table: str, max_rows: int, max_bytes: int | None = None,
                    nulls_only: frozenset[str] | set[str] = frozenset()):
        """The segments a run staged for `table`, read a few at a time: tables of about max_rows
        rows or max_bytes in memory (at least one table, empty when there is none). nulls_only:
        as read_bronze."""
        layer, schema, _ = TABLES[table]
        meta = self._staging(run_id) / SEGMENTS / table
        infos = ([json.loads(p.read_text(encoding="utf-8")) for p in sorted(meta.glob("*.json"))]
                 if meta.is_dir() else [])
        d = self._staging(run_id) / layer / table
        group: list[dict] = []
        size = 0
        for i, info in enumerate(infos):
            group.append(info)
            # Parquet on disk is compressed: about 4x that in memory
            size += 4 * sum((d / f).stat().st_size for f in info["files"])
            if sum(g["rows"] for g in group) >= max_rows or i == len(infos) - 1 \
                    or (max_bytes and size >= max_bytes):
                yield _read_dir(d, table, [d / f for g in group for f in g["files"]],
                                nulls_only=nulls_only)
                group, size = [], 0
        if not infos:
            yield schema.empty_table()

    def has_table(self, table: str) -> bool:
        d = self.table_dir(table)
        return d.is_dir() and any(d.rglob("*.parquet"))

    def table_version(self, table: str) -> str:
        """The live table's version (a digest of its segments' digests)."""
        return _segments_version(self._live_segments(table)) if self.has_table(table) else ""

    def layer_meta(self, table: str) -> dict:
        """What the publishes of the table's layer noted (Lake.publish(meta=...))."""
        return (_marker_json(self.root / TABLES[table][0], self.VERSION_FILE) or {}).get("meta") or {}

    def source_index(self) -> dict:
        """{source_name: {sha256, code_version, size, mtime_ns}} of every source whose rows are
        live, as the last publish recorded it (empty for a new lake)."""
        return (_marker_json(self.root / "silver", self.VERSION_FILE) or {}).get("sources") or {}

    # ---- publishing: staged layers, a journal, one atomic exchange per layer ------------------
    #
    #   1. stage()    each changed table is written whole into _staging/<run_id>/<layer>/<table>
    #   2. publish()  refuses a run whose validation report says it failed; audits the staged
    #                 files (read back: schema, row digest = the digest in the file names, unique
    #                 keys); completes each staged layer with the live tables it does not replace
    #                 (hard links: unchanged files are not rewritten) and a _version.json marker;
    #                 fsyncs; then writes the JOURNAL (_journal.json, atomic) = the commit point
    #   3. apply      exchanges each staged layer folder with the live one (silver, then gold: one
    #                 renameat2(RENAME_EXCHANGE) each, so gold's tables always change together),
    #                 moves the replaced layer to _trash, writes the POINTER (_current.json: run,
    #                 validation, inputs, every live table's version, rows and files), removes the
    #                 journal, removes the staging folder.
    #   recover()     (at every lock(), i.e. before a run does anything) a journal left by a run
    #                 that died is applied again (roll forward: every step is idempotent, the
    #                 _version.json markers tell which exchanges happened); without a journal the
    #                 run's staging is deleted (roll back: nothing of it was visible).
    JOURNAL = "_journal.json"
    POINTER = "_current.json"
    VERSION_FILE = "_version.json"

    def publish(self, run_id: str, sources: dict | None = None,
                touched: dict | None = None, meta: dict | None = None,
                versions_of: dict | None = None) -> list[str]:
        """Make every table staged by the run live at once (per layer: silver, gold); returns
        the tables whose rows changed. `sources` ({source_name: its index entry}) are the
        sources the run read: their rows in every live table are REPLACED by what the run staged
        (segments holding only them are dropped, segments holding them and others are rewritten
        without them, every other segment is kept as it is); the lake's source index records
        them; `touched` only updates the index (a file whose stat changed, bytes not). `meta` is
        noted in the markers of the layers published (Lake.layer_meta), and so is, for each
        key: table of `versions_of`, that table's version as this publish leaves it (the panel a
        set of BI tables published with it was built from). Raises
        LakeAuditError, publishing nothing, when the run's validation report says it
        failed or a staged file does not read back as written. Replaced versions wait in _trash
        for TRASH_GRACE_S (a reader may still be listing them), then go at a later publish."""
        staging = self._staging(run_id)
        replace = set(sources or ())
        markers = {layer: _marker_json(self.root / layer, self.VERSION_FILE) or {}
                   for layer in LAYER_ORDER}
        plans: dict[str, dict] = {}
        changed: list[str] = []
        try:
            for t, (layer, _, _) in TABLES.items():
                if layer not in LAYER_ORDER:
                    continue
                meta_dir = staging / SEGMENTS / t
                new = {p.stem: json.loads(p.read_text(encoding="utf-8"))
                       for p in sorted(meta_dir.glob("*.json"))} if meta_dir.is_dir() else {}
                whole = (meta_dir / WHOLE).exists()
                if not new and not whole and not (replace and t in SEGMENTED) \
                        and not (touched and t == "reports"):
                    continue
                live = {} if whole else self._live_segments(t, markers[layer])
                final = _merge_segments(live, new, replace, lambda info: self.stage_segment(
                    run_id, t, _without(_read_dir(self.table_dir(t), t, [
                        self.table_dir(t) / f for f in info["files"]]), replace)))
                if not final:   # no row left: one empty file keeps the table readable
                    self.stage(run_id, t, TABLES[t][1].empty_table())
                    final = {p.stem: json.loads(p.read_text(encoding="utf-8"))
                             for p in sorted(meta_dir.glob("*.json"))}
                if set(final) != set(live) or whole:
                    changed.append(t)
                elif not (t == "reports" and (replace or touched)):   # silver carries the index
                    shutil.rmtree(staging / layer / t, ignore_errors=True)
                    continue
                d = staging / layer / t
                d.mkdir(parents=True, exist_ok=True)
                for v, info in final.items():   # the kept segments: the same files, linked
                    if v not in new:
                        for f in info["files"]:
                            _link_file(self.table_dir(t) / f, d / f)
                plans[t] = final
            tables = list(plans)
            if not tables:
                self.discard(run_id)
                return []
            self._empty_trash()
            validation = self._validation_of(run_id, tables)
            audit = self._audit(run_id, plans, staged_now={t for t in plans})
        except LakeAuditError:
            self.discard(run_id)
            raise
        crashpoint("publish:audited")
        meta = {**(meta or {}), **{key: _segments_version(plans[t]) if t in plans
                                   else self.table_version(t)
                                   for key, t in (versions_of or {}).items()}}
        # a run may publish more than once (the BI tables after the panel): each publish has its id
        publish_id = f"{int(time.time())}-{run_id}-{uuid.uuid4().hex[:6]}"
        layers = [layer for layer in LAYER_ORDER if any(TABLES[t][0] == layer for t in tables)]
        for layer in layers:
            _link_tree(self.root / layer, staging / layer,
                       skip={self.VERSION_FILE} | {t for t in tables if TABLES[t][0] == layer})
            mine = [t for t in tables if TABLES[t][0] == layer]
            segments = dict(markers[layer].get("segments") or {})
            segments.update({t: plans[t] for t in mine})
            marker = {"publish_id": publish_id, "run_id": run_id,
                      "tables": {t: audit[t]["version"] for t in mine}, "segments": segments,
                      "meta": {**(markers[layer].get("meta") or {}), **(meta or {})}}
            if layer == "silver":
                index = dict(markers["silver"].get("sources") or {})
                index.update(touched or {})
                index.update(sources or {})
                marker["sources"] = index
            _write_json(staging / layer / self.VERSION_FILE, marker)
        _fsync_tree(staging)
        journal = {"publish_id": publish_id, "run_id": run_id, "layers": layers, "tables": tables,
                   "changed": changed, "validation": validation,
                   "audit": {t: {k: v for k, v in a.items() if k != "segments"} for t, a in audit.items()},
                   "committed_at": _utcnow()}
        self._write_file_atomic(self.root / self.JOURNAL, lambda tmp: _write_json(tmp, journal),
                                "journal")
        self._apply(journal)
        return changed

    def _live_segments(self, table: str, marker: dict | None = None) -> dict:
        """{version: {rows, sources, files}} of the live table: from its layer's _version.json,
        or (a table published before segments existed) read from its files."""
        if marker is None:
            marker = _marker_json(self.root / TABLES[table][0], self.VERSION_FILE) or {}
        segs = (marker.get("segments") or {}).get(table)
        if segs is not None:
            return segs
        d = self.table_dir(table)
        files = sorted(d.rglob("*.parquet")) if d.is_dir() else []
        out: dict = {}
        for f in files:
            out.setdefault(_version_of(f), []).append(f)
        return {v: _segment_info(table, _read_dir(d, table, fs), v, d) for v, fs in out.items()}

    def _apply(self, journal: dict) -> None:
        """Steps 3 of a committed publish; idempotent, so recovery can run it again."""
        run_id, publish_id = journal["run_id"], journal["publish_id"]
        staging = self._staging(run_id)
        trash = self.root / "_trash" / publish_id
        for layer in journal["layers"]:
            staged, live, old = staging / layer, self.root / layer, trash / layer
            if staged.is_dir():
                if _marker(live, self.VERSION_FILE) == publish_id:
                    # exchanged before the crash: the staged folder holds the replaced version
                    old.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(staged, old)
                else:
                    _swap_layer(staged, live, old, f"publish:{layer}")
            elif _marker(live, self.VERSION_FILE) != publish_id:
                raise LakeRecoveryError(
                    f"cannot finish the publish of run {run_id}: its staged {layer} layer "
                    f"({staged}) is gone and {live} is not its version; the other layers are. "
                    "Run the flow again over all sources to rebuild the tables.")
            _fsync(self.root)
            crashpoint(f"publish:{layer}:done")
        pointer = {"run_id": run_id, "publish_id": publish_id,
                   "published_at": journal.get("committed_at"), "tables_published": journal["tables"],
                   "validation": journal.get("validation"),
                   "inputs": self._live_inputs(), "tables": self._live_tables()}
        self._write_file_atomic(self.root / self.POINTER, lambda tmp: _write_json(tmp, pointer),
                                "pointer")
        (self.root / self.JOURNAL).unlink(missing_ok=True)
        _fsync(self.root)
        crashpoint("publish:journal-removed")
        shutil.rmtree(staging, ignore_errors=True)

    def discard(self, run_id: str) -> None:
        """Delete what the run staged; kept when the run's publish is committed (its journal is
        there): recovery needs it to finish that publish."""
        journal = self._journal()
        if journal and journal.get("run_id") == run_id:
            return
        shutil.rmtree(self._staging(run_id), ignore_errors=True)

    def current(self) -> dict | None:
        """The pointer of the last publish (_current.json): its run, validation, inputs and the
        version, rows and files of every live table; None before the first publish."""
        path = self.root / self.POINTER
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def _journal(self) -> dict | None:
        path = self.root / self.JOURNAL
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def recover(self) -> dict:
        """Bring the lake back to a consistent state after a run that stopped half-way (killed,
        power cut, disk full): roll a committed publish forward, delete every other staged file
        (roll back), record the runs that died in manifests/<run_id>.json (status crashed, or
        published when only their manifest was missing), empty the trash. Runs under the lock
        (lock() calls it); returns what it did (also logged)."""
        done: dict = {"rolled_forward": None, "rolled_back": [], "manifests": []}
        journal = self._journal()
        if journal:
            crashpoint("recover:before-roll-forward")
            self._apply(journal)
            done["rolled_forward"] = journal["run_id"]
            self._record_run(journal["run_id"], "published", done, overwrite=True, note=(
                "the run stopped after its publish was committed; the next run's recovery "
                "finished the publish (roll forward)"), validation=journal.get("validation"),
                published={t: a["rows"] for t, a in journal.get("audit", {}).items()})
        staging = self.root / "_staging"
        for d in sorted(staging.iterdir()) if staging.is_dir() else []:
            if d.name != "tmp":
                done["rolled_back"].append(d.name)
        self._clean_staging()
        self._record_orphans(done)
        self._empty_trash()
        if done["rolled_forward"] or done["rolled_back"] or done["manifests"]:
            log.warning("recovered %s: %s", self.root, json.dumps(done))
        return done

    def _clean_staging(self) -> None:
        """Delete the staging area, except a committed publish's (recovery finishes it)."""
        staging = self.root / "_staging"
        journal = self._journal()
        keep = journal.get("run_id") if journal else None
        for d in list(staging.iterdir()) if staging.is_dir() else []:
            if d.name != keep:
                if d.is_dir() and not d.is_symlink():
                    shutil.rmtree(d, ignore_errors=True)
                else:
                    d.unlink(missing_ok=True)

    def _record_orphans(self, done: dict) -> None:
        """manifests/<run_id>.json for runs that left files but no manifest: they died."""
        have = {p.stem for p in (self.root / "manifests").glob("*.json")}
        cur = self.current()
        if cur and cur.get("run_id") and cur["run_id"] not in have:
            self._record_run(cur["run_id"], "published", done, validation=cur.get("validation"),
                             published={t: e["rows"] for t, e in cur.get("tables", {}).items()}, note=(
                "the run stopped after publishing, before writing its manifest"))
            have.add(cur["run_id"])
        names = list(done["rolled_back"])
        names += [p.name for p in (self.root / "validation").glob("*.json")]
        names += [p.name for p in self.table_dir("quarantine").glob("*.parquet")]
        seen = {m.group(0) for m in map(_RUN_ID.match, names) if m}
        for run_id in sorted(seen - have):
            self._record_run(run_id, "crashed", done, note=(
                "the run stopped before publishing (killed, or the machine went down): nothing of "
                "it reached silver or gold; its quarantine records and validation report, if any, "
                "are kept; run the flow again"))

    def _record_run(self, run_id: str, status: str, done: dict, overwrite: bool = False,
                    note: str = "", **extra) -> None:
        path = self.root / "manifests" / f"{run_id}.json"
        manifest = {}
        if path.is_file():
            if not overwrite:
                return
            with contextlib.suppress(ValueError):
                manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest.setdefault("run_id", run_id)
        manifest.update({k: v for k, v in extra.items() if v is not None})
        manifest.update(status=status, recovered_at=_utcnow(), recovery=note)
        self.write_manifest(run_id, manifest)
        done["manifests"].append(f"{run_id}: {status}")

    def _validation_of(self, run_id: str, tables: list[str] | None = None) -> dict | None:
        """The run's validation results (validation/<run_id>.json, <run_id>-<part>.json, as the
        flow wrote them); LakeAuditError when one says it failed of a table this publish carries
        (`tables`; a failed report that names no table counts for all); None when there is none.
        (A run whose BI suites failed publishes its rows without the BI tables.)"""
        names = [n for n in self.text_names("validation", ".json")
                 if n[:-len(".json")] == run_id or n.startswith(run_id + "-")]
        if not names:
            return None
        out = {"success": True, "reports": [], "tables": {}}
        for name in names:
            report = json.loads(self.read_text("validation", name) or "{}")
            if not report.get("success"):
                named = set(report.get("tables") or {})
                if tables is not None and named and not named & set(tables):
                    continue   # about tables this publish does not carry
                raise LakeAuditError(f"run {run_id} did not pass validation (validation/{name}): "
                                     "refusing to publish it")
            out["reports"].append(f"validation/{name}")
            out["tables"].update(report.get("tables") or {})
        n = sum((t or {}).get("expectations", 0) for t in out["tables"].values())
        out["summary"] = f"validation passed: {n} expectations on {len(out['tables'])} tables"
        return out

    def _audit(self, run_id: str, plans: dict, staged_now=None) -> dict:
        """Check every staged table before the commit: its folder holds exactly the files of its
        segments; every segment this run wrote reads back with its schema, its rows' digest equal
        to the digest its files are named by, its row count, unique keys; no source in two
        segments (so no key twice in the table). Kept segments were audited when published.
        -> {table: {version, rows, files, segments}}"""
        out = {}
        for t, segs in plans.items():
            layer, _, _ = TABLES[t]
            d = self._staging(run_id) / layer / t
            where = f"staged table {t} of run {run_id}"
            actual = {f.relative_to(d).as_posix() for f in d.rglob("*.parquet")}
            listed = {f for info in segs.values() for f in info["files"]}
            if actual != listed:
                raise LakeAuditError(f"{where}: its files are not its segments' "
                                     f"(extra {sorted(actual - listed)[:3]}, missing {sorted(listed - actual)[:3]})")
            meta = self._staging(run_id) / SEGMENTS / t
            written = {p.stem for p in meta.glob("*.json")} if meta.is_dir() else set()
            owner: dict[str, str] = {}
            for v, info in segs.items():
                if any(_version_of(Path(f)) != v for f in info["files"]):
                    raise LakeAuditError(f"{where}: segment {v} has files of another version")
            # the segments this run wrote were read back and checked as they were written (by
            # the task that wrote them, _verified): their files must still be those bytes. A
            # segment staged without file digests is read back here. Side by side: reading and
            # hashing run outside the GIL.
            new = [(v, info) for v, info in segs.items() if v in written]
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
                for err in ex.map(lambda vi: _unchanged(d, t, where, *vi), new):
                    if err:
                        raise err
            for v, info in segs.items():
                for src in info["sources"]:
                    if owner.setdefault(src, v) != v:
                        raise LakeAuditError(f"{where}: rows of {src} are in two segments "
                                             f"({owner[src]}, {v})")
            out[t] = {"version": _segments_version(segs), "rows": sum(i["rows"] for i in segs.values()),
                      "files": sorted(actual), "segments": segs}
        return out

    def _live_tables(self) -> dict:
        """{table: {version, rows, files}} of every live silver / gold table."""
        out = {}
        for layer in LAYER_ORDER:
            marker = _marker_json(self.root / layer, self.VERSION_FILE) or {}
            for t, (lay, _, _) in TABLES.items():
                d = self.table_dir(t)
                if lay != layer or not d.is_dir():
                    continue
                segs = (marker.get("segments") or {}).get(t)
                if segs is None:
                    files = sorted(d.rglob("*.parquet"))
                    out[t] = {"version": ",".join(sorted({_version_of(f) for f in files})),
                              "rows": sum(pq.read_metadata(f).num_rows for f in files),
                              "files": [f.relative_to(self.root).as_posix() for f in files]}
                else:
                    rel = d.relative_to(self.root).as_posix()
                    out[t] = {"version": _segments_version(segs),
                              "rows": sum(i["rows"] for i in segs.values()),
                              "files": sorted(f"{rel}/{f}" for i in segs.values() for f in i["files"])}
        return out

    def _live_inputs(self) -> list[dict]:
        """(source_name, sha256) of every source whose rows are live."""
        index = self.source_index()
        if index:
            return [{"source_name": n, "sha256": e.get("sha256")} for n, e in sorted(index.items())]
        d = self.table_dir("reports")
        files = sorted(d.rglob("*.parquet")) if d.is_dir() else []
        if not files:
            return []
        t = pa.concat_tables([pq.read_table(f, columns=["source_name", "sha256"]) for f in files])
        pairs = sorted(set(zip(t["source_name"].to_pylist(), t["sha256"].to_pylist())))
        return [{"source_name": n, "sha256": s} for n, s in pairs]

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
        return self._write_file_atomic(path, lambda tmp: pq.write_table(data, tmp, **parquet_options(data)),
                                       "quarantine")

    def write_text(self, folder: str, name: str, text: str) -> Path:
        """A small report file: folder is one of validation, manifests."""
        assert folder in ("validation", "manifests"), folder
        path = self.root / folder / name
        return self._write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"),
                                       folder.rstrip("s"))

    def write_manifest(self, run_id: str, manifest: dict) -> Path:
        text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        return self.write_text("manifests", f"{run_id}.json", text + "\n")

    def manifests(self) -> list[dict]:
        d = self.root / "manifests"
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(d.glob("*.json"))]

    def read_text(self, folder: str, name: str) -> str | None:
        """A file written by write_text (validation, manifests); None when there is none."""
        path = self.root / folder / name
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def text_names(self, folder: str, suffix: str = ".json") -> list[str]:
        """Names of the files of a folder written by write_text, sorted (run ids sort by time)."""
        d = self.root / folder
        return sorted(p.name for p in d.glob(f"*{suffix}")) if d.is_dir() else []

    # ---- reports: the HTML report and GX Data Docs, rewritten by every run ----------------------
    def report_url(self, name: str = "index.html") -> str:
        """Where a reader opens <root>/reports/<name> (a file:// URL for a local lake)."""
        return (self.root / "reports" / name).resolve().as_uri()

    def write_report(self, name: str, text: str) -> Path:
        """<root>/reports/<name> (the HTML report), replaced atomically."""
        path = self.root / "reports" / name
        return self._write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def report_dir(self, name: str) -> Path | None:
        """The live folder <root>/reports/<name>/ to read from (None when there is none)."""
        d = self.root / "reports" / name
        return d if d.is_dir() else None

    def publish_report_dir(self, run_id: str, src: str | os.PathLike, name: str) -> Path:
        """Replace the folder <root>/reports/<name>/ (GX Data Docs) by a copy of the local
        folder src: staged, then swapped in whole like a table."""
        staged = self._staging(run_id) / "reports" / name
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(src, staged)
        live = self.root / "reports" / name
        try:
            _swap_in(staged, live, self.root / "_trash" / f"{int(time.time())}-{run_id}" / "reports" / name)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return live


SEGMENTS = "_segments"   # <staging>/_segments/<table>/<version>.json: what a run staged
WHOLE = "_whole"         # <staging>/_segments/<table>/_whole: the table is replaced whole
# tables whose rows belong to a source: a run replaces the rows of the sources it read
SEGMENTED = ("reports", "indicator_mentions", "indicator_panel")


# A string column whose values average more than this many bytes (whole texts: a source item's,
# a report's) is PROSE. It is written without dictionary encoding: such values do not repeat, so
# building the dictionary is wasted time (~10-15% of the write). Sentences (a few hundred bytes)
# keep it: the mentions of one sentence share it, and their files are a quarter smaller with it.
# Prose is compressed with ZSTD, every other column with Snappy (Parquet's usual default). On
# Chinese text Snappy gains little and is slow to read back: for the cleaned texts of ~500 reports
# (28 MB) Snappy wrote 16.2 MB in 73-94 ms and read in 41-44 ms, ZSTD (level 1) 9.7 MB in 67-95 ms
# and 22 ms; for the seeds' real texts 1.67 vs 1.26 MB (bench/RESULTS.md). The texts are read back
# by the run itself (process reads bronze, the audit reads what it staged, validation reads both).
# Only bronze and silver have prose; the gold tables BI tools read keep Snappy throughout.
PROSE_BYTES = 2048
PROSE_CODEC = "zstd"
CODEC = "snappy"


def _prose_columns(data: pa.Table) -> set[str]:
    import pyarrow.compute as pc

    out = set()
    for field, col in zip(data.schema, data.columns):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            values = len(col) - col.null_count
            if values and (pc.sum(pc.binary_length(col)).as_py() or 0) / values > PROSE_BYTES:
                out.add(field.name)
    return out


def parquet_options(data: pa.Table) -> dict:
    """Keyword arguments of every Parquet write of the lake (pq.write_table): prose columns
    without a dictionary and compressed with PROSE_CODEC, the others with a dictionary and CODEC."""
    prose = _prose_columns(data)
    return {"use_dictionary": [n for n in data.column_names if n not in prose],
            "compression": {n: PROSE_CODEC if n in prose else CODEC for n in data.column_names}}


def _dataset_options(data: pa.Table):
    """The same, for ds.write_dataset."""
    return ds.ParquetFileFormat().make_write_options(**parquet_options(data))


def _write_parts(data: pa.Table, out: Path, version: str, part: str | None) -> list[str]:
    """One segment's files (hive partitions by `part`), named part-<version>-<i>.parquet."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if part and data.num_rows:
        ds.write_dataset(
            data, out, format="parquet", file_options=_dataset_options(data),
            partitioning=ds.partitioning(pa.schema([data.schema.field(part)]), flavor="hive"),
            basename_template=f"part-{version}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
            file_visitor=lambda f: written.append(Path(f.path).relative_to(out).as_posix()))
    else:
        pq.write_table(data, out / f"part-{version}-0.parquet", **parquet_options(data))
        written.append(f"part-{version}-0.parquet")
    return sorted(written)


def _segment_info(table: str, data: pa.Table, version: str, table_dir: Path) -> dict:
    files = sorted(f.relative_to(table_dir).as_posix()
                   for f in table_dir.rglob(f"part-{version}-*.parquet"))
    sources = sorted(set(data["source_name"].to_pylist())) if "source_name" in data.column_names else []
    return {"version": version, "rows": data.num_rows, "sources": sources, "files": files}


def _merge_segments(live: dict, new: dict, replace: set, rewrite) -> dict:
    """A table's segments after a publish: the live ones holding none of the `replace` sources,
    a live one holding some of them and others rewritten without them (rewrite(info) stages it
    and returns its info, None for no rows), and the run's `new` ones. -> {version: info}"""
    final = {v: i for v, i in live.items() if not replace & set(i["sources"])}
    for v, info in live.items():
        if v not in final and set(info["sources"]) - replace:
            got = rewrite(info)
            if got:
                new[got["version"]] = got
    return {**final, **new}


def _without(data: pa.Table, sources: set) -> pa.Table:
    """The rows of `data` from sources other than `sources`."""
    import pyarrow.compute as pc

    return data.filter(pc.invert(pc.is_in(data["source_name"], value_set=pa.array(sorted(sources)))))


def upsert_by_source(current: pa.Table, new: pa.Table, sources: set[str]) -> pa.Table:
    """Rows of `current` from other sources, plus `new`: a run replaces what it re-read."""
    if current.num_rows and sources:
        current = _without(current, sources)
    return pa.concat_tables([current, new.select(current.schema.names).cast(current.schema)])


def _segments_version(segs: dict) -> str:
    """A table's version: its one segment's digest, or a digest of its segments' digests."""
    if len(segs) == 1:
        return next(iter(segs))
    return hashlib.sha256(",".join(sorted(segs)).encode()).hexdigest()[:16]


def _link_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except FileExistsError:
        pass
    except OSError:
        shutil.copy2(src, dst)


def _marker_json(layer_dir: Path, name: str) -> dict | None:
    try:
        return json.loads((layer_dir / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


def _verified(d: Path, table: str, info: dict) -> dict:
    """A segment just written under d, read back and checked (_audit_segment): its info with the
    sha256 of each of its files, which the publish audit compares (_unchanged). Raises
    LakeAuditError when it does not read back as written."""
    err = _audit_segment(d, table, f"staged segment {info['version']} of {table}",
                         info["version"], info)
    if err:
        raise err
    return dict(info, sha256={f: _file_sha256(d / f) for f in info["files"]})


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _unchanged(d: Path, table: str, where: str, version: str, info: dict) -> Exception | None:
    """A staged segment's files are the bytes _verified checked; or, for a segment staged without
    their digests, the segment read back (_audit_segment). The error found, or None."""
    digests = info.get("sha256")
    if not digests or set(digests) != set(info["files"]):
        return _audit_segment(d, table, where, version, info)
    for f in info["files"]:
        try:
            same = _file_sha256(d / f) == digests[f]
        except OSError as e:
            return LakeAuditError(f"{where}: {f} does not read back: {e}")
        if not same:
            return LakeAuditError(f"{where}: its rows read back differ from what was written "
                                  f"({f} changed after it was staged)")
    return None


def _audit_segment(d: Path, table: str, where: str, version: str, info: dict) -> Exception | None:
    """One staged segment read back: its schema, its rows' digest (the version its files are
    named by), its row count, unique keys. The error found, or None."""
    try:
        data = _read_dir(d, table, [d / f for f in info["files"]])
    except (OSError, ValueError, pa.ArrowException) as e:
        err = LakeAuditError(f"{where} does not read back: {e}")
        err.__cause__ = e
        return err
    data = sort_rows(table, data).combine_chunks()
    got = _digest(data)
    if got != version or data.num_rows != info["rows"]:
        return LakeAuditError(f"{where}: its rows read back differ from what was written "
                              f"(digest {got} != {version})")
    dupes = _duplicate_keys(table, data)
    if dupes:
        return LakeAuditError(f"{where}: {dupes} key(s) {KEYS[table]} occur more than once")
    return None


def _isin(where: tuple[str, list] | None, schema: pa.Schema):
    """A dataset filter: where[0] is in where[1] (None: every row)."""
    if not where:
        return None
    return ds.field(where[0]).isin(pa.array(list(where[1]), schema.field(where[0]).type))


def sort_rows(table: str, data: pa.Table) -> pa.Table:
    """A fixed row order (by the table's key), so the same rows always make the same files."""
    keys = KEYS.get(table)
    if not keys or data.num_rows == 0:
        return data
    return data.sort_by([(k, "ascending") for k in keys])


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


# ---- helpers of the publish protocol -------------------------------------------------------
def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat()


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk: a renamed file must not come back empty
    after a power cut. Best effort where the OS cannot fsync a folder."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush a staged tree: its folders' entries, and the files written into it. A file with
    more than one link is a hard link to a live file (_link_file, _link_tree: a kept segment, an
    unchanged table), whose bytes were flushed when they were first published; flushing them
    again cost a 2,000-report lake ~0.2 s per publish (~600 files)."""
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = Path(dirpath) / f
            try:
                if os.stat(path, follow_symlinks=False).st_nlink > 1:
                    continue
            except OSError:
                pass
            _fsync(path)
        _fsync(Path(dirpath))


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True, default=str) + "\n",
                    encoding="utf-8")


def _marker(layer_dir: Path, name: str) -> str | None:
    """The publish that made a layer folder (its _version.json), or None."""
    try:
        return json.loads((layer_dir / name).read_text(encoding="utf-8")).get("publish_id")
    except (OSError, ValueError, AttributeError):
        return None


def _link_tree(src: Path, dst: Path, skip: set[str] = frozenset()) -> None:
    """Complete dst with every entry of src not in `skip` (top level) and not already in dst:
    files as hard links (the same bytes, not rewritten; a copy where links are impossible)."""
    if not src.is_dir():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(src):
        if entry.name in skip or (dst / entry.name).exists():
            continue
        target = dst / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            _link_tree(Path(entry.path), target)
        else:
            try:
                os.link(entry.path, target)
            except OSError:
                shutil.copy2(entry.path, target)


def _swap_layer(staged: Path, live: Path, old: Path, point: str) -> None:
    """Put the folder `staged` at `live` in one atomic exchange; the previous `live` ends at `old`.
    Without an exchange (not Linux): two renames, the layer absent for an instant (never mixed)."""
    live.parent.mkdir(parents=True, exist_ok=True)
    if not live.exists():
        os.rename(staged, live)
        crashpoint(f"{point}:exchanged")
        return
    old.parent.mkdir(parents=True, exist_ok=True)
    if _exchange(staged, live):
        crashpoint(f"{point}:exchanged")
        os.rename(staged, old)  # staged now holds the previous layer
    else:
        os.rename(live, old)
        crashpoint(f"{point}:half-swapped")
        os.rename(staged, live)


def _footer(path, filesystem=None):
    return pq.ParquetFile(path, filesystem=filesystem).metadata if filesystem else pq.read_metadata(path)


def _no_nulls(path, column: str, filesystem=None, md=None) -> bool:
    """Whether Parquet's statistics say a file's column holds no null (False when a row group has
    no null count). md: the file's footer, when the caller has read it."""
    md = md if md is not None else _footer(path, filesystem)
    idx = [j for j in range(md.num_columns) if md.schema.column(j).path == column]
    if len(idx) != 1:
        return False
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(idx[0]).statistics
        if st is None or not st.has_null_count or st.null_count:
            return False
    return True


def _read_sparing(files: list, schema: pa.Schema, nulls_only, read, filesystem=None) -> pa.Table:
    """read(columns) of `files` as a table of `schema`, without the string columns of nulls_only
    that hold no null in any file (per Parquet's statistics): those come back as "" in every row
    (the caller needs only their nulls). A column with a null somewhere is read."""
    wanted = [n for n in nulls_only if n in schema.names and pa.types.is_string(schema.field(n).type)]
    footers = [_footer(f, filesystem) for f in files] if wanted else []   # each read once
    spared = [n for n in wanted
              if files and all(_no_nulls(f, n, filesystem, md) for f, md in zip(files, footers))]
    if not spared:
        return read(None).select(schema.names).cast(schema)
    data = read([n for n in schema.names if n not in spared])
    for n in spared:
        data = data.append_column(n, pa.array([""] * data.num_rows, pa.string()))
    return data.select(schema.names).cast(schema)


def _read_dir(d: Path, table: str, files: list[Path], columns: list[str] | None = None,
              where: tuple[str, list] | None = None,
              nulls_only: frozenset[str] | set[str] = frozenset()) -> pa.Table:
    """The files of one table folder as a table of its schema (or its `columns`, with the rows
    whose where[0] is in where[1]; nulls_only: see _read_sparing)."""
    _, schema, part = TABLES[table]
    partitioning = ds.partitioning(pa.schema([schema.field(part)]), flavor="hive") if part else None
    written = pq.read_schema(files[0])
    missing = [n for n in schema.names if n != part and n not in written.names]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    dataset = ds.dataset([str(f) for f in files], format="parquet", partitioning=partitioning,
                         partition_base_dir=str(d), schema=schema)
    if columns or where:
        return dataset.to_table(columns=columns or schema.names, filter=_isin(where, schema))
    if nulls_only:
        return _read_sparing(files, schema, nulls_only,
                             lambda cols: dataset.to_table(columns=cols or schema.names))
    return dataset.to_table().select(schema.names).cast(schema)


def _duplicate_keys(table: str, data: pa.Table) -> int:
    """How many keys of the table occur more than once (rows with a null key part aside)."""
    import pyarrow.compute as pc

    keys = list(KEYS.get(table, ()))
    if not keys or data.num_rows < 2:
        return 0
    sub = data.select(keys)
    for k in keys:
        sub = sub.filter(pc.is_valid(sub[k]))
    counts = sub.group_by(keys).aggregate([([], "count_all")])
    return int(pc.sum(pc.greater(counts["count_all"], 1)).as_py() or 0)


# ---- a lake on object storage ----------------------------------------------------------------
class ObjectStoreLake(Lake):
    """The same lake on an fsspec filesystem (s3://bucket/prefix, memory://..., gs://...).

    Object stores have no rename, so a table is never swapped in by moving folders. Table files
    are written once, under content-named keys (part-<digest>-<i>.parquet, the same layout as a
    local lake), and the live version of EVERY table is named by one pointer object,
    <root>/_current.json ({table: {version, files}}). Publishing writes the new versions' files
    first and then replaces the pointer with a single PUT, which S3 makes visible whole: a reader
    that follows the pointer (read_table, table_files) sees all tables of one publish or all of the
    previous one. Files of replaced versions stay for TRASH_GRACE_S (readers still holding the old
    pointer), then a later publish deletes them. A glob over a table folder may therefore see
    several versions for a while: read through the pointer. The lock is an object created with a
    conditional PUT (If-None-Match: *) that expires after LOCK_LEASE_S when its holder died."""

    POINTER = "_current.json"
    LOCK_LEASE_S = 3600

    def __init__(self, root: str = "lake"):
        import fsspec
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        self.url = root.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.url)
        self.base = self.base.rstrip("/")
        self.pafs = PyFileSystem(FSSpecHandler(self.fs))
        self.root = self.url

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    def location(self) -> str:
        return self.url

    def _key(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def table_dir(self, table: str) -> str:
        layer = TABLES[table][0]
        return self.url + "/" + (layer if table == "quarantine" else f"{layer}/{table}")

    def _table_key(self, table: str) -> str:
        layer = TABLES[table][0]
        return self._key(layer) if table == "quarantine" else self._key(layer, table)

    def _put(self, key: str, data: bytes) -> str:
        with self.fs.open(key, "wb") as fh:  # one PUT: the object appears whole or not at all
            fh.write(data)
        return key

    # ---- the lock: a lease object created only when absent ---------------------------------
    @contextlib.contextmanager
    def lock(self):
        key = self._key(".lock")
        token = uuid.uuid4().hex
        body = json.dumps({"token": token, "host": os.uname().nodename, "pid": os.getpid(),
                           "expires": time.time() + self.LOCK_LEASE_S}).encode()
        if not self._create_exclusive(key, body):
            try:
                held = json.loads(self.fs.cat_file(key))
            except (FileNotFoundError, ValueError):
                held = {"expires": 0}
            if held.get("expires", 0) > time.time() or not self._steal(key, body):
                raise LakeBusy(f"another run is writing to {self.url} (lock {self.url}/.lock, "
                               f"held by {held.get('host')} pid {held.get('pid')})")
        try:
            yield self
        finally:
            with contextlib.suppress(FileNotFoundError):
                if json.loads(self.fs.cat_file(key)).get("token") == token:
                    self.fs.rm_file(key)

    def _create_exclusive(self, key: str, body: bytes) -> bool:
        bucket, _, path = key.partition("/")
        if type(self.fs).__name__ == "S3FileSystem":
            try:
                self.fs.call_s3("put_object", Bucket=bucket, Key=path, Body=body, IfNoneMatch="*")
                return True
            except FileExistsError:  # s3fs's name for 412 Precondition Failed
                return False
            except Exception as e:  # noqa: BLE001 - botocore's PreconditionFailed, however wrapped
                if "PreconditionFailed" in repr(e) or "412" in str(e) or "Precondition" in str(e):
                    return False
                raise
        if self.fs.exists(key):  # no conditional write here: best effort
            return False
        self._put(key, body)
        return True

    def _steal(self, key: str, body: bytes) -> bool:
        """Take over an expired lease (its holder died)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(key)
        return self._create_exclusive(key, body)

    # ---- bronze ------------------------------------------------------------------------------
    def _bronze_path(self, sha256: str) -> str:
        return self._key("bronze", "source_items", f"{sha256}.parquet")

    def has_bronze(self, sha256: str) -> bool:
        return self.fs.exists(self._bronze_path(sha256))

    def write_bronze(self, sha256: str, table: pa.Table) -> bool:
        key = self._bronze_path(sha256)
        if self.fs.exists(key):
            return False
        table = table.cast(TABLES["source_items"][1])
        pq.write_table(table, key, filesystem=self.pafs, **parquet_options(table))
        return True

    def bronze_bytes(self, sha256: str) -> int:
        return int(self.fs.size(self._bronze_path(sha256)))

    # ---- whole tables through the pointer -----------------------------------------------------
    def _pointer(self) -> dict:
        try:
            return json.loads(self.fs.cat_file(self._key(self.POINTER)))
        except FileNotFoundError:
            return {"tables": {}, "retired": []}

    def has_table(self, table: str) -> bool:
        return bool(self._pointer()["tables"].get(table))

    def table_version(self, table: str) -> str:
        entry = self._pointer()["tables"].get(table)
        return entry["version"] if entry else ""

    def layer_meta(self, table: str) -> dict:
        return self._pointer().get("meta") or {}

    def current(self) -> dict | None:
        pointer = self._pointer()
        return pointer if pointer.get("tables") else None

    def source_index(self) -> dict:
        return self._pointer().get("sources") or {}

    def table_files(self, table: str) -> list[str]:
        """The live files of a table (URLs), as named by the pointer."""
        entry = self._pointer()["tables"].get(table)
        return [f"{self.url}/{f}" for f in entry["files"]] if entry else []

    def read_table(self, table: str, where: tuple[str, list] | None = None,
                   columns: list[str] | None = None) -> pa.Table:
        _, schema, part = TABLES[table]
        entry = self._pointer()["tables"].get(table)
        if not entry or not entry["files"]:
            return schema.empty_table().select(columns or schema.names)
        partitioning = (ds.partitioning(pa.schema([schema.field(part)]), flavor="hive")
                        if part else None)
        files = [self._key(f) for f in entry["files"]]
        dataset = ds.dataset(files, format="parquet", filesystem=self.pafs, schema=schema,
                             partitioning=partitioning, partition_base_dir=self._table_key(table))
        if columns:
            return dataset.to_table(columns=columns, filter=_isin(where, schema))
        return sort_rows(table, dataset.to_table(filter=_isin(where, schema)).select(schema.names)
                         .cast(schema))

    def _meta_key(self, run_id: str, *parts: str) -> str:
        return self._key("_staging", run_id, SEGMENTS, *parts)

    def _write_segment(self, run_id: str, table: str, data: pa.Table, whole: bool) -> dict:
        layer, schema, part = TABLES[table]
        version = _digest(data)
        out = self._table_key(table)
        written: list[str] = []
        if part and data.num_rows:
            ds.write_dataset(
                data, out, format="parquet", filesystem=self.pafs, file_options=_dataset_options(data),
                partitioning=ds.partitioning(pa.schema([schema.field(part)]), flavor="hive"),
                basename_template=f"part-{version}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore", file_visitor=lambda f: written.append(f.path))
        else:
            key = f"{out}/part-{version}-0.parquet"
            pq.write_table(data, key, filesystem=self.pafs, **parquet_options(data))
            written.append(key)
        info = {"version": version, "rows": data.num_rows, "files": sorted(w[len(self.base) + 1:] for w in written),
                "sources": sorted(set(data["source_name"].to_pylist())) if "source_name" in data.column_names else []}
        if whole:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self._meta_key(run_id, table), recursive=True)
            self._put(self._meta_key(run_id, table, WHOLE), b"")
        self._put(self._meta_key(run_id, table, f"{version}.json"), json.dumps(info).encode())
        return info

    def stage(self, run_id: str, table: str, data: pa.Table) -> str | None:
        """Write the table's files under their final, content-named keys (invisible to readers
        of the pointer until publish). None when the live version already holds these rows."""
        layer, schema, part = TABLES[table]
        data = sort_rows(table, data.select(schema.names).cast(schema)).combine_chunks()
        if self._pointer()["tables"].get(table, {}).get("version") == _digest(data):
            return None
        self._write_segment(run_id, table, data, whole=True)
        return self._table_key(table)

    def stage_segment(self, run_id: str, table: str, data: pa.Table) -> dict | None:
        layer, schema, part = TABLES[table]
        data = sort_rows(table, data.select(schema.names).cast(schema)).combine_chunks()
        if not data.num_rows:
            return None
        return self._write_segment(run_id, table, data, whole=False)

    def _staged_meta(self, run_id: str, table: str) -> tuple[dict, bool]:
        keys = self.fs.glob(self._meta_key(run_id, table, "*"))
        infos = {k.rsplit("/", 1)[-1][:-5]: json.loads(self.fs.cat_file(k)) for k in sorted(keys)
                 if k.endswith(".json")}
        return infos, any(k.endswith("/" + WHOLE) for k in keys)

    def _read_files(self, table: str, files: list[str], columns=None, where=None,
                    nulls_only: frozenset[str] | set[str] = frozenset()) -> pa.Table:
        _, schema, part = TABLES[table]
        if not files:
            return schema.empty_table().select(columns or schema.names)
        partitioning = (ds.partitioning(pa.schema([schema.field(part)]), flavor="hive")
                        if part else None)
        dataset = ds.dataset([self._key(f) for f in files], format="parquet", filesystem=self.pafs,
                             schema=schema, partitioning=partitioning,
                             partition_base_dir=self._table_key(table))
        if columns or where:
            return dataset.to_table(columns=columns or schema.names, filter=_isin(where, schema))
        if nulls_only:
            return _read_sparing([self._key(f) for f in files], schema, nulls_only,
                                 lambda cols: dataset.to_table(columns=cols or schema.names),
                                 filesystem=self.pafs)
        return dataset.to_table().select(schema.names).cast(schema)

    def read_staged(self, run_id: str, table: str, columns=None, where=None) -> pa.Table:
        infos, _ = self._staged_meta(run_id, table)
        return self._read_files(table, [f for i in infos.values() for f in i["files"]], columns, where)

    def iter_staged(self, run_id: str, table: str, max_rows: int, max_bytes: int | None = None,
                    nulls_only: frozenset[str] | set[str] = frozenset()):
        infos = list(self._staged_meta(run_id, table)[0].values())
        group: list[dict] = []
        for i, info in enumerate(infos):
            group.append(info)
            if sum(g["rows"] for g in group) >= max_rows or i == len(infos) - 1 or max_bytes:
                yield self._read_files(table, [f for g in group for f in g["files"]],
                                       nulls_only=nulls_only)
                group = []
        if not infos:
            yield TABLES[table][1].empty_table()

    def _live_segments(self, table: str, entry: dict | None) -> dict:
        if not entry:
            return {}
        if entry.get("segments") is not None:
            return entry["segments"]
        data = self._read_files(table, entry["files"])
        return {entry["version"]: {"version": entry["version"], "rows": data.num_rows, "files": entry["files"],
                                   "sources": sorted(set(data["source_name"].to_pylist()))
                                   if "source_name" in data.column_names else []}}

    def publish(self, run_id: str, sources: dict | None = None, touched: dict | None = None,
                meta: dict | None = None, versions_of: dict | None = None) -> list[str]:
        """One PUT of the pointer makes every table staged by the run live at once; the rows of
        `sources` are replaced, every other segment is kept (see Lake.publish). Raises
        LakeAuditError, publishing nothing, when the run's validation report says it failed of
        a table it carries. (Unlike a local lake's, the staged objects are not hashed again
        here: they were read back and checked by the task that wrote them.)"""
        replace = set(sources or ())
        pointer = self._pointer()
        now = time.time()
        changed, entries = [], {}
        for t, (layer, _, _) in TABLES.items():
            if layer not in LAYER_ORDER:
                continue
            new, whole = self._staged_meta(run_id, t)
            if not new and not whole and not (replace and t in SEGMENTED):
                continue
            live = {} if whole else self._live_segments(t, pointer["tables"].get(t))
            final = _merge_segments(live, new, replace, lambda info: self.stage_segment(
                run_id, t, _without(self._read_files(t, info["files"]), replace)))
            if not final:
                got = self._write_segment(run_id, t, TABLES[t][1].empty_table(), whole=True)
                final = {got["version"]: got}
            if set(final) == set(live) and not whole:
                continue
            changed.append(t)
            entries[t] = {"version": _segments_version(final), "rows": sum(i["rows"] for i in final.values()),
                          "files": sorted(f for i in final.values() for f in i["files"]), "segments": final}
        if not entries and not touched:
            self.discard(run_id)
            return []
        try:   # as on a local lake: never publish a run whose validation report says it failed
            self._validation_of(run_id, list(entries))
        except LakeAuditError:
            self.discard(run_id)
            raise
        keep = {f for e in pointer["tables"].values() for f in e["files"]}
        staged_files = {f for e in entries.values() for f in e["files"]}
        retired = []
        for r in pointer.get("retired", []):  # versions replaced earlier: gone after the grace
            if now - r["at"] > TRASH_GRACE_S:
                for f in set(r["files"]) - keep - staged_files:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(self._key(f))
            else:
                retired.append(r)
        for table, entry in entries.items():
            old = pointer["tables"].get(table)
            if old and set(old["files"]) - set(entry["files"]):
                retired.append({"table": table, "files": sorted(set(old["files"]) - set(entry["files"])),
                                "at": now})
            pointer["tables"][table] = entry
        index = dict(pointer.get("sources") or {})
        index.update(touched or {})
        index.update(sources or {})
        meta = {**(meta or {}), **{key: pointer["tables"][t]["version"] if t in pointer["tables"] else ""
                                   for key, t in (versions_of or {}).items()}}
        pointer.update(retired=retired, run_id=run_id, published_at=now, sources=index,
                       meta={**(pointer.get("meta") or {}), **(meta or {})})
        self._put(self._key(self.POINTER), json.dumps(pointer, indent=1).encode())
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._key("_staging", run_id), recursive=True)
        return changed

    def discard(self, run_id: str) -> None:
        """Delete the files of a run that was staged but not published."""
        live = {f for e in self._pointer()["tables"].values() for f in e["files"]}
        for t in TABLES:
            infos, _ = self._staged_meta(run_id, t)
            for info in infos.values():
                for f in set(info["files"]) - live:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(self._key(f))
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._key("_staging", run_id), recursive=True)

    # ---- logs --------------------------------------------------------------------------------
    def write_quarantine(self, run_id: str, stage: str, rows: list[dict]) -> str | None:
        if not rows:
            return None
        from .schemas import to_table

        key = self._key("quarantine", f"{run_id}-{stage}.parquet")
        data = to_table("quarantine", rows)
        pq.write_table(data, key, filesystem=self.pafs, **parquet_options(data))
        return self.url + key[len(self.base):]

    def write_text(self, folder: str, name: str, text: str) -> str:
        assert folder in ("validation", "manifests"), folder
        key = self._put(self._key(folder, name), text.encode("utf-8"))
        return self.url + key[len(self.base):]

    def manifests(self) -> list[dict]:
        keys = sorted(self.fs.glob(self._key("manifests", "*.json")))
        return [json.loads(self.fs.cat_file(k)) for k in keys]

    def read_text(self, folder: str, name: str) -> str | None:
        try:
            return self.fs.cat_file(self._key(folder, name)).decode("utf-8")
        except FileNotFoundError:
            return None

    def text_names(self, folder: str, suffix: str = ".json") -> list[str]:
        return sorted(k.rsplit("/", 1)[-1] for k in self.fs.glob(self._key(folder, f"*{suffix}")))

    # ---- reports (objects, replaced one by one: a reader may see a mix for an instant) ---------
    def report_url(self, name: str = "index.html") -> str:
        return f"{self.url}/reports/{name}"

    def write_report(self, name: str, text: str) -> str:
        key = self._put(self._key("reports", name), text.encode("utf-8"))
        return self.url + key[len(self.base):]

    def report_dir(self, name: str) -> None:
        """No local folder to read a report from: the object store's site is rebuilt whole."""
        return None

    def publish_report_dir(self, run_id: str, src: str | os.PathLike, name: str) -> str:
        key = self._key("reports", name)
        if self.fs.exists(key):
            self.fs.rm(key, recursive=True)
        self.fs.put(str(src).rstrip("/") + "/", key, recursive=True)
        return self.url + key[len(self.base):]
