"""The per-chunk work of a run, without Prefect: read source files into bronze, and run the core
on sources read from bronze, staging their rows as segments.

flows/fetch.py and flows/process.py call these from their task runs: in the task's own thread,
or -- for a large run with the thread runner -- in a worker process of flows/pool.py, so that
the CPU-bound Python of two chunks runs on two cores (threads share one GIL). Everything here
takes and returns plain, picklable data (paths, names, dataclasses) and reaches the lake only
through flows/lake.py.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from . import memory, reports_of_item
from .core import pipeline
from .core.model import Mention, PanelRow, Report, SourceError, SourceItem
from .lake import SOURCE_SUFFIXES, Lake, read_source
from .schemas import TABLES as SCHEMAS
from .schemas import from_objects


# ---- fetch: files -> bronze -----------------------------------------------------------------
@dataclass
class Fetched:
    source_name: str
    location: str               # path or URL it was read from
    sha256: str = ""
    byte_size: int = 0
    items: int = 0
    encoding: str = ""
    new: bool = False           # True when this run landed it in bronze
    ok: bool = False            # its items are in bronze
    rejects: list[dict] = field(default_factory=list)
    size: int | None = None     # the local file's stat, for the lake's source index
    mtime_ns: int | None = None


@dataclass
class Planned:
    """A local source file to read, as the plan found it."""
    source_name: str
    location: str
    size: int = 0
    mtime_ns: int = 0


def _reject(out: Fetched, exc: BaseException, item_index: int | None = None) -> None:
    if isinstance(exc, SourceError):
        reason, error = exc.reason, exc.code
    else:
        reason, error = f"{type(exc).__name__}: {exc}", type(exc).__name__
    out.rejects.append(dict(source_name=out.source_name, item_index=item_index, stage="fetch",
                            reason=reason[:2000], error=error, sha256=out.sha256))


def land(name: str, location: str, data: bytes, lake: str) -> Fetched:
    """Bytes of one source file -> bronze (when new) and a Fetched record."""
    from .core.read import read_items_with_errors, screen_items

    out = Fetched(name, location, hashlib.sha256(data).hexdigest(), len(data))
    lk = Lake(lake)
    try:
        if Path(name).suffix.lower() not in SOURCE_SUFFIXES:
            raise SourceError(f"unsupported file type {Path(name).suffix or '(none)'}: expected one "
                              f"of {' '.join(SOURCE_SUFFIXES)}", code="unsupported_type")
        if lk.has_bronze(out.sha256):  # already landed: no decoding, no write
            meta = lk.bronze_summary(out.sha256)
            out.items, out.encoding, out.ok = meta["items"], meta["encoding"], True
            return out
        items, errors = screen_items(*read_items_with_errors(name, data))  # no Chinese / no number: out
        for err in errors:  # bad records of a file that has good ones
            _reject(out, err, getattr(err, "item_index", None))
        if not items:
            raise SourceError(f"{name}: no usable item" + (f" ({len(errors)} record(s) rejected)"
                                                           if errors else " (empty?)"), code="no_items")
        fetched_at = datetime.now(timezone.utc)
        bronze = from_objects("source_items", items, {"sha256": out.sha256, "byte_size": len(data),
                                                      "fetched_at": fetched_at})
        out.new = lk.write_bronze(out.sha256, bronze)
        out.items, out.encoding, out.ok = len(items), items[0].encoding, True
    except Exception as exc:  # noqa: BLE001 - every failure becomes a quarantine record
        out.ok = False
        _reject(out, exc)
    return out


def land_all(name: str, location: str, data: bytes, lake: str) -> list[Fetched]:
    """Bytes of one source file -> bronze: the file itself, or each file of a ZIP archive as a
    source of its own (`archive.zip/member`); an archive that cannot be read, or a member that
    cannot, is a quarantine record and the rest goes on."""
    from .core.read import expand_source

    try:
        members, errors = expand_source(name, data)
    except SourceError as exc:
        out = Fetched(name, location, hashlib.sha256(data).hexdigest(), len(data))
        _reject(out, exc)
        return [out]
    outs = []
    for err in errors:
        member = getattr(err, "source_name", name)
        out = Fetched(member, location)
        _reject(out, err)
        outs.append(out)
    for member, body in members:
        outs.append(land(member, location, body, lake))
    return outs


def fetch_one(p: Planned, lake: str) -> list[Fetched]:
    try:
        data = read_source(Path(p.location))
    except (OSError, SourceError) as exc:  # unreadable, a link, a FIFO, over the size limit
        out = Fetched(p.source_name, p.location, getattr(exc, "sha256", ""))
        _reject(out, exc)
        return [out]
    outs = land_all(p.source_name, p.location, data, lake)
    if len(outs) == 1 and outs[0].source_name == p.source_name:   # not an archive: its stat
        outs[0].size, outs[0].mtime_ns = p.size or len(data), p.mtime_ns or None
    return outs


@memory.releases
def fetch_files(chunk: list[Planned], lake: str) -> list[Fetched]:
    """Local files -> bronze, one chunk of them (an archive's files each a source)."""
    out = [f for p in chunk for f in fetch_one(p, lake)]
    memory.release()
    return out


# ---- process: bronze -> the core -> staged segments ---------------------------------------
@dataclass
class SourceResult:
    """What the core made of one source file, and what it could not use."""
    source_name: str
    sha256: str
    reports: list[Report] = field(default_factory=list)     # non-reports too (is_report False)
    mentions: list[Mention] = field(default_factory=list)
    panel: list[PanelRow] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)       # quarantine records, run-less
    stats: dict = field(default_factory=dict)

    def reject(self, stage: str, exc: BaseException, item_index: int | None = None,
               context: str = "") -> None:
        if isinstance(exc, SourceError):
            reason, error = exc.reason, exc.code
        else:
            reason, error = f"{type(exc).__name__}: {exc}", type(exc).__name__
        self.rejects.append(dict(source_name=self.source_name, item_index=item_index, stage=stage,
                                 reason=(context + reason)[:2000], error=error, sha256=self.sha256))


def items_of(bronze, source_name: str) -> list[SourceItem]:
    """source_items rows -> SourceItems (named as this run found the file)."""
    keep = [f for f in SourceItem.__dataclass_fields__]
    return [SourceItem(**{**{k: row[k] for k in keep}, "source_name": source_name})
            for row in bronze.sort_by("item_index").to_pylist()]


def run_core(source_name: str, sha256: str, items: list[SourceItem]) -> SourceResult:
    """The core stages on the items of one source; an exception becomes a reject."""
    out = SourceResult(source_name, sha256)
    t0 = time.perf_counter()
    n = 0
    for item in items:  # clean + split; reports are numbered across the items of a source
        try:
            reports = reports_of_item(item, n + 1)
        except Exception as exc:  # noqa: BLE001 - a stage failing on an input quarantines it
            out.reject("clean_and_split", exc, item.item_index)
            continue
        n += sum(r.is_report for r in reports)
        out.reports += reports
    real = [r for r in out.reports if r.is_report]
    for r in real:  # extract
        try:
            out.mentions += pipeline.mentions_from_report(r)
        except Exception as exc:  # noqa: BLE001
            out.reject("extract", exc, r.item_index, context=f"report {r.doc_index}: ")
    if real:  # panel
        try:
            out.panel = pipeline.panel_from_mentions(real, out.mentions)
        except Exception as exc:  # noqa: BLE001
            out.reject("build_panel", exc)
    out.stats = dict(items=len(items), reports=len(real), non_reports=len(out.reports) - len(real),
                     debris_lines_removed=sum(r.removed_lines for r in out.reports),
                     mentions=len(out.mentions), panel_rows=len(out.panel),
                     rejected=len(out.rejects), seconds=round(time.perf_counter() - t0, 3))
    return out


def describe(stats: dict) -> str:
    return (f"clean removed {stats['debris_lines_removed']} debris line(s); split found "
            f"{stats['reports']} report(s)"
            + (f" (+{stats['non_reports']} non-report(s))" if stats.get("non_reports") else "")
            + f"; extract found {stats['mentions']} mention(s); panel has {stats['panel_rows']} row(s)"
            + (f"; {stats['rejected']} input(s) quarantined" if stats.get("rejected") else ""))


@dataclass
class ChunkResult:
    """What a chunk's task staged (segment versions per table), per source counts and rejects."""
    sources: list[dict] = field(default_factory=list)   # {source_name, sha256, stats}
    segments: dict = field(default_factory=dict)        # table -> segment version
    rows: dict = field(default_factory=dict)            # table -> rows staged
    rejects: list[dict] = field(default_factory=list)   # quarantine records, run-less
    stats: dict = field(default_factory=dict)


@memory.releases
def process_sources(sources: list[tuple[str, str]], run_id: str, lake: str) -> ChunkResult:
    """clean -> split -> extract -> panel for the (source_name, sha256) of one chunk (their items
    read from bronze); the rows staged as one segment per table of the run."""
    lk = Lake(lake)
    out = ChunkResult()
    rows: dict[str, list] = {"reports": [], "indicator_mentions": [], "indicator_panel": []}
    shas: list[str] = []   # the sha256 of each report's source
    t0 = time.perf_counter()
    for source_name, sha256 in sources:
        res = run_core(source_name, sha256, items_of(lk.read_bronze(sha256), source_name))
        rows["reports"] += res.reports
        shas += [sha256] * len(res.reports)
        rows["indicator_mentions"] += res.mentions
        rows["indicator_panel"] += res.panel
        out.rejects += res.rejects
        out.sources.append({"source_name": source_name, "sha256": sha256, "stats": res.stats})
    for name, objs in rows.items():
        table = from_objects(name, objs, {"sha256": shas} if name == "reports" else None)
        info = lk.stage_segment(run_id, name, table)
        out.rows[name] = len(objs)
        if info:
            out.segments[name] = info["version"]
    del rows
    memory.release()
    keys = ("reports", "non_reports", "debris_lines_removed", "mentions", "panel_rows", "rejected")
    out.stats = {k: sum(s["stats"].get(k, 0) for s in out.sources) for k in keys}
    out.stats["seconds"] = round(time.perf_counter() - t0, 3)
    return out


# ---- validate: the run's staged rows -> the GX suites ----------------------------------------
CHECK_ROWS = int(os.environ.get("GWR_CHECK_ROWS") or 60_000)
CHECK_BYTES = int(os.environ.get("GWR_CHECK_BYTES") or 32 * 1024 * 1024)   # in memory, per batch
CHECKED = ("source_items", "reports", "indicator_mentions", "indicator_panel")
BRONZE_FILES = 64   # bronze files read at once by the validation of source_items


def suites_dir(expectations: str | None) -> Path:
    from .quality import SUITES_DIR

    return Path(expectations) if expectations else SUITES_DIR


def _batches(lk: Lake, run_id: str, table: str, sources: list[tuple[str, str]],
             nulls_only: frozenset[str] | set[str] = frozenset()):
    """The run's rows of `table`, in pieces of at most about CHECK_ROWS rows and CHECK_BYTES
    (bronze: the items of up to BRONZE_FILES sources at a time). Bronze rows are named as the
    run found their file (one file's bytes may have landed under another name before).
    nulls_only: columns of which only the nulls are needed (Lake.read_bronze)."""
    if table == "source_items":
        # several files per read (Arrow reads them side by side: ~4x less time than a read per
        # file), up to BRONZE_FILES files or about CHECK_BYTES in memory (Parquet: ~4x its size)
        group: list[tuple[str, str]] = []
        size = 0
        for i, (name, sha) in enumerate(sources):
            group.append((name, sha))
            size += 4 * lk.bronze_bytes(sha)
            if len(group) >= BRONZE_FILES or size >= CHECK_BYTES or i == len(sources) - 1:
                yield _named_bronze(lk, group, nulls_only)
                group, size = [], 0
        return
    yield from lk.iter_staged(run_id, table, CHECK_ROWS, CHECK_BYTES, nulls_only=nulls_only)


def _named_bronze(lk: Lake, group: list[tuple[str, str]], nulls_only) -> pa.Table:
    """The bronze items of (source_name, sha256) pairs, each row named as this run found its
    file (the bytes may have landed under another name before; two files of one run with the
    same bytes give their rows once per name)."""
    import pyarrow.compute as pc

    shas = list(dict.fromkeys(sha for _, sha in group))
    t = lk.read_bronzes(shas, set(nulls_only) - {"sha256"})   # the rows' owner is read
    first: dict[str, str] = {}
    for name, sha in group:
        first.setdefault(sha, name)
    col = t.schema.get_field_index("source_name")
    owner = pc.index_in(t["sha256"], value_set=pa.array(shas, pa.string()))
    named = t.set_column(col, "source_name",
                         pc.take(pa.array([first[s] for s in shas], pa.string()), owner))
    parts = [named]
    for name, sha in group:
        if first[sha] != name:
            rows = named.filter(pc.equal(named["sha256"], sha))
            parts.append(rows.set_column(col, "source_name",
                                         pa.array([name] * rows.num_rows, pa.string())))
    return pa.concat_tables(parts)


@memory.releases   # (after its last batch)
def check_table(lake: str, run_id: str, table: str, sources: list[tuple[str, str]],
                expectations: str | None) -> dict:
    """One table's staged rows (its bronze items for source_items) against its suite ->
    {reports: [ValidationReport per batch], rows, batches, seconds}. Read in pieces bounded in
    bytes, validated in batches bounded in rows: the columns the suite only checks for nulls
    (texts, sentences) are compacted as they are read."""
    from .quality import compact, load_suite, null_only_columns, validate_tables

    lk = Lake(lake)
    t0 = time.perf_counter()
    stand_in = null_only_columns(load_suite(table, suites_dir(expectations)))
    reports, pending, rows = [], [], 0

    def flush():
        nonlocal rows
        batch = pa.concat_tables(pending)
        pending.clear()
        reports.append(validate_tables({table: batch}, expectations))
        rows += batch.num_rows
        del batch
        memory.release()

    # the texts a suite only null-checks are not even read when Parquet's statistics say they
    # hold no null
    for piece in _batches(lk, run_id, table, sources, stand_in):
        pending.append(compact(piece, stand_in))
        del piece
        if sum(t.num_rows for t in pending) >= CHECK_ROWS:
            flush()
    if pending or not reports:
        pending = pending or [SCHEMAS[table][1].empty_table()]
        flush()
    return {"reports": reports, "rows": rows, "batches": len(reports),
            "seconds": round(time.perf_counter() - t0, 3)}


# ---- BI: the BI tables of some regions of the panel a run will publish --------------------
def panel_to_be(lake: str, run_id: str, replaced: list[str], where: tuple[str, list] | None = None,
                columns: list[str] | None = None) -> pa.Table:
    """The panel as the run's publish will leave it (Lake.publish replaces the rows of the
    sources the run read): the live panel without the rows of `replaced`, plus the rows the run
    staged (only the rows whose where[0] is in where[1]; only `columns`, which must then include
    source_name)."""
    from .lake import upsert_by_source

    lk = Lake(lake)
    return upsert_by_source(lk.read_table("indicator_panel", where=where, columns=columns),
                            lk.read_staged(run_id, "indicator_panel", columns=columns, where=where),
                            set(replaced))


@memory.releases
def bi_of_regions(lake: str, run_id: str, replaced: list[str], regions: list[str]) -> dict:
    """bi.bi_tables of the panel to be, for some regions: each job of a whole rebuild reads its
    own regions' rows (the caller holds none of the panel)."""
    from .bi import bi_tables

    out = bi_tables(panel_to_be(lake, run_id, replaced, ("region", regions)))
    memory.release()
    return out


# ---- the report: GX Data Docs of the lake's recent validations -------------------------------
DATA_DOCS_RUNS = 10   # Data Docs show the validations of this many last runs


def data_docs(lake: str, run_id: str, expectations: str | None) -> str:
    """GX Data Docs of the last DATA_DOCS_RUNS runs' validations (<lake>/validation/<run>.json
    and <run>-bi.json), built in a temporary folder of the process this runs in -- a worker's
    own, so it runs on a Dask worker of another machine too -- and published into the lake's
    reports/data_docs/ (the pages of results the live site has are kept, flows/quality/data_docs.py).
    -> where the site went"""
    import json
    import tempfile

    from .quality import build_data_docs

    lk = Lake(lake)
    runs = [n[:-len(".json")] for n in lk.text_names("validation", ".json")]
    results = []
    for name in runs[-2 * DATA_DOCS_RUNS:]:   # <run_id>.json and <run_id>-bi.json per run
        text = lk.read_text("validation", name + ".json")
        rid = name.removesuffix("-bi")
        for table, raw in (json.loads(text).get("gx_results") or {}).items() if text else ():
            results.append((rid, table, raw))
    with tempfile.TemporaryDirectory(prefix="gwr-data-docs-") as tmp:
        site = Path(tmp) / "site"
        build_data_docs(results, str(site), expectations, lk.report_dir("data_docs"))
        return str(lk.publish_report_dir(run_id, site, "data_docs"))
