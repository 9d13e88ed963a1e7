"""The lake's own records beside its tables: quarantine, run manifests, validation reports, the
pointer to the last consistent set of table versions (_current.json), named versions (tags),
what HTTP sources said last time (their ETag and Last-Modified), and the report pages.

Each is a whole file written at once (Storage.write_bytes): whole or absent after a crash.
"""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from ..runtime.faults import crashpoint
from ..schemas import TABLES
from .storage import Storage

CURRENT = "_current.json"
TAGS = "_tags.json"
INPUT_STATE = ("_inputs", "http.json")


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat()


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True, default=str).encode("utf-8")


class Records:
    def __init__(self, storage: Storage):
        self.s = storage

    # ---- JSON files ------------------------------------------------------------------------
    def read_json(self, *parts: str):
        raw = self.s.read_bytes(*parts)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def write_json(self, obj, *parts: str) -> str:
        return self.s.write_bytes(_dumps(obj), *parts)

    # ---- quarantine ------------------------------------------------------------------------
    def write_quarantine(self, run_id: str, stage: str, rows: list[dict]) -> str | None:
        """One Parquet file of a run's quarantine records of one stage (none: nothing written)."""
        if not rows:
            return None
        schema = TABLES["quarantine"][1]
        table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        path = self.s.write_bytes(buf.getvalue(), "quarantine", f"{run_id}-{stage}.parquet")
        crashpoint("quarantine:written")
        return path

    def quarantine(self) -> pa.Table:
        schema = TABLES["quarantine"][1]
        parts = []
        for name in self.s.list("quarantine", suffix=".parquet"):
            raw = self.s.read_bytes("quarantine", name)
            if raw:
                parts.append(pq.read_table(io.BytesIO(raw)).select(schema.names).cast(schema))
        return pa.concat_tables(parts) if parts else schema.empty_table()

    # ---- manifests and validation reports ----------------------------------------------------
    def write_manifest(self, run_id: str, manifest: dict) -> str:
        path = self.write_json(manifest, "manifests", f"{run_id}.json")
        crashpoint("manifest:written")
        return path

    def manifests(self) -> list[dict]:
        """Every run's manifest, oldest first (run ids sort by time)."""
        out = []
        for name in self.s.list("manifests", suffix=".json"):
            m = self.read_json("manifests", name)
            if isinstance(m, dict):
                out.append(m)
        return out

    def write_text(self, text: str, *parts: str) -> str:
        return self.s.write_bytes(text.encode("utf-8"), *parts)

    def read_text(self, *parts: str) -> str | None:
        raw = self.s.read_bytes(*parts)
        return raw.decode("utf-8") if raw is not None else None

    # ---- the consistent set, tags ------------------------------------------------------------
    def current(self) -> dict | None:
        """The last publish: {run_id, published_at, code_version, versions: {table: version},
        rows: {table: rows}}; None for a lake never published."""
        got = self.read_json(CURRENT)
        return got if isinstance(got, dict) else None

    def write_current(self, pointer: dict) -> str:
        return self.write_json(pointer, CURRENT)

    def tags(self) -> dict:
        got = self.read_json(TAGS)
        return got if isinstance(got, dict) else {}

    def write_tags(self, tags: dict) -> str:
        return self.write_json(tags, TAGS)

    # ---- HTTP sources: their validators ------------------------------------------------------
    def input_state(self) -> dict:
        got = self.read_json(*INPUT_STATE)
        return got if isinstance(got, dict) else {}

    def write_input_state(self, state: dict) -> str:
        return self.write_json(state, *INPUT_STATE)
