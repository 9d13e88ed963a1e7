"""Screening: decoded items no report can be made of (no Chinese, no number) -> item errors."""
from __future__ import annotations

import re

from ..model import SourceError, SourceItem
from .decode import _CJK
from .values import item_error

NUMBER = re.compile("[0-9\uff10-\uff19\u3007零一二三四五六七八九十百千万亿两壹贰叁肆伍陆柒捌玖拾佰仟]")
RECORD_CONTAINERS = ("csv", "jsonl", "xlsx", "xls")


def content_problem(item: SourceItem) -> SourceError | None:
    """Why an item cannot be a government work report, or None: no Chinese text (English,
    a path, garbage a legacy codec decoded without error), or no number at all once the
    cleaner has removed watermarks, footers and the like (a cover page, a site's navigation,
    a speech without figures): nothing could be extracted from it. Cheap (the lines are classified
    only up to the first body line with a number, clean.body_has) and pure."""
    from ..clean import body_has
    from ..normalise import normalise

    text = item.text
    where = item.source_name + (f" item {item.item_index}" if item.container in RECORD_CONTAINERS else "")
    if _CJK.search(text) is None:
        shown = text.strip()[:60]
        return item_error(
            f"{where}: the text holds no Chinese character "
            f"({len(text):,} characters decoded as {item.encoding}, it starts {shown!r}): a "
            "government work report is Chinese text. Check that this is the report, and that the "
            "file is not in an encoding that was mistaken for another (save it as UTF-8).",
            "not_chinese", item.item_index)
    if NUMBER.search(text) is None or not body_has(normalise(text), NUMBER):
        return item_error(
            f"{where}: there is no number in the text once boilerplate (watermarks, footers, "
            "navigation) is removed, so no indicator can be extracted: a government work report "
            "always has figures. Check that this is the report itself, not a cover page, an index "
            "or a web page's frame.", "no_numbers", item.item_index)
    return None


def screen_items(items: list[SourceItem], errors: list[SourceError] | None = None
                 ) -> tuple[list[SourceItem], list[SourceError]]:
    """Split decoded items into those worth processing and item errors for the rest (see
    content_problem). read_items does not screen: it reads any text; the flow screens."""
    kept, errs = [], list(errors or [])
    for item in items:
        problem = content_problem(item)
        (errs if problem else kept).append(problem or item)
    return kept, errs
