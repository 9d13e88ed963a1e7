"""read: one source file's bytes -> its items (SourceItem). Pure: it receives bytes, never opens
a file; one module per format.

    expand_source(name, data) -> ([(name, bytes)], errors)   an archive's files (nested ones too),
                                                              or the source itself
    read_items_with_errors(name, data) -> (items, errors)    one source (not an archive)
    read_items(name, data) -> items
    screen_items(items) -> (kept, errors)                    items no report can be made of

The format is told by the bytes first, the name second: a PDF, a Word document (.docx, legacy
.doc), a workbook (.xlsx, .xls), a ZIP archive; else text, decoded (decode.py) and read as
HTML, CSV/TSV, JSON Lines or plain text by its extension and content.

item_index: 1 for a document (txt, html, pdf, docx, doc); for a table the 1-based data row
(header excluded); for JSON Lines the 1-based physical line number (for a .json list: the list
position). Skipped records keep their number, so an item's index does not move when a bad
record is fixed. File-level problems raise SourceError; record-level problems are returned as
errors carrying `.item_index`.
"""
from __future__ import annotations

import logging
import re

from ..model import SourceError, SourceItem
from .archive import Caps, expand, zip_kind
from .decode import _CJK, decode_bytes
from .html import html_item, html_to_text
from .screen import NUMBER, content_problem, screen_items

log = logging.getLogger(__name__)

__all__ = ["read_items", "read_items_with_errors", "reading_family", "screen_items", "content_problem", "decode_bytes",
           "detect_container", "html_to_text", "expand_source", "format_of", "SUFFIXES", "Caps", "NUMBER"]

_EXT_CONTAINER = {
    "txt": "txt", "text": "txt", "": "txt",
    "html": "html", "htm": "html", "xhtml": "html", "shtml": "html",
    "csv": "csv", "tsv": "csv",
    "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl",
}
# the file types read; anything else is quarantined as unsupported
SUFFIXES = tuple("." + e for e in _EXT_CONTAINER if e) + (
    ".pdf", ".docx", ".doc", ".wps", ".xlsx", ".xlsm", ".xls", ".zip")
_HTML_DOC = re.compile(r"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|meta\s[^>]*charset)", re.I)
_HTML_TAG = re.compile(r"</?(?:p|div|br|span|table|tr|td|li|ul|ol|a|h[1-6]|font|center|title)\b[^>]*>", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _extension(source_name: str) -> str:
    base = source_name.replace("\\", "/").rsplit("/", 1)[-1]
    if "." not in base.lstrip("."):
        return ""
    return base.rsplit(".", 1)[-1].lower()


def format_of(source_name: str, data: bytes) -> str:
    """pdf | docx | xlsx | xls | doc | zip | office_encrypted | text: the bytes decide, the
    extension only where the bytes leave it open (an OLE container)."""
    if data[:1024].lstrip(b"\x00\t\n\r\x0c ").startswith(b"%PDF-"):
        return "pdf"
    kind = zip_kind(data)
    if kind == "zip" and _extension(source_name) in ("docx", "xlsx", "xlsm"):
        return "xlsx" if _extension(source_name) != "docx" else "docx"   # a damaged package
    if kind:
        return kind
    if data.startswith(_OLE):
        head = data[:1 << 20]
        if "EncryptedPackage".encode("utf-16-le") in head:
            return "office_encrypted"
        if "WordDocument".encode("utf-16-le") in head:
            return "doc"
        if "Workbook".encode("utf-16-le") in head or "Book".encode("utf-16-le") in head:
            return "xls"
        ext = _extension(source_name)
        return "xls" if ext == "xls" else "doc"
    return "text"


def reading_family(what) -> str:
    """How bytes are read: "table" (.csv / .tsv), "records" (.jsonl / .json) or "text" (anything
    else: plain text and HTML tell themselves apart, binary formats are known by their bytes).
    `what` is a source name, or the containers of the items a reading gave (source_items)."""
    containers = [detect_container(what)] if isinstance(what, str) else list(what)
    fams = {"csv": "table", "jsonl": "records"}
    found = {fams.get(c, "text") for c in containers if c}
    return found.pop() if len(found) == 1 else "text"


def looks_like_html(text: str) -> bool:
    """Clearly HTML: it starts with a tag, and declares an html document or is full of tags."""
    head = text[:4096].lstrip("\ufeff \t\n")
    if not head.startswith("<"):
        return False
    return bool(_HTML_DOC.search(head)) or len(_HTML_TAG.findall(head)) >= 5


def detect_container(source_name: str, text: str | None = None) -> str:
    """Container of a text file from the extension; a .txt (or unknown extension) holding HTML is
    html; a .html holding no tag at all is txt."""
    ext = _extension(source_name)
    container = _EXT_CONTAINER.get(ext, "txt")
    if text is not None:
        if container == "txt" and looks_like_html(text):
            return "html"
        if container == "html" and not re.search(r"<[A-Za-z!/?]", text[:65536]):
            return "txt"
    return container


def _meta_charset(data: bytes) -> str | None:
    m = _META_CHARSET.search(data[:4096])
    return m.group(1).decode("ascii") if m else None


def expand_source(source_name: str, data: bytes, caps: Caps = Caps()
                  ) -> tuple[list[tuple[str, bytes]], list[SourceError]]:
    """A source -> the sources it holds: [(source_name, data)] for a file, the files of a ZIP
    archive named `archive.zip/member` (archive.py). Errors of single members carry
    `.source_name`; a damaged archive or a zip bomb raises SourceError."""
    if format_of(source_name, data) != "zip":
        return [(source_name, data)], []
    return expand(source_name, data, caps)


def read_items(source_name: str, data: bytes) -> list[SourceItem]:
    """bytes of one source file -> its items. Raises SourceError when nothing usable is in it.
    Item-level errors of a file that also has good items are logged; use read_items_with_errors
    to get them."""
    items, errors = read_items_with_errors(source_name, data)
    if not items:
        codes = {e.code for e in errors}
        shown = "; ".join(e.reason for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        counted = "1 record was" if len(errors) == 1 else f"{len(errors)} records were"
        raise SourceError(f"{source_name}: no usable item; {counted} rejected: {shown}{more}",
                          codes.pop() if len(codes) == 1 else "no_items")
    for e in errors:
        log.warning("%s", e.reason)
    return items


def read_items_with_errors(source_name: str, data: bytes) -> tuple[list[SourceItem], list[SourceError]]:
    """bytes -> (good items, item-level errors). File-level problems raise SourceError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"read_items wants the file's bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise SourceError(f"{source_name}: the file is empty (0 bytes); supply the report text.", "empty")
    kind = format_of(source_name, data)
    if kind == "pdf":
        from .pdf import read_pdf
        return [read_pdf(source_name, data)], []
    if kind == "docx":
        from .docx import read_docx
        return [read_docx(source_name, data)], []
    if kind == "doc":
        from .doc import read_doc
        return [read_doc(source_name, data)], []
    if kind in ("xlsx", "xls"):
        from .tables import read_workbook
        return read_workbook(source_name, data, kind)
    if kind == "office_encrypted":
        raise SourceError(f"{source_name}: the Office document is password-protected; save an unprotected "
                          "copy.", "encrypted")
    if kind == "zip":
        raise SourceError(f"{source_name}: this is a ZIP archive: its files are sources of their own "
                          "(expand_source gives them).", "archive")
    ext = _extension(source_name)
    declared = _meta_charset(data) if _EXT_CONTAINER.get(ext, "txt") in ("html", "txt") else None
    text, encoding = decode_bytes(data, declared=declared, source_name=source_name)
    container = detect_container(source_name, text)
    if container == "html":
        return [html_item(source_name, text, encoding)], []
    if container == "csv":
        from .tables import read_csv
        return read_csv(source_name, text, encoding, delimiter="\t" if ext == "tsv" else None)
    if container == "jsonl":
        from .jsonl import read_json
        return read_json(source_name, text, encoding)
    return [SourceItem(source_name, 1, "txt", encoding, text)], []
