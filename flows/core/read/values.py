"""Small helpers for the fields of a record (a table row, a JSON object): text, year, errors."""
from __future__ import annotations

import re

from ..model import SourceError

_SURROGATE = re.compile("[\ud800-\udfff]")


def item_error(reason: str, code: str, index: int) -> SourceError:
    """An error about one record of a file (its 1-based index), not the whole file."""
    err = SourceError(reason, code)
    err.item_index = index
    return err


def newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def valid_text(s: str) -> str:
    """JSON's \\uXXXX escapes can make lone surrogates, which no UTF-8 file (nor Parquet) can hold:
    a valid pair becomes its character, a lone one U+FFFD."""
    if _SURROGATE.search(s) is None:
        return s
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_str(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)      # a spreadsheet's 130608.0
    s = valid_text(newlines(str(value))).strip()
    return s or None


def parse_year(value) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int):
        year = value
    else:
        m = re.fullmatch(r"\s*(\d{4})(?:\.0+)?\s*(?:年度?)?\s*", str(value))
        if not m:
            return None
        year = int(m.group(1))
    return year if 1900 <= year <= 2100 else None
