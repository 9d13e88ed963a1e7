"""Word documents (.docx) -> one item: the body's paragraphs and tables in document order
(python-docx). Table rows become lines, their cells tab-separated; running headers and footers
of the page are not part of the body and stay out."""
from __future__ import annotations

import io

from ..model import SourceError, SourceItem


def read_docx(source_name: str, data: bytes) -> SourceItem:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SourceError(f"{source_name}: the Word document cannot be opened ({type(exc).__name__}: "
                          f"{str(exc)[:200]}): it is damaged or not a .docx. Open it in Word or "
                          "LibreOffice and save it again as .docx.", "bad_document") from None
    lines: list[str] = []
    try:
        for block in doc.iter_inner_content():
            if hasattr(block, "rows"):
                lines += _table_lines(block)
            else:
                lines.append(block.text)
    except Exception as exc:  # noqa: BLE001 - a malformed part of the document
        raise SourceError(f"{source_name}: the Word document could not be read ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); save it again as .docx.", "bad_document") from None
    text = "\n".join(lines)
    if not text.strip():
        raise SourceError(f"{source_name}: the Word document has no text (only images or empty "
                          "pages?); OCR it or find a text version of the report.", "empty")
    title = (doc.core_properties.title or "").strip() or None
    return SourceItem(source_name, 1, "docx", "docx", text, title=title)


def _table_lines(table) -> list[str]:
    out = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            t = cell.text.replace("\n", " ").strip()
            if not cells or cells[-1] != t:     # a merged cell is listed once per grid column
                cells.append(t)
        if any(cells):
            out.append("\t".join(cells))
    return out
