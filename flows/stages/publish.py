"""Stage 5, publish: what the run staged goes live, one Delta commit per table, then the pointer.

    reports, indicator_mentions, indicator_panel   the rows of the sources the run read replace
                                                   theirs (new sources are appended)
    indicator_wide, target_attainment              the rows of the regions the run changed (or
                                                   the whole tables, on a whole rebuild)
    sources                                        the source index: what the lake now holds
    _current.json                                  the set of versions readers see together

A run whose validation failed publishes nothing (the flow does not call this). A crash between
two commits leaves every table at its version before or after the run; the source index is
committed last, so the next run reads the run's sources again and its publish converges.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..schemas import BI_TABLES

ROW_TABLES = ("reports", "indicator_mentions", "indicator_panel")


@dataclass
class Published:
    versions: dict          # table -> version, the set the pointer names
    committed: list[str]    # tables this run changed
    rows: dict              # table -> rows at its version
    published_at: str = ""  # when the pointer named the set (ISO, UTC)

    def as_dict(self) -> dict:
        return {"versions": self.versions, "committed": self.committed, "rows": self.rows,
                "published_at": self.published_at}


def publish(lake_url: str, run_id: str, code_version: str, processed: list[str], index_rows: list[dict],
            bi_regions: list[str] | None, bi_staged: bool, extra: dict | None = None,
            bi_panel_version: int | None = None, replaced: list[str] | None = None) -> Published:
    """Commit the run's staged rows: `processed` the sources whose rows it replaces (and
    appends), `index_rows` their source-index entries (and of sources only re-listed),
    bi_regions the regions whose BI rows it replaces (None with bi_staged: the whole tables).

    The BI rows were built beside the panel's version bi_panel_version; when another writer
    (a concurrent run on object storage) committed to the panel since, they are not committed:
    the pointer marks the BI tables stale and the next run rebuilds them whole.

    A run that read only sources new to the lake (`replaced` empty) appends (nothing to find and
    remove: the commit's cost does not grow with the lake); one that read again sources the lake
    holds (`replaced`), or that cannot tell (None), overwrites the rows of all its sources in one
    commit."""
    import pyarrow as pa

    from ..lake import Lake
    from ..schemas import TABLES

    lake = Lake(lake_url)
    committed, rows = [], {}
    # replaced=None: not known which sources the tables hold: overwrite them all (safe)
    replace = ("source_name", processed) if processed and (replaced is None or replaced) else None
    for table in ROW_TABLES:
        data = _staged(lake, run_id, table, TABLES)
        done = lake.commit(table, data, run_id, code_version, replace=replace)
        if done is not None:
            committed.append(table)
            rows[table] = done.rows
    if bi_staged and bi_panel_version is not None:
        expected = bi_panel_version + ("indicator_panel" in committed)
        if lake.tables.version("indicator_panel") != expected:   # another writer moved the panel on
            bi_staged = False
            extra = dict(extra or {}, bi=dict((extra or {}).get("bi") or {}, stale=True))
    if bi_staged:
        for table in BI_TABLES:
            data = _staged(lake, run_id, table, TABLES)
            done = lake.commit(table, data, run_id, code_version,
                               replace=("region", bi_regions) if bi_regions is not None else None,
                               whole=bi_regions is None)
            if done is not None:
                committed.append(table)
                rows[table] = done.rows
    if index_rows:
        schema = TABLES["sources"][1]
        data = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in index_rows], schema=schema)
        done = lake.commit("sources", data, run_id, code_version,
                           replace=("source_name", [r["source_name"] for r in index_rows]))
        if done is not None:
            committed.append("sources")
            rows["sources"] = done.rows
    pointer = lake.point(run_id, code_version, extra)
    lake.staging.discard(run_id)
    return Published(pointer["versions"], committed, rows, pointer["published_at"])


def _staged(lake, run_id: str, table: str, tables):
    found = lake.staging.dataset(run_id, table)
    return found if found is not None else tables[table][1].empty_table()
