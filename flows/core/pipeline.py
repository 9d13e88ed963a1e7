"""The core stages chained for one item / one report. The Prefect flow calls exactly these."""
from __future__ import annotations

from .model import Mention, PanelRow, Report, SourceItem


def reports_from_item(item: SourceItem, first_doc_index: int = 1) -> list[Report]:
    """clean + split: one source item -> its reports (non-reports kept with is_report=False),
    numbered from first_doc_index (the reports of a source are numbered across its items)."""
    from .split import split_item
    return split_item(item, first_doc_index)


def mentions_from_report(report: Report) -> list[Mention]:
    """extract: every indicator mention of one report."""
    from .extract import extract_mentions
    return extract_mentions(report)


def panel_from_mentions(reports: list[Report], mentions: list[Mention]) -> list[PanelRow]:
    """panel: one headline row per (source_name, doc_index, indicator, kind, measure)."""
    from .panel import build_panel
    return build_panel(reports, mentions)
