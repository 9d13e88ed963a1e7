"""Gold for BI, from the whole indicator panel. Pure: Arrow tables in, Arrow tables out; no
Prefect, no files (flows/lake/ writes them, the flow validates them first).

    indicator_wide      one row per (region, year, kind), one column per indicator x measure x
                        unit, named with the normalized unit: gdp_level_yuan, gdp_growth_pct,
                        grain_output_level_tonne, fdi_level_usd ... (flows/schemas.py lists them)
    target_attainment   the target set for year Y beside the actual reported for Y
                        (flows/core/attainment.py)

Both need the panel of every source in the lake, not one run's batch: the target of 2012 is in
hailar_2012.txt and its actual in hailar_2013.txt.
"""
from __future__ import annotations

import pyarrow as pa

from ..schemas import BI_TABLES, from_objects, to_table, wide_value_columns
from .attainment import DEFAULT_TOLERANCE, _doc, target_attainment
from .model import PanelRow, column_names


class WideColumnMissing(ValueError):
    """A panel value whose (indicator, measure, unit) has no indicator_wide column."""


def panel_rows(panel: pa.Table) -> list[PanelRow]:
    """An indicator_panel table -> PanelRows, in a fixed order (the panel's key). Column by
    column, the rows made positionally (no dict per row)."""
    names = column_names(PanelRow)
    rows = list(map(PanelRow, *(panel.column(n).to_pylist() for n in names)))
    rows.sort(key=lambda r: (r.source_name, r.doc_index, r.indicator, r.kind, r.measure))
    return rows


def _column(cols: dict, r: PanelRow) -> str | None:
    col = cols.get((r.indicator, r.measure, r.unit))
    if col is None and r.status == "no_target":  # an absent target may carry no unit
        col = next((c for (i, m, _), c in cols.items() if i == r.indicator and m == r.measure), None)
    return col


def indicator_wide(panel: pa.Table, rows: list[PanelRow] | None = None) -> pa.Table:
    """The panel pivoted: one row per (region, year, kind). Where two reports give a value for
    the same cell (a re-published report), the final figure beats an estimate (预计), then the
    first source in name order wins, as in target_attainment. Rows without a region or year
    cannot be placed and are left out. rows: panel_rows(panel), when the caller has them."""
    cols = wide_value_columns()
    best: dict[tuple, dict[str, PanelRow]] = {}
    meta: dict[tuple, dict] = {}
    absent: dict[tuple, dict[str, str]] = {}
    for r in panel_rows(panel) if rows is None else rows:
        if not r.region or r.year is None:
            continue
        key = (r.region, r.year, r.kind)
        m = meta.setdefault(key, {"region": r.region, "year": r.year, "kind": r.kind,
                                  "tier": None, "province": None})
        m["tier"] = m["tier"] or r.tier
        m["province"] = m["province"] or r.province
        col = _column(cols, r)
        if col is None:
            raise WideColumnMissing(
                f"indicator_wide has no column for {r.indicator} {r.measure} in {r.unit!r} "
                f"({_doc(r)}: {r.quote}); add the unit to flows/vocab/indicators.csv or "
                "flows/schemas.py wide_value_columns()")
        if r.status != "reported" or r.value is None:
            absent.setdefault(key, {}).setdefault(col, _doc(r))
            continue
        cells = best.setdefault(key, {})
        if col not in cells or (r.estimate, r.source_name, r.doc_index) < \
                (cells[col].estimate, cells[col].source_name, cells[col].doc_index):
            cells[col] = r
    out = []
    for key in sorted(meta):
        cells = best.get(key, {})
        no_target = {c: d for c, d in absent.get(key, {}).items() if c not in cells}
        row = dict(meta[key])
        row.update({c: r.value for c, r in cells.items()})
        row.update(n_values=len(cells), estimate=any(r.estimate for r in cells.values()),
                   no_target=",".join(c for c in cols.values() if c in no_target) or None,
                   sources=",".join(sorted({_doc(r) for r in cells.values()} | set(no_target.values()),
                                           key=_doc_order)))
        out.append(row)
    return to_table("indicator_wide", out)


def _doc_order(doc: str) -> tuple[str, int]:
    stem, _, n = doc.rpartition("#")
    return stem, int(n) if n.isdigit() else 0


def attainment(panel: pa.Table, rows: list[PanelRow] | None = None,
               tolerance: float = DEFAULT_TOLERANCE) -> pa.Table:
    """target_attainment of the whole panel, as a table of flows/schemas.py's schema. rows:
    panel_rows(panel), when the caller has them."""
    return from_objects("target_attainment",
                        target_attainment(panel_rows(panel) if rows is None else rows, tolerance))


def _both(panel: pa.Table, tolerance: float = DEFAULT_TOLERANCE) -> dict[str, pa.Table]:
    rows = panel_rows(panel)   # once for both tables
    return {"indicator_wide": indicator_wide(panel, rows),
            "target_attainment": attainment(panel, rows, tolerance)}


GROUP_ROWS = 50_000   # panel rows turned into Python rows at a time


def bi_tables(panel: pa.Table, group_rows: int = GROUP_ROWS,
              tolerance: float = DEFAULT_TOLERANCE) -> dict[str, pa.Table]:
    """Every BI table of a panel: {table name: Arrow table}. Both tables are per region (a row
    of either needs only panel rows of its region, and rows without a region are left out), so a
    large panel is done in groups of whole regions of about group_rows rows: memory stays that
    of a group, the rows are the same (sorted by each table's key, as the lake stores them)."""
    import pyarrow.compute as pc

    placed = panel.filter(pc.is_valid(panel["region"]))
    if placed.num_rows <= group_rows:
        return _both(placed, tolerance)
    counts = placed.group_by("region").aggregate([([], "count_all")]).sort_by("region")
    groups, cur, n = [], [], 0
    for region, k in zip(counts["region"].to_pylist(), counts["count_all"].to_pylist()):
        if cur and n + k > group_rows:
            groups.append(cur)
            cur, n = [], 0
        cur.append(region)
        n += k
    groups.append(cur)
    return concat_bi([_both(placed.filter(pc.is_in(placed["region"], value_set=pa.array(g, pa.string()))),
                            tolerance) for g in groups])


def bi_update(live: dict[str, pa.Table], panel: pa.Table,
              regions: list[str]) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    """The BI tables after the panel rows of some regions changed, without redoing the others:
    a row of either table needs only panel rows of its own region (bi_tables), so the rows of
    `regions` are rebuilt from `panel` (the live panel rows of those regions) and every other
    region's live rows are kept. Returns (the rebuilt rows, the whole tables); the whole tables
    equal bi_tables of the whole panel (tests/stages/test_stages_bi.py)."""
    import pyarrow.compute as pc

    value_set = pa.array(sorted(set(regions)), pa.string())
    rebuilt = bi_tables(panel.filter(pc.is_in(panel["region"], value_set=value_set)))
    whole = {}
    for name, table in rebuilt.items():
        old = live[name]
        kept = old.filter(pc.invert(pc.is_in(old["region"], value_set=value_set)))
        whole[name] = pa.concat_tables([kept, table.select(kept.schema.names).cast(kept.schema)])
    return rebuilt, whole


def region_groups(counts: dict[str, int], parts: int) -> list[list[str]]:
    """Regions (with their panel row counts) in at most `parts` groups of about equal rows, in
    region order."""
    if parts <= 1 or not counts:
        return [sorted(counts)]
    target = sum(counts.values()) / parts
    groups: list[list[str]] = [[]]
    acc = 0
    for region in sorted(counts):
        k = counts[region]
        if groups[-1] and acc + k / 2 > target * len(groups) and len(groups) < parts:
            groups.append([])
        groups[-1].append(region)
        acc += k
    return groups


def region_counts(table: pa.Table) -> dict[str, int]:
    """{region: rows} of a table's placed rows (a region)."""
    import pyarrow.compute as pc

    placed = table.select(["region"]).filter(pc.is_valid(table["region"]))
    counts = placed.group_by("region").aggregate([([], "count_all")])
    return dict(zip(counts["region"].to_pylist(), counts["count_all"].to_pylist()))


def concat_bi(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """BI tables of several region groups -> one set."""
    return {name: pa.concat_tables([p[name] for p in parts]) for name in BI_TABLES}
