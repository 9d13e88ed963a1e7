"""Versions for people: the history of every table, reading the lake as it was, naming a version
for a paper or a dashboard release, and removing old files without losing a named version.

A *set* is one version of every Delta table, as one publish left them (its manifest and
_current.json record it). `resolve` turns what a person writes into a set:

    None / "current"      the last publish (_current.json)
    "latest"              every table's newest version (what a reader of one table sees)
    a tag name            the set `flows tag NAME` recorded
    a run id              the set that run published (manifests/<run_id>.json)
    an ISO timestamp      the last publish at or before it
    a number N            the publish that made indicator_panel's version N
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import LakeError
from .records import utcnow
from ..schemas import DELTA_TABLES

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
DEFAULT_RETENTION_DAYS = 30


def _published(lake) -> list[dict]:
    return [m for m in lake.records.manifests() if m.get("status") == "published" and m.get("versions")]


def _when(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def resolve(lake, spec: str | None) -> dict[str, int]:
    """A set of table versions from what a person wrote (see the module's docstring)."""
    if spec in (None, "", "current"):
        cur = lake.records.current()
        return dict(cur["versions"]) if cur and cur.get("versions") else lake.latest_versions()
    if spec == "latest":
        return lake.latest_versions()
    tags = lake.records.tags()
    if spec in tags:
        return dict(tags[spec]["versions"])
    published = _published(lake)
    if RUN_ID.match(spec):
        for m in published:
            if m.get("run_id") == spec:
                return dict(m["versions"])
        raise LakeError(f"no published run {spec} in this lake (flows history lists them)")
    if spec.isdigit():
        n = int(spec)
        for m in published:
            if m["versions"].get("indicator_panel") == n:
                return dict(m["versions"])
        raise LakeError(f"no publish made version {n} of indicator_panel (flows history lists them)")
    try:
        when = _when(spec)
    except ValueError:
        raise LakeError(f"{spec!r} is not a tag, a run id, a version number or an ISO time "
                        "(e.g. 2026-03-01T12:00)") from None
    before = [m for m in published if m.get("published_at") and _when(m["published_at"]) <= when]
    if not before:
        raise LakeError(f"nothing was published at or before {spec}")
    return dict(before[-1]["versions"])


def history(lake) -> list[dict]:
    """Every version of every table, newest first within a table: version, time, operation,
    run id, code version, rows (at that version), rows added / removed, and the tags naming it."""
    tags = lake.records.tags()
    out = []
    for table in DELTA_TABLES:
        for h in lake.tables.history(table):
            h["tags"] = ",".join(sorted(n for n, t in tags.items() if t["versions"].get(table) == h["version"]))
            out.append(h)
    return out


def tag(lake, name: str, spec: str | None = None, note: str = "") -> dict:
    """Name a set (the current one by default); a name is never reused for another set."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name) or RUN_ID.match(name) or name.isdigit():
        raise LakeError(f"{name!r} cannot be a tag: use letters, digits, . _ - (e.g. paper-2026-spring)")
    if name in ("current", "latest"):
        raise LakeError(f"{name!r} is reserved")
    tags = lake.records.tags()
    versions = resolve(lake, spec)
    if name in tags:
        if tags[name]["versions"] == versions:
            return tags[name]
        raise LakeError(f"tag {name!r} already names another set; choose another name")
    cur = lake.records.current() or {}
    tags[name] = {"versions": versions, "created_at": utcnow(), "note": note,
                  "run_id": cur.get("run_id") if spec in (None, "", "current") else None}
    lake.records.write_tags(tags)
    return tags[name]


def compact(lake) -> dict:
    """Each table's small files (one or more per run) rewritten into large ones, as new versions
    of the same rows; the pointer then names them (the set a reader sees does not change).
    -> {table: files compacted}."""
    from datetime import datetime

    cur = lake.records.current() or {}
    run_id = "maintenance-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    code = cur.get("code_version", "")
    done = {t: lake.tables.compact(t, run_id, code) for t in DELTA_TABLES}
    if any(done.values()) and cur:
        lake.point(cur.get("run_id", run_id), code, {k: v for k, v in cur.items()
                                                     if k not in ("run_id", "published_at", "code_version", "versions")})
    return done


def vacuum(lake, retention_days: float = DEFAULT_RETENTION_DAYS, dry_run: bool = False) -> dict:
    """Delete the table files that no version younger than the retention needs, keeping every
    tagged version and the current set whatever their age. -> {table: files removed}."""
    keep: dict[str, set[int]] = {t: set() for t in DELTA_TABLES}
    for t in lake.records.tags().values():
        for table, v in t["versions"].items():
            keep.setdefault(table, set()).add(v)
    for table, v in (lake.records.current() or {}).get("versions", {}).items():
        keep.setdefault(table, set()).add(v)
    hours = max(0, int(retention_days * 24))
    return {table: lake.tables.vacuum(table, hours, sorted(keep.get(table, ())), dry_run=dry_run)
            for table in DELTA_TABLES}
