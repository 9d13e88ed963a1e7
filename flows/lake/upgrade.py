"""Lakes made before the tables were Delta tables (plain Parquet layers published by a journal
and a folder exchange): the first run of this version rebuilds them from their bronze.

Nothing is lost: bronze, quarantine, manifests and validation reports stay where they are; the
old silver and gold folders are moved aside to _previous_layout/<time>/ (a reader can still open
them); the sources the old lake held are read again from bronze, under their names, by the run
that found the old layout. A run that dies before its publish leaves the old tables aside and no
Delta source index: the next run finds the upgrade unfinished and rebuilds the same sources.

The old lake's source index is in silver/_version.json ("sources"); a lake older than that has
it in its pointer (_current.json: "inputs", every live source and its sha256), and one older
still only in its silver reports' rows (source_name, sha256), as the old code's _live_inputs
read them.
"""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

from .storage import Storage

ASIDE = "_previous_layout"
OLD_MARKERS = (("silver", "_version.json"), ("gold", "_version.json"))


def _json(s: Storage, *parts: str):
    raw = s.read_bytes(*parts)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _old_pointer(s: Storage, *at: str) -> dict | None:
    p = _json(s, *at, "_current.json")
    return p if isinstance(p, dict) and "tables" in p and "versions" not in p else None


def _has_plain_parquet(s: Storage, *at: str) -> bool:
    """A gold or silver table folder holding Parquet files but no _delta_log."""
    for layer, table in (("silver", "reports"), ("gold", "indicator_panel")):
        if s.exists(*at, layer, table) and not s.exists(*at, layer, table, "_delta_log"):
            return True
    return False


def _reports_index(s: Storage, *at: str) -> dict:
    """{source_name: {sha256}} of the rows of an old silver reports table."""
    import pyarrow.parquet as pq

    out: dict = {}
    for name in s.list(*at, "silver", "reports", suffix=".parquet"):
        raw = s.read_bytes(*at, "silver", "reports", name)
        if not raw:
            continue
        t = pq.read_table(io.BytesIO(raw), columns=["source_name", "sha256"])
        for n, sha in zip(t["source_name"].to_pylist(), t["sha256"].to_pylist()):
            out.setdefault(n, {"sha256": sha})
    return out


def _index(s: Storage, *at: str) -> dict | None:
    """The source index of an old lake (at the folder `at` of the lake), or None when it is none."""
    marker = _json(s, *at, *OLD_MARKERS[0])
    found = (marker.get("sources") or {}) if isinstance(marker, dict) else None
    pointer = _old_pointer(s, *at)
    if not found and pointer is not None:
        found = {i["source_name"]: {"sha256": i.get("sha256")} for i in pointer.get("inputs") or []
                 if isinstance(i, dict) and i.get("source_name")} or pointer.get("sources") or {}
    if not found and _has_plain_parquet(s, *at):
        found = _reports_index(s, *at)
    if found is None and s.exists(*at, *OLD_MARKERS[1]):
        found = {}
    return found


def old_sources(s: Storage) -> dict | None:
    """The source index of a lake in the previous layout ({source_name: {sha256, ...}}), or None
    when the lake is not one (new, or already Delta)."""
    return _index(s)


def unfinished(s: Storage) -> tuple[str, dict] | None:
    """An upgrade a run began (the old tables are aside) that no publish finished (the Delta
    source index, committed last, has no row yet): (where the old tables are, the sources to
    rebuild), else None."""
    from .tables import DeltaTables

    stamps = sorted(s.folders(ASIDE))
    if not stamps or DeltaTables(s).read("sources", columns=["source_name"]).num_rows:
        return None
    index: dict = {}
    for stamp in stamps:        # a run that died while setting aside left two: both count
        index.update(_index(s, ASIDE, stamp) or {})
    return (s.uri(ASIDE, stamps[-1]), index) if index else None


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
