"""Lakes made before the tables were Delta tables (plain Parquet layers published by a journal
and a folder exchange): the first run of this version rebuilds them from their bronze.

Nothing is lost: bronze, quarantine, manifests and validation reports stay where they are; the
old silver and gold folders are moved aside to _previous_layout/<time>/ (a reader can still open
them); the sources the old lake held are read again from bronze, under their names, by the run
that found the old layout.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from .storage import Storage

ASIDE = "_previous_layout"
OLD_MARKERS = (("silver", "_version.json"), ("gold", "_version.json"))


def _old_pointer(s: Storage) -> dict | None:
    raw = s.read_bytes("_current.json")
    if not raw:
        return None
    try:
        p = json.loads(raw)
    except ValueError:
        return None
    return p if isinstance(p, dict) and "tables" in p and "versions" not in p else None


def old_sources(s: Storage) -> dict | None:
    """The source index of a lake in the previous layout ({source_name: {sha256, ...}}), or None
    when the lake is not one (new, or already Delta)."""
    found = None
    raw = s.read_bytes(*OLD_MARKERS[0])
    if raw:
        try:
            found = json.loads(raw).get("sources") or {}
        except ValueError:
            found = {}
    pointer = _old_pointer(s)
    if found is None and pointer is not None:
        found = pointer.get("sources") or {}
    if found is None and _has_plain_parquet(s):
        found = {}
    return found


def _has_plain_parquet(s: Storage) -> bool:
    """A gold or silver table folder holding Parquet files but no _delta_log."""
    for layer, table in (("silver", "reports"), ("gold", "indicator_panel")):
        if s.exists(layer, table) and not s.exists(layer, table, "_delta_log"):
            return True
    return False


def set_aside(s: Storage) -> str:
    """Move the old silver and gold folders (and the old pointer) to _previous_layout/<time>/."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for name in ("silver", "gold"):
        if s.exists(name):
            s.move_tree((name,), (ASIDE, stamp, name))
    raw = s.read_bytes("_current.json")
    if raw is not None and _old_pointer(s) is not None:
        s.write_bytes(raw, ASIDE, stamp, "_current.json")
        s.delete("_current.json")
    s.delete("_journal.json")
    s.delete_tree("_trash")
    return s.uri(ASIDE, stamp)
