"""Stage 2, per source file: clean -> split -> extract -> panel, cached by content.

One task run per source file (`process <name>`), so Prefect caches and a task runner (threads,
Dask) spreads the work per file. The cache key is the file's sha256, its name and the CODE
VERSION of the core (a hash of flows/core/*.py, flows/vocab/*.csv and the shell code that calls
them) plus the task's own source: a re-run on the same bytes with the same code reads the
persisted result instead of running the core, a changed file or a changed extractor runs again.
Results are persisted in the lake's results folder (Lake.results_dir(), <lake>/_prefect_results
for a local lake), so the cache survives new processes and belongs to the lake.

The task reads its items from bronze (the lake is the only input), never from the source again.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

from . import reports_of_item
from .core import pipeline
from .core.model import Mention, PanelRow, Report, SourceError, SourceItem
from .lake import Lake

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


# the lake is where the items are read from, not what the result depends on
CACHE_POLICY = (INPUTS - "lake") + TASK_SOURCE


@task(name="process", task_run_name="process {source_name}", cache_policy=CACHE_POLICY,
      persist_result=True)
def process_source(source_name: str, sha256: str, code_version: str, lake: str) -> SourceResult:
    """clean -> split -> extract -> panel for one source file (its items read from bronze)."""
    items = items_of(Lake(lake).read_bronze(sha256), source_name)
    out = run_core(source_name, sha256, items)
    get_run_logger().info("%s: %s (%.2f s)", source_name, describe(out.stats), out.stats["seconds"])
    return out


def for_lake(lake: Lake):
    """process_source with its results persisted in (and its cache read from) the lake's folder."""
    return process_source.with_options(result_storage=lake.results_dir())
