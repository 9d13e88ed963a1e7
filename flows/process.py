"""Stage 2, per chunk of source files: clean -> split -> extract -> panel, staged as segments.

One task run per chunk (`process chunk <i>`), so a task runner (threads, Dask) spreads the work
and the run pays Prefect's per-task cost a few times, not once per file. The task reads each
source's items from bronze (the lake is the only input, never the source again), runs the core
per source (a source that fails a stage is quarantined, the others go on) and STAGES the chunk's
rows as one segment per table (Lake.stage_segment): nothing of a run is held in memory beyond a
chunk, and the flow gets back counts and rejects only.

What is done again is decided by the lake, not by a cache: a source is processed when the lake's
source index does not hold it with the same sha256 and the same CODE VERSION (a hash of
flows/core/*.py, flows/vocab/*.csv and the shell code that calls them): a changed file or a
changed extractor runs again, everything else is left as it is.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from . import memory, reports_of_item
from .core import pipeline
from .core.model import Mention, PanelRow, Report, SourceError, SourceItem, as_dicts
from .lake import Lake
from .schemas import to_table

HERE = Path(__file__).resolve().parent
# what the result of a source depends on besides its bytes
CODE_FILES = ("core/*.py", "vocab/*.csv", "__init__.py", "process.py")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A short hash of the code and vocabulary the per-source stages run."""
    h = hashlib.sha256()
    for pattern in CODE_FILES:
        for p in sorted(HERE.glob(pattern)):
            h.update(p.relative_to(HERE).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


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


@task(name="process", task_run_name="process chunk {index} ({n} files)", cache_policy=NO_CACHE,
      persist_result=False)
def process_chunk(sources: list[tuple[str, str]], run_id: str, code_version: str, lake: str,
                  index: int = 1, n: int = 0) -> ChunkResult:
    """clean -> split -> extract -> panel for the (source_name, sha256) of one chunk (their items
    read from bronze); the rows staged as one segment per table of the run."""
    lk = Lake(lake)
    out = ChunkResult()
    tables: dict[str, list] = {"reports": [], "indicator_mentions": [], "indicator_panel": []}
    logger = get_run_logger()
    t0 = time.perf_counter()
    for source_name, sha256 in sources:
        res = run_core(source_name, sha256, items_of(lk.read_bronze(sha256), source_name))
        tables["reports"] += [dict(vars(r), sha256=sha256) for r in res.reports]
        tables["indicator_mentions"] += as_dicts(res.mentions)
        tables["indicator_panel"] += as_dicts(res.panel)
        out.rejects += res.rejects
        out.sources.append({"source_name": source_name, "sha256": sha256, "stats": res.stats})
        logger.debug("%s: %s", source_name, describe(res.stats))
    for name, rows in tables.items():
        info = lk.stage_segment(run_id, name, to_table(name, rows))
        out.rows[name] = len(rows)
        if info:
            out.segments[name] = info["version"]
    del tables
    memory.release()
    keys = ("reports", "non_reports", "debris_lines_removed", "mentions", "panel_rows", "rejected")
    out.stats = {k: sum(s["stats"].get(k, 0) for s in out.sources) for k in keys}
    out.stats["seconds"] = round(time.perf_counter() - t0, 3)
    logger.info("%d source(s): %s (%.2f s)", len(sources), describe(out.stats), out.stats["seconds"])
    return out
