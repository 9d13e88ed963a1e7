"""gwr-lake: Chinese government work reports -> region x year x indicator tables.

`from flows import extract; extract(text)` runs the pure core on a text and returns its panel
rows as a pandas DataFrame. Importing this package loads neither Prefect nor Great Expectations
(the flow lives in flows.flow, the validation in flows.quality).
"""
from __future__ import annotations

__all__ = ["extract", "extract_items", "panel_rows", "reports_of_item"]


def reports_of_item(item, first_doc_index: int = 1):
    """pipeline.reports_from_item: the reports numbered from first_doc_index (the reports of a
    source are numbered across its items, e.g. a JSONL of several reports)."""
    from .core import pipeline

    return pipeline.reports_from_item(item, first_doc_index)


def panel_rows(items):
    """SourceItems -> PanelRows through the pure core (clean, split, extract, panel); reports
    are numbered across the items of a source, as the flow does."""
    from collections import defaultdict

    from .core import pipeline

    by_source = defaultdict(list)
    for item in items:
        by_source[item.source_name].append(item)
    rows = []
    for name, its in by_source.items():
        reports, n = [], 0
        for item in its:
            got = reports_of_item(item, n + 1)
            n += sum(r.is_report for r in got)
            reports += [r for r in got if r.is_report]
        mentions = [m for r in reports for m in pipeline.mentions_from_report(r)]
        rows += pipeline.panel_from_mentions(reports, mentions)
    return rows


def extract_items(items):
    """SourceItems -> their panel rows as a DataFrame with the panel's columns."""
    import pandas as pd

    from .core.model import PanelRow, as_dicts, column_names

    return pd.DataFrame(as_dicts(panel_rows(items)), columns=column_names(PanelRow))


def extract(text: str, source_name: str = "text"):
    """Panel rows of a text (one or more reports) as a pandas DataFrame."""
    from .core.model import SourceItem

    item = SourceItem(source_name=source_name, item_index=1, container="txt", encoding="utf-8",
                      text=text)
    return extract_items([item])
