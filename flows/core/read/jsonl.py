"""JSON Lines (one object per line), or a JSON list / object: one report per record.

item_index is the 1-based physical line number (for a .json list: the list position); a bad line
is an item error of its own and the others are read.
"""
from __future__ import annotations

import json

from ..model import SourceError, SourceItem
from .values import clean_str as _clean_str
from .values import item_error as _item_error
from .values import newlines as _newlines
from .values import parse_year as _parse_year
from .values import valid_text as _valid_text

JSON_TEXT_FIELDS = ("content", "full_text", "text", "body")
_JSON_META = {
    "title": ("title",),
    "year": ("year",),
    "url": ("url", "source_url"),
    "publish_date": ("publish_date", "date"),
}


def _json_get(obj: dict, names) -> object:
    for name in names:
        if name in obj:
            return obj[name]
    lowered = {k.lower(): v for k, v in obj.items() if isinstance(k, str)}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _json_item(source_name: str, obj, index: int, where: str, encoding: str):
    if not isinstance(obj, dict):
        return _item_error(f"{where} is a JSON {type(obj).__name__}, not an object; it is skipped.",
                           "bad_json", index)
    body = None
    for name in JSON_TEXT_FIELDS:
        value = _json_get(obj, (name,))
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        if isinstance(value, str) and value.strip():
            body = value
            break
    if body is None:
        keys = ", ".join(repr(k) for k in list(obj)[:20])
        return _item_error(f"{where} has no text in any of {', '.join(JSON_TEXT_FIELDS)} (keys: {keys}); "
                           "it is skipped.", "no_text_field", index)
    title = _json_get(obj, _JSON_META["title"])
    url = _json_get(obj, _JSON_META["url"])
    date = _json_get(obj, _JSON_META["publish_date"])
    return SourceItem(
        source_name, index, "jsonl", encoding, _valid_text(_newlines(body)),
        title=_clean_str(title) if isinstance(title, str) else None,
        year=_parse_year(_json_get(obj, _JSON_META["year"])),
        url=_clean_str(url) if isinstance(url, str) else None,
        publish_date=_clean_str(date) if isinstance(date, (str, int)) and not isinstance(date, bool) else None,
    )


def read_json(source_name: str, text: str, encoding: str):
    items: list[SourceItem] = []
    errors: list[SourceError] = []

    def add(result):
        (items if isinstance(result, SourceItem) else errors).append(result)

    stripped = text.strip()
    whole = None
    if stripped[:1] in ("[", "{"):
        try:
            whole = json.loads(stripped)
        except RecursionError:
            whole = None
        except json.JSONDecodeError as exc:
            if stripped[0] == "[" and exc.msg != "Extra data":
                raise SourceError(
                    f"{source_name}: the file is a JSON list but not valid JSON ({exc.msg} at line {exc.lineno}, "
                    f"column {exc.colno}); fix it, or write one JSON object per line (JSON Lines).",
                    "bad_json") from None
            whole = None  # JSON Lines: read line by line
    if isinstance(whole, list):
        for i, obj in enumerate(whole, 1):
            add(_json_item(source_name, obj, i, f"{source_name}: element {i}", encoding))
    elif isinstance(whole, dict):
        add(_json_item(source_name, whole, 1, f"{source_name}: the object", encoding))
    else:
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            where = f"{source_name}: line {lineno}"
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                msg = getattr(exc, "msg", type(exc).__name__)
                col = getattr(exc, "colno", None)
                at = f" at column {col}" if col else ""
                errors.append(_item_error(
                    f"{where} is not valid JSON ({msg}{at}; it starts {line.strip()[:40]!r}); the line is "
                    "skipped: fix it or remove it.", "bad_json", lineno))
                continue
            add(_json_item(source_name, obj, lineno, where, encoding))
    if not items and not errors:
        raise SourceError(f"{source_name}: the JSON holds no records.", "empty")
    return items, errors


