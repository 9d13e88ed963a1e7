"""Tables with one report per row: CSV / TSV text, XLSX and XLS workbooks, as data vendors deliver
them. A header names the columns; the usual vendor names are recognised (Chinese and English):

    text       报告全文 全文 正文 内容 文本 full_text content text body
    year       年份 年度 year
    place      区县名称 区县 地区 地区名称 region
    city       所属城市 城市 地级市 city
    province   所属省份 省份 省 province
    code       行政区划代码 区划代码 区县代码 adcode
    title      报告标题 标题 题目 title
    url, publish_date

item_index is the 1-based data row (header excluded; in a workbook, the sheet row below the
header, blank rows counted, so it is the row an analyst finds in Excel minus the header rows). A
row without text is an item error with its row number; the other rows are read.
"""
from __future__ import annotations

import csv
import io
import sys

from ..model import SourceError, SourceItem
from .values import clean_str, item_error, parse_year, valid_text

COLUMNS = {
    "text": ("报告全文", "全文", "正文", "内容", "文本", "full_text", "content", "text", "body"),
    "year": ("年份", "年度", "year"),
    "place": ("区县名称", "区县", "县区名称", "地区", "地区名称", "region", "place"),
    "city": ("所属城市", "城市", "地级市", "所属地市", "city"),
    "province": ("所属省份", "省份", "省", "province"),
    "region_code": ("行政区划代码", "区划代码", "区县代码", "地区代码", "adcode", "region_code"),
    "title": ("报告标题", "标题", "题目", "title"),
    "url": ("source_url", "url", "链接", "网址", "来源链接"),
    "publish_date": ("publish_date", "发布日期", "发布时间", "date", "日期"),
}
TEXT_COLUMNS = COLUMNS["text"]
MAX_ROWS = 1_000_000


def _header_key(cell) -> str:
    return str(cell if cell is not None else "").strip().lstrip("\ufeff").strip().lower()


def column_map(header: list) -> dict[str, int]:
    """field -> column index of a header row (the first matching name of each field)."""
    keys = [_header_key(c) for c in header]
    cols = {}
    for field, names in COLUMNS.items():
        idx = next((keys.index(n) for n in names if n in keys), None)
        if idx is not None:
            cols[field] = idx
    return cols


def _no_text_column(source_name: str, header: list, where: str = "") -> SourceError:
    keys = [_header_key(c) for c in header if _header_key(c)]
    seen = ", ".join(repr(c[:40]) for c in keys[:20]) + (" ..." if len(keys) > 20 else "")
    return SourceError(
        f"{source_name}{where}: the table has no text column. Name the column that holds the report "
        f"text one of {', '.join(TEXT_COLUMNS)}; the columns seen are: {seen}.", "no_text_column")


def row_item(source_name: str, container: str, encoding: str, record: int, row: list,
             cols: dict[str, int], where: str, header: list) -> SourceItem | SourceError:
    """One data row -> an item, or an item error (no text)."""
    def cell(field):
        i = cols.get(field)
        return row[i] if i is not None and i < len(row) else None

    body = cell("text")
    body = valid_text(str(body)) if body is not None else ""
    if not body.strip():
        return item_error(f"{where} has no text in column {_header_key(header[cols['text']])!r}; the row "
                          "is skipped.", "empty_text", record)
    return SourceItem(
        source_name, record, container, encoding, body.replace("\r\n", "\n").replace("\r", "\n"),
        title=clean_str(cell("title")), year=parse_year(cell("year")), url=clean_str(cell("url")),
        publish_date=_date(cell("publish_date")), place=clean_str(cell("place")),
        city=clean_str(cell("city")), province=clean_str(cell("province")),
        region_code=clean_str(cell("region_code")))


def _date(value) -> str | None:
    if hasattr(value, "isoformat"):   # a spreadsheet date or datetime
        return value.isoformat()[:10]
    return clean_str(value)


# ---- CSV / TSV -----------------------------------------------------------------------------

def _raise_field_limit() -> None:
    limit = min(sys.maxsize, 2**31 - 1)
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


def _sniff_delimiter(text: str) -> str:
    first = text.lstrip("\n").split("\n", 1)[0]
    best, best_n = ",", 1
    for d in (",", "\t", ";", "|"):
        try:
            n = len(next(csv.reader([first], delimiter=d)))
        except (csv.Error, StopIteration):
            continue
        if n > best_n:
            best, best_n = d, n
    return best


def read_csv(source_name: str, text: str, encoding: str, delimiter: str | None = None):
    """CSV / TSV text -> (items, item errors). item_index: the data record number (header
    excluded, blank records not counted)."""
    _raise_field_limit()
    delimiter = delimiter or _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    items: list[SourceItem] = []
    errors: list[SourceError] = []
    header: list[str] | None = None
    cols: dict[str, int] = {}
    record = 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = row
                cols = column_map(header)
                if "text" not in cols:
                    raise _no_text_column(source_name, header)
                continue
            record += 1
            where = f"{source_name}: row {record} (ending on line {reader.line_num})"
            if len(row) > len(header):
                errors.append(item_error(
                    f"{where} has {len(row)} fields but the header has {len(header)}: the text probably "
                    f"holds unquoted {delimiter!r} delimiters; quote the fields. The row is skipped.",
                    "bad_row", record))
                continue
            got = row_item(source_name, "csv", encoding, record, row, cols, where, header)
            (items if isinstance(got, SourceItem) else errors).append(got)
    except csv.Error as exc:
        raise SourceError(f"{source_name}: the CSV is malformed near line {reader.line_num}: {exc}. Fix the "
                          "quoting, or export it again as standard CSV.", "bad_csv") from None
    if header is None:
        raise SourceError(f"{source_name}: the CSV is empty (no header row).", "empty")
    if not items and not errors:
        raise SourceError(f"{source_name}: the CSV has a header but no data rows.", "empty")
    return items, errors


# ---- workbooks -----------------------------------------------------------------------------

def _sheets_xlsx(source_name: str, data: bytes):
    """(sheet title, rows) of an XLSX workbook, rows as lists of cell values."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise SourceError(f"{source_name}: the XLSX workbook cannot be opened ({type(exc).__name__}: "
                          f"{str(exc)[:200]}): it is damaged or not a workbook. Open it in a spreadsheet "
                          "program and save it again as .xlsx or .csv.", "bad_workbook") from None
    try:
        for ws in wb.worksheets:
            yield ws.title, ws.iter_rows(values_only=True)
    finally:
        wb.close()


def _sheets_xls(source_name: str, data: bytes):
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except (xlrd.XLRDError, OSError, ValueError, AssertionError, IndexError, KeyError) as exc:
        raise SourceError(f"{source_name}: the XLS workbook cannot be opened ({type(exc).__name__}: "
                          f"{str(exc)[:200]}): it is damaged or not a workbook. Save it again as .xlsx or "
                          ".csv.", "bad_workbook") from None
    for sheet in book.sheets():
        yield sheet.name, (sheet.row_values(r) for r in range(sheet.nrows))


def read_workbook(source_name: str, data: bytes, kind: str):
    """An XLSX or XLS workbook -> (items, item errors): every sheet with a text column, its first
    non-empty row the header. item_index counts data rows across the sheets in order."""
    sheets = _sheets_xlsx(source_name, data) if kind == "xlsx" else _sheets_xls(source_name, data)
    items: list[SourceItem] = []
    errors: list[SourceError] = []
    headers_seen = []
    offset = 0
    try:
        for title, rows in sheets:
            header, cols, n = None, {}, 0
            for row in rows:
                row = list(row)
                if header is None:
                    if not any(c not in (None, "") for c in row):
                        continue
                    header, cols = row, column_map(row)
                    headers_seen.append(row)
                    if "text" not in cols:
                        break
                    continue
                n += 1
                if n > MAX_ROWS:
                    raise SourceError(f"{source_name}: sheet {title!r} has over {MAX_ROWS:,} rows; split "
                                      "the workbook.", "too_large")
                if not any(c not in (None, "") for c in row):
                    continue
                where = f"{source_name}: sheet {title!r} row {n + 1}"
                got = row_item(source_name, kind, kind, offset + n, row, cols, where, header)
                (items if isinstance(got, SourceItem) else errors).append(got)
            offset += n
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - a workbook library failing mid-read: the file is bad
        raise SourceError(f"{source_name}: the workbook could not be read ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); save it again as .xlsx or .csv.", "bad_workbook") from None
    if not items and not errors:
        if headers_seen and not any("text" in column_map(h) for h in headers_seen):
            raise _no_text_column(source_name, headers_seen[0])
        raise SourceError(f"{source_name}: the workbook has no data rows.", "empty")
    return items, errors
