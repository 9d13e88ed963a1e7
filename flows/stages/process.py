"""Stage 2, process: the sources of a chunk, read back from bronze, through the pure core
(clean -> split -> extract -> panel), their rows staged in the lake (one Parquet file per table
and chunk) for validation and publishing. A source that fails a stage is quarantined and the
others go on. Plain functions; the run's process or a worker process runs them.

What is processed again is decided by the lake's source index and the CODE VERSION: a hash of
the files that change the numbers (flows/core/ and flows/vocab/). A changed report file, or a
changed extractor or vocabulary, is processed again; a change anywhere else (the shell, the
docs) reprocesses nothing.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core import pipeline
from ..core.model import Mention, PanelRow, Report, SourceError, SourceItem
from .fetch import Landed

FLOWS = Path(__file__).resolve().parent.parent
CODE_FILES = ("core/**/*.py", "vocab/*.csv")
STAGED = ("reports", "indicator_mentions", "indicator_panel")


def code_version() -> str:
    """A short hash of the core and its vocabulary: what makes the numbers."""
    h = hashlib.sha256()
    for pattern in CODE_FILES:
        for p in sorted(FLOWS.glob(pattern)):
            h.update(p.relative_to(FLOWS).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


class Versions:
    """The version of each source's rows: the code version, a digest of the analysts'
    corrections of its documents when it has any (a changed correction re-reads the source), and
    of its source list's hints when it has any (a changed region or year re-reads it).
    hints: {source_name: (region, year)} of the listed sources (an archive's apply to its
    members, named archive/member)."""

    def __init__(self, code: str, corrections: list | None = None, hints: dict | None = None):
        from ..core.corrections import digest, stem_of

        self.code = code
        stems: dict[str, list] = {}
        for c in corrections or []:
            stems.setdefault(c.doc_id.rpartition("#")[0], []).append(c)
        self.by_stem = {stem: digest(cs) for stem, cs in stems.items()}
        self.hints = {n: tuple(h) for n, h in (hints or {}).items() if any(v not in (None, "") for v in h)}
        self._stem = stem_of

    def hint(self, source_name: str) -> tuple | None:
        """The (region, year) a source list gives a source (or the archive it is a member of)."""
        if not self.hints:
            return None
        parts = source_name.split("/")
        for i in range(len(parts), 0, -1):
            got = self.hints.get("/".join(parts[:i]))
            if got is not None:
                return got
        return None

    def __call__(self, source_name: str) -> str:
        out = self.code
        d = self.by_stem.get(self._stem(source_name))
        if d:
            out += f"+{d}"
        h = self.hint(source_name)
        if h:
            out += "+h" + hashlib.sha256(repr(h).encode()).hexdigest()[:8]
        return out


@dataclass
class SourceResult:
    """What the core made of one source file, and what it could not use."""
    source_name: str
    sha256: str
    reports: list[Report] = field(default_factory=list)     # non-reports too (is_report False)
    mentions: list[Mention] = field(default_factory=list)
    panel: list[PanelRow] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    corrected: list[str] = field(default_factory=list)     # corrections applied
    unmatched: list[str] = field(default_factory=list)     # corrections that match nothing

    def reject(self, stage: str, exc: BaseException, item_index: int | None = None, context: str = "") -> None:
        if isinstance(exc, SourceError):
            reason, error = exc.reason, exc.code
        else:
            reason, error = f"{type(exc).__name__}: {exc}", type(exc).__name__
        self.rejects.append(dict(source_name=self.source_name, item_index=item_index, stage=stage,
                                 reason=(context + reason)[:2000], error=error, sha256=self.sha256))


def run_core(source_name: str, sha256: str, items: list[SourceItem], corrections: list | None = None) -> SourceResult:
    """The core stages on the items of one source, its analysts' corrections applied to its
    panel rows; an exception becomes a reject."""
    out = SourceResult(source_name, sha256)
    n = 0
    for item in items:   # clean + split; reports are numbered across the items of a source
        try:
            reports = pipeline.reports_from_item(item, n + 1)
        except Exception as exc:  # noqa: BLE001 - a stage failing on an input quarantines it
            out.reject("clean_and_split", exc, item.item_index)
            continue
        n += sum(r.is_report for r in reports)
        out.reports += reports
    real = [r for r in out.reports if r.is_report]
    for r in real:
        try:
            out.mentions += pipeline.mentions_from_report(r)
        except Exception as exc:  # noqa: BLE001
            out.reject("extract", exc, r.item_index, context=f"report {r.doc_index}: ")
    if real:
        try:
            out.panel = pipeline.panel_from_mentions(real, out.mentions)
        except Exception as exc:  # noqa: BLE001
            out.reject("build_panel", exc)
    if corrections:
        from ..core.corrections import apply

        out.panel, out.corrected, out.unmatched = apply(out.panel, real, corrections)
    out.stats = dict(items=len(items), reports=len(real), non_reports=len(out.reports) - len(real),
                     debris_lines_removed=sum(r.removed_lines for r in out.reports),
                     mentions=len(out.mentions), panel_rows=len(out.panel), rejected=len(out.rejects))
    return out


def items_of(bronze, source_name: str, hint: tuple | None = None) -> list[SourceItem]:
    """source_items rows -> SourceItems, named as this run found the file (the same bytes may
    have landed under another name before); a source list's hint (region, year) fills the
    place and year an item does not carry itself."""
    keep = list(SourceItem.__dataclass_fields__)
    items = [SourceItem(**{**{k: row.get(k) for k in keep}, "source_name": source_name})
             for row in bronze.sort_by("item_index").to_pylist()]
    region, year = hint or (None, None)
    for item in items:
        if region and not item.place:
            item.place = region
        if year and not item.year:
            item.year = int(year)
    return items


@dataclass
class ChunkResult:
    """What a chunk staged: per source counts, rows per table, the regions of its panel rows,
    and its quarantine records."""
    sources: list[dict] = field(default_factory=list)     # {source_name, sha256, stats}
    rows: dict = field(default_factory=dict)              # table -> rows staged
    regions: list[str] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)   # doc id: where a row's columns and its text disagree
    corrected: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def stat(self, key: str) -> int:
        return sum(s["stats"].get(key, 0) for s in self.sources)


def process_chunk(lake_url: str, run_id: str, part: str, sources: list[tuple[str, str]],
                  corrections: list | None = None, hints: dict | None = None) -> ChunkResult:
    """clean -> split -> extract -> panel (and analysts' corrections) for (source_name, sha256)
    pairs whose items are in bronze; the rows staged as one file per table (`part` names them).
    hints: {source_name: (region, year)} a source list gives."""
    from ..core.corrections import for_source

    import pyarrow as pa

    from ..lake import Lake
    from ..schemas import from_objects

    lake = Lake(lake_url)
    t0 = time.perf_counter()
    out = ChunkResult()
    rows: dict[str, list] = {t: [] for t in STAGED}
    shas: list[str] = []
    for source_name, sha256 in sources:
        res = run_core(source_name, sha256, items_of(lake.bronze.read([sha256]), source_name,
                                                     (hints or {}).get(source_name)),
                       for_source(corrections or [], source_name))
        out.corrected += [f"{source_name}: {c}" for c in res.corrected]
        out.unmatched += [f"{source_name}: {c}" for c in res.unmatched]
        rows["reports"] += res.reports
        shas += [sha256] * len(res.reports)
        rows["indicator_mentions"] += res.mentions
        rows["indicator_panel"] += res.panel
        out.rejects += res.rejects
        out.sources.append({"source_name": source_name, "sha256": sha256, "stats": res.stats})
    for name, objs in rows.items():
        table: pa.Table = from_objects(name, objs, {"sha256": shas} if name == "reports" else None)
        lake.staging.write(run_id, name, part, table)
        out.rows[name] = table.num_rows
    out.regions = sorted({r.region for r in rows["indicator_panel"] if r.region})
    out.conflicts = [f"{r.source_name}#{r.doc_index} (item {r.item_index}): {r.metadata_conflicts}"
                     for r in rows["reports"] if r.metadata_conflicts]
    out.seconds = round(time.perf_counter() - t0, 3)
    return out


@dataclass
class Work:
    """What fetch and process did, gathered for validation and publishing."""
    landed: list
    chunks: list
    processed: list[str]                 # sources whose rows the run replaces
    index_rows: list[dict]               # source-index entries the run writes
    checked_sources: list                # (name, sha256) whose bronze items are validated
    bi_wanted: bool
    bi_whole: bool
    sources: int
    unchanged: int
    upgraded_from: str | None = None
    quarantined: list = field(default_factory=list)
    held_before: set = field(default_factory=set)       # sources the lake held before the run
    tables_ahead: bool = False      # a run died after committing rows its index does not name

    @property
    def replaced(self) -> list[str] | None:
        """The sources whose rows the tables hold already (None: cannot tell, after a run that
        died between its commits: every source is then replaced, never appended twice)."""
        if self.tables_ahead:
            return None
        return [n for n in self.processed if n in self.held_before]

    @property
    def to_publish(self) -> bool:
        return bool(self.processed or self.index_rows or self.bi_wanted)


def holds(entry: dict | None, sha256: str, version: str) -> bool:
    """The lake holds this source's rows from these bytes and this code."""
    return bool(entry) and entry.get("sha256") == sha256 and entry.get("code_version") == version


def leftovers(landed: list, rebuild: list, downloaded: list) -> list[list]:
    """What the per-chunk processing has not covered: downloaded sources, and an old lake's
    sources to rebuild from bronze (those the run did not read again anyway)."""
    parts = []
    if downloaded:
        parts.append(downloaded)
    seen = {f.source_name for f in landed}
    again = [Landed(n, "bronze", sha, ok=True) for n, sha in rebuild if n not in seen]
    if again:
        parts.append(again)
    return parts


def _entry(f: Landed, version: str, run_id: str, status: str) -> dict:
    return {"source_name": f.source_name, "sha256": f.sha256, "code_version": version,
            "byte_size": f.byte_size, "size": f.size, "mtime_ns": f.mtime_ns, "etag": f.etag,
            "location": f.location, "status": status, "run_id": run_id}


def gather(planned, landed: list, chunks: list, versions: Versions, run_id: str = "") -> Work:
    """Fetch's and process's results -> what the run validates and publishes."""
    by_name = {f.source_name: f for f in landed}
    processed = sorted({s["source_name"] for c in chunks for s in c.sources})
    index_rows = []
    for name in processed:
        f = by_name.get(name) or Landed(name, "bronze", next(s["sha256"] for c in chunks for s in c.sources
                                                             if s["source_name"] == name), ok=True)
        index_rows.append(_entry(f, versions(name), run_id, "published"))
    for f in landed:
        old = planned.index.get(f.source_name)
        if f.source_name in processed or f.not_modified:
            continue
        if f.ok and holds(old, f.sha256, versions(f.source_name)) and (old.get("size"), old.get("mtime_ns"), old.get("etag")) \
                != (f.size, f.mtime_ns, f.etag):
            index_rows.append(dict(old, size=f.size, mtime_ns=f.mtime_ns, etag=f.etag, run_id=run_id))
        elif not f.ok and (old or {}).get("sha256") != f.sha256:
            index_rows.append(_entry(f, versions(f.source_name), run_id, "quarantined"))
    checked = sorted({(s["source_name"], s["sha256"]) for c in chunks for s in c.sources})
    quarantined = [r for f in landed for r in f.rejects] + [r for c in chunks for r in c.rejects]
    return Work(landed, chunks, processed, index_rows, checked, bool(processed) or planned.bi_whole,
                planned.bi_whole, len(planned.plan.sources), len(planned.plan.unchanged), planned.upgraded_from,
                quarantined, set(planned.index), bool(getattr(planned, "repoint", False)))
