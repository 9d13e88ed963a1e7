"""Stage 4, BI: indicator_wide and target_attainment (flows/core/bi.py) of the panel as the run's
publish will leave it, checked with their own suites before anything is published.

Both tables need the panel of every source in the lake, not one run's rows (the target of 2012
is in hailar_2012.txt, its actual in hailar_2013.txt); but a row of either needs only the panel
rows of its own region. So a run rebuilds the rows of the regions it changes -- the regions of
the rows it staged and of the live rows it replaces -- from the panel to be (the live rows of
those regions without the sources it re-read, plus its staged rows), and the publish replaces
exactly those regions' rows. A lake without BI tables, or whose BI settings changed, is rebuilt
whole.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ..schemas import BI_TABLES


@dataclass
class BIResult:
    regions: list[str] | None        # the regions rebuilt (None: all of them, a whole rebuild)
    rows: dict                       # table -> rows staged
    report: object                   # quality.validate.ValidationReport of the BI suites
    seconds: float
    record: dict | None = None       # where the flow recorded the report (validation/<run>-bi.*)
    panel_version: int | None = None  # the panel's version the tables were built beside

    @property
    def ok(self) -> bool:
        return self.report.success


def _regions(table: pa.Table) -> set[str]:
    return {r for r in table["region"].to_pylist() if r}


def panel_to_be(lake, run_id: str, replaced: list[str], regions: set[str] | None) -> pa.Table:
    """The panel as the publish will leave it (only `regions`' rows; None: all)."""
    where = ("region", sorted(regions)) if regions is not None else None
    live = lake.read("indicator_panel", where=where)
    if replaced:
        live = live.filter(pc.invert(pc.is_in(live["source_name"], value_set=pa.array(sorted(replaced), pa.string()))))
    staged = lake.staging.read(run_id, "indicator_panel", where=where)
    return pa.concat_tables([live, staged.select(live.schema.names).cast(live.schema)])


def build_bi(lake_url: str, run_id: str, replaced: list[str], whole: bool, suites_dir: str | None,
             tolerance: float) -> BIResult:
    """The BI rows of the regions the run changes (all when `whole`), validated and staged."""
    from ..core.bi import bi_tables
    from ..lake import Lake
    from ..quality.validate import validate_tables

    lake = Lake(lake_url)
    t0 = time.perf_counter()
    panel_version = lake.tables.version("indicator_panel")
    regions: set[str] | None = None
    if not whole:
        regions = _regions(lake.staging.read(run_id, "indicator_panel", columns=["region"]))
        if replaced:
            regions |= _regions(lake.read("indicator_panel", columns=["region"],
                                          where=("source_name", sorted(replaced))))
    panel = panel_to_be(lake, run_id, replaced, regions)
    tables = bi_tables(panel, tolerance=tolerance)
    report = validate_tables(tables, suites_dir)
    for name in BI_TABLES:
        lake.staging.write(run_id, name, "bi", tables[name])
    return BIResult(sorted(regions) if regions is not None else None,
                    {n: tables[n].num_rows for n in BI_TABLES}, report, round(time.perf_counter() - t0, 3),
                    panel_version=panel_version)
