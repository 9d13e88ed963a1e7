"""The Prefect flow: the core's stages as tasks, in order, around one lake.

    fetch -> clean_and_split -> extract -> build_panel -> validate -> publish

Each task loops over its inputs and logs one line per file. An input a stage cannot use (a
SourceError, or any exception the core raises on it) becomes a quarantine record and the run
goes on. Nothing reaches silver or gold unless the whole batch passes validation.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# a first start on a fresh machine migrates the ephemeral server's database: allow for it
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import pyarrow as pa  # noqa: E402
from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from . import reports_of_item  # noqa: E402
from .core import pipeline  # noqa: E402
from .core.model import Mention, PanelRow, Report, SourceError, SourceItem, as_dicts  # noqa: E402
from .lake import SOURCE_SUFFIXES, Lake, list_source_files, read_source, upsert_by_source  # noqa: E402
from .schemas import to_table  # noqa: E402

PUBLISHED_TABLES = ("reports", "indicator_mentions", "indicator_panel")
TABLE_ARTIFACT_ROWS = 2000


class ValidationFailed(RuntimeError):
    pass


@dataclass
class FetchedFile:
    source_name: str
    sha256: str
    byte_size: int
    items: list[SourceItem]
    bronze_rows: list[dict]   # the items as source_items rows
    new: bool                 # False when bronze already had these bytes


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Stage:
    """What one stage produced, and the quarantine records of what it could not use."""
    name: str
    run_id: str
    rows: list = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)

    def reject(self, source_name: str, sha256: str, exc: BaseException,
               item_index: int | None = None, context: str = "") -> None:
        if isinstance(exc, SourceError):
            reason, error = exc.reason, exc.code
        else:
            reason, error = f"{type(exc).__name__}: {exc}", type(exc).__name__
        self.quarantined.append(dict(
            source_name=source_name, item_index=item_index, stage=self.name,
            reason=(context + reason)[:2000], error=error, sha256=sha256, run_id=self.run_id,
            time=_now()))
        where = source_name + (f" item {item_index}" if item_index else "")
        get_run_logger().error("QUARANTINED %s at %s: %s", where, self.name, context + reason)

    def save_quarantine(self, lake_root: str) -> None:
        Lake(lake_root).write_quarantine(self.run_id, self.name, self.quarantined)


# ---- stages ------------------------------------------------------------------------------
@task(name="fetch", cache_policy=NO_CACHE, persist_result=False)
def fetch(source: str, lake_root: str, run_id: str) -> Stage:
    """Every file under the source -> decoded items; new files land in bronze (append-only)."""
    from .core.sources import read_items_with_errors

    logger = get_run_logger()
    lake = Lake(lake_root)
    files = list_source_files(source)
    if not files:
        raise FileNotFoundError(f"no files under {source}")
    out = Stage("fetch", run_id)
    for i, (name, path) in enumerate(files, 1):
        sha = ""
        try:
            data = read_source(path)
            sha = hashlib.sha256(data).hexdigest()
            if path.suffix.lower() not in SOURCE_SUFFIXES:
                raise SourceError(f"unsupported file type {path.suffix or '(none)'}: expected one of "
                                  f"{' '.join(SOURCE_SUFFIXES)}", code="unsupported_type")
            items, errors = read_items_with_errors(name, data)
            for err in errors:  # bad records of a file that has good ones
                out.reject(name, sha, err, getattr(err, "item_index", None))
            if not items:
                raise SourceError(f"{name}: no usable item" + (f" ({len(errors)} record(s) rejected)"
                                                               if errors else " (empty?)"), code="no_items")
            fetched_at = _now()
            rows = [dict(vars(it), sha256=sha, byte_size=len(data), fetched_at=fetched_at)
                    for it in items]
            new = lake.write_bronze(sha, to_table("source_items", rows))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a quarantine record
            out.reject(name, sha, exc)
            continue
        out.rows.append(FetchedFile(name, sha, len(data), items, rows, new))
        logger.info("[%d/%d] fetched %s: %d item(s), %s bytes, %s, %s", i, len(files), name,
                    len(items), f"{len(data):,}", items[0].encoding,
                    "new in bronze" if new else "already in bronze")
    out.save_quarantine(lake_root)
    return out


@task(name="clean-and-split", cache_policy=NO_CACHE, persist_result=False)
def clean_and_split(files: list[FetchedFile], lake_root: str, run_id: str) -> Stage:
    """Items -> reports (silver). Reports are numbered across the items of a source."""
    logger = get_run_logger()
    out = Stage("clean_and_split", run_id)
    for i, f in enumerate(files, 1):
        n_reports, n_other = 0, 0
        for item in f.items:
            try:
                reports = reports_of_item(item, n_reports + 1)
            except Exception as exc:  # noqa: BLE001
                out.reject(f.source_name, f.sha256, exc, item.item_index)
                continue
            n_reports += sum(r.is_report for r in reports)
            n_other += sum(not r.is_report for r in reports)
            out.rows += [(r, f.sha256) for r in reports]
        logger.info("[%d/%d] split %s: %d report(s)%s", i, len(files), f.source_name, n_reports,
                    f", {n_other} non-report(s)" if n_other else "")
    out.save_quarantine(lake_root)
    return out


@task(name="extract", cache_policy=NO_CACHE, persist_result=False)
def extract(reports: list[tuple[Report, str]], lake_root: str, run_id: str) -> Stage:
    """Reports -> indicator mentions (gold), each with its evidence."""
    logger = get_run_logger()
    out = Stage("extract", run_id)
    by_source: dict[str, list[tuple[Report, str]]] = defaultdict(list)
    for r, sha in reports:
        if r.is_report:
            by_source[r.source_name].append((r, sha))
    for i, (name, rs) in enumerate(by_source.items(), 1):
        n = 0
        for r, sha in rs:
            try:
                found = pipeline.mentions_from_report(r)
            except Exception as exc:  # noqa: BLE001
                out.reject(name, sha, exc, r.item_index, context=f"report {r.doc_index}: ")
                continue
            out.rows += found
            n += len(found)
        logger.info("[%d/%d] extracted %s: %d mention(s) from %d report(s)", i, len(by_source),
                    name, n, len(rs))
    out.save_quarantine(lake_root)
    return out


@task(name="build-panel", cache_policy=NO_CACHE, persist_result=False)
def build_panel(reports: list[tuple[Report, str]], mentions: list[Mention], lake_root: str,
                run_id: str) -> Stage:
    """Mentions -> one headline row per (source, report, indicator, kind, measure)."""
    logger = get_run_logger()
    out = Stage("build_panel", run_id)
    reps: dict[str, list[Report]] = defaultdict(list)
    shas: dict[str, str] = {}
    for r, sha in reports:
        if r.is_report:
            reps[r.source_name].append(r)
            shas[r.source_name] = sha
    ments: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        ments[m.source_name].append(m)
    for name, rs in reps.items():
        try:
            rows = pipeline.panel_from_mentions(rs, ments.get(name, []))
        except Exception as exc:  # noqa: BLE001
            out.reject(name, shas[name], exc)
            continue
        out.rows += rows
    logger.info("panel: %d row(s) from %d source(s)", len(out.rows), len(reps))
    out.save_quarantine(lake_root)
    return out


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def validate(tables: dict[str, pa.Table], lake_root: str, run_id: str,
             expectations: str | None = None) -> dict:
    """Run the Great Expectations suites on the batch; the report lands in <lake>/validation/."""
    from .validate import validate_tables

    report = validate_tables(tables, expectations)
    lake = Lake(lake_root)
    json_path = lake.write_text("validation", f"{run_id}.json",
                                json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    md = report.to_markdown(run_id)
    md_path = lake.write_text("validation", f"{run_id}.md", md)
    (get_run_logger().info if report.success else get_run_logger().error)(report.summary())
    if not report.success:
        create_markdown_artifact(key="gwr-lake-validation", markdown=md,
                                 description=f"validation of run {run_id}")
    return {"success": report.success, "summary": report.summary(), "tables": report.tables,
            "json": str(json_path), "markdown": str(md_path)}


@task(name="publish", cache_policy=NO_CACHE, persist_result=False)
def publish(tables: dict[str, pa.Table], sources: list[str], lake_root: str, run_id: str) -> dict:
    """Replace the rows of the sources this run read, stage whole tables, swap them in."""
    lake = Lake(lake_root)
    counts, unchanged = {}, []
    try:
        for name in PUBLISHED_TABLES:
            merged = upsert_by_source(lake.read_table(name), tables[name], set(sources))
            if lake.stage(run_id, name, merged) is None:
                unchanged.append(name)
            counts[name] = merged.num_rows
        lake.publish(run_id)
    finally:
        lake.discard(run_id)
    get_run_logger().info("published %s%s", ", ".join(f"{k}={v}" for k, v in counts.items()),
                          f" (unchanged: {', '.join(unchanged)})" if unchanged else "")
    return counts


# ---- the flow ----------------------------------------------------------------------------
def _run_id() -> str:
    from prefect.runtime import flow_run

    tail = (flow_run.id or uuid.uuid4().hex).replace("-", "")[:8]
    return _now().strftime("%Y%m%dT%H%M%SZ") + "-" + tail


@flow(name="gwr-lake", persist_result=False)
def gwr_lake(source: str = "seeds", lake: str = "lake", expectations: str | None = None) -> dict:
    """Government work reports under `source` -> bronze, silver and gold tables in `lake`."""
    run_id = _run_id()
    lk = Lake(lake)
    summary = {"run_id": run_id, "source": str(Path(source).resolve()),
               "lake": str(lk.root.resolve()), "started_at": _now().isoformat(), "status": "running"}
    get_run_logger().info("run %s: %s -> %s", run_id, summary["source"], summary["lake"])
    with lk.lock():
        try:
            panel_rows = _run(source, lake, run_id, expectations, summary)
        except Exception as exc:
            if summary["status"] == "running":
                summary.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            summary["finished_at"] = _now().isoformat()
            lk.write_manifest(run_id, summary)
            raise
        summary.update(status="published", finished_at=_now().isoformat())
        summary["manifest"] = str(lk.write_manifest(run_id, summary))

    create_markdown_artifact(key="gwr-lake-summary", markdown=format_summary(summary),
                             description=f"run {run_id}")
    shown = [{k: r[k] for k in ("source_name", "doc_index", "region", "indicator", "kind",
                                "measure", "year", "value", "unit", "qualifier", "status")}
             for r in as_dicts(panel_rows[:TABLE_ARTIFACT_ROWS])]
    create_table_artifact(key="gwr-lake-panel", table=shown,
                          description=f"indicator panel of run {run_id} "
                                      f"({len(shown)} of {len(panel_rows)} rows)")
    return summary


def _run(source: str, lake: str, run_id: str, expectations: str | None, summary: dict) -> list[PanelRow]:
    """The stages in order; fills `summary` as it goes. Returns the run's panel rows."""
    fetched = fetch(source, lake, run_id)
    split = clean_and_split(fetched.rows, lake, run_id)
    mentions = extract(split.rows, lake, run_id)
    panel = build_panel(split.rows, mentions.rows, lake, run_id)
    quarantined = fetched.quarantined + split.quarantined + mentions.quarantined + panel.quarantined
    batch = {
        "source_items": to_table("source_items", [r for f in fetched.rows for r in f.bronze_rows]),
        "reports": to_table("reports", [dict(vars(r), sha256=sha) for r, sha in split.rows]),
        "indicator_mentions": to_table("indicator_mentions", as_dicts(mentions.rows)),
        "indicator_panel": to_table("indicator_panel", as_dicts(panel.rows)),
    }
    summary.update(
        inputs=[{"source_name": f.source_name, "sha256": f.sha256, "bytes": f.byte_size,
                 "items": len(f.items), "new_in_bronze": f.new} for f in fetched.rows],
        batch={k: v.num_rows for k, v in batch.items()},
        new_in_bronze=sum(f.new for f in fetched.rows),
        quarantined=[{k: v for k, v in q.items() if k != "time"} for q in quarantined],
    )
    if not fetched.rows:
        raise RuntimeError(f"no usable input under {source}: all {len(quarantined)} file(s) "
                           f"quarantined (see {Lake(lake).table_dir('quarantine')})")

    result = validate(batch, lake, run_id, expectations)
    summary["validation"] = result
    if not result["success"]:
        summary.update(status="failed_validation", published=False)
        raise ValidationFailed(f"{result['summary']} -- nothing was published, the previous "
                               f"tables stay; full report: {result['markdown']}")
    summary["published"] = publish(batch, [f.source_name for f in fetched.rows], lake, run_id)
    return panel.rows


def format_summary(s: dict) -> str:
    """A short Markdown summary of a run (also printed by the CLI)."""
    b, p = s.get("batch", {}), s.get("published", {})
    root = s.get("lake", "")
    lines = [
        f"## gwr-lake run {s['run_id']}: {s.get('status')}",
        "",
        f"- source: {s['source']} ({len(s.get('inputs', []))} file(s) read, "
        f"{s.get('new_in_bronze', 0)} new in bronze)",
        "",
        "| layer | table | this run | in the lake |",
        "|---|---|---|---|",
        f"| bronze | source_items | {b.get('source_items', 0)} | |",
        f"| silver | reports | {b.get('reports', 0)} | {p.get('reports', '-')} |",
        f"| gold | indicator_mentions | {b.get('indicator_mentions', 0)} | {p.get('indicator_mentions', '-')} |",
        f"| gold | indicator_panel | {b.get('indicator_panel', 0)} | {p.get('indicator_panel', '-')} |",
        "",
        f"- validation: {s.get('validation', {}).get('summary', 'not run')}",
        f"- quarantined: {len(s.get('quarantined', []))}",
    ]
    for q in s.get("quarantined", [])[:20]:
        lines.append(f"  - {q['source_name']} ({q['stage']}): {q['reason'][:200]}")
    lines += [f"- lake: {root}", f"- manifest: {s.get('manifest', '-')}"]
    return "\n".join(lines)
