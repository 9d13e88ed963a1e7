"""target_attainment: for each region, indicator, measure and year Y, the target set by the
report that planned Y beside the actual reported by the report that reviewed Y.

status: met / met_about / missed when both sides are known; unknown when the actual is not
(yet) in the lake or the target was explicitly not set. The rule per target qualifier:
  at_most (or an indicator where lower is better: unemployment, CPI): met if actual <= cap
  range: met if actual >= the low end;   plain / at_least / about: met if actual >= target
A target qualified "about" (左右, 约) that the actual misses by no more than the TOLERANCE is
met_about: 7.4 against "7.5%左右" is neither plainly met nor plainly missed. The tolerance is in
percentage points for a rate (default 0.5: Settings.attainment_tolerance) and in percent of the
target for a level. gap = actual - target (the cap for at_most targets; the low end for ranges),
kept raw whatever the status.
"""
from __future__ import annotations

from . import vocab as vocab_mod
from .model import AttainmentRow, PanelRow


def doc_id(source_name: str, doc_index) -> str:
    """The document a value comes from, as the reference labels name it: its source's name
    without the extension, #, its index in the source (000_c9b0bbd917161d38#1). A source in a
    subfolder keeps its folder (2023/hailar#1): two folders may hold files of the same name."""
    folder, _, name = source_name.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{folder + '/' if folder else ''}{stem}#{doc_index}"


def _doc(r: PanelRow) -> str:
    return doc_id(r.source_name, r.doc_index)


DEFAULT_TOLERANCE = 0.5


def _within(t: PanelRow, miss: float, tolerance: float) -> bool:
    """An "about" target missed by `miss` (> 0) within the tolerance."""
    if t.qualifier != "about" or miss <= 0:
        return False
    allowed = tolerance if t.unit == "percent" else abs(t.value) * tolerance / 100
    return miss <= allowed + 1e-9


def target_attainment(panel: list[PanelRow], tolerance: float = DEFAULT_TOLERANCE) -> list[AttainmentRow]:
    lower = vocab_mod.load().lower_is_better
    actuals: dict[tuple, PanelRow] = {}
    for r in panel:
        if r.kind == "actual" and r.status == "reported" and r.region and r.year is not None:
            key = (r.region, r.indicator, r.measure, r.year)
            # two reports may review the same year (a re-published report): keep the final,
            # non-estimated figure
            if key not in actuals or (actuals[key].estimate and not r.estimate):
                actuals[key] = r
    out = []
    for t in panel:
        if t.kind != "target" or not t.region or t.year is None:
            continue
        a = actuals.get((t.region, t.indicator, t.measure, t.year))
        status, gap = "unknown", None
        if t.status == "reported" and a is not None and t.value is not None and a.value is not None:
            cap = t.qualifier == "at_most" or t.indicator in lower
            if cap:
                bound = t.value_high if t.value_high is not None else t.value
                gap, miss = a.value - bound, a.value - bound
            else:
                gap, miss = a.value - t.value, t.value - a.value
            status = "met" if miss <= 1e-9 else "met_about" if _within(t, miss, tolerance) else "missed"
        out.append(AttainmentRow(
            region=t.region, indicator=t.indicator, measure=t.measure, year=t.year,
            target=t.value, target_high=t.value_high, target_qualifier=t.qualifier,
            target_status=t.status, actual=a.value if a else None,
            actual_estimate=a.estimate if a else None, unit=t.unit or (a.unit if a else None),
            status=status, gap=round(gap, 10) if gap is not None else None,
            target_source=_doc(t), actual_source=_doc(a) if a else None,
            target_quote=t.quote, actual_quote=a.quote if a else None))
    out.sort(key=lambda r: (r.region, r.year, r.indicator, r.measure))
    return out
