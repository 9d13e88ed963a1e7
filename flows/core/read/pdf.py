"""PDF with a text layer -> one item: the body text, without the page furniture.

pdfminer.six lays each page out into text boxes (paragraphs) of lines. Then:
- running headers and footers go: a line in the top or bottom band of the page whose text
  (digits masked) recurs at about the same height on at least half of the pages (a date, the
  title, a URL, "2/13"), and page numbers in those bands ("— 3 —", "第3页", "2/13", "3");
- the hard-wrapped lines of a paragraph are joined without a space (a space only between two
  Latin letters or digits of words), so "500\\n亿元" is "500亿元" and a number cut at a line end is
  one number; a line that stops short of the box's right edge ends its paragraph; a paragraph
  cut by a page break (the page's last line does not end a sentence) is joined with the next
  page's first;
- spaces laid between Chinese characters by justified text go.
A PDF with no text layer (scanned pages) is refused with "no text layer: OCR it first".
"""
from __future__ import annotations

import io
import re
from collections import Counter

from ..model import SourceError, SourceItem

BAND = 0.12                 # the top and bottom share of a page where running lines live
_DIGITS = re.compile(r"\d+")
_PAGE_NO = re.compile(r"^(?:[-—–~\s]*\d{1,4}[-—–~\s]*|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
                      r"|\d{1,4}\s*/\s*\d{1,4}|(?:page|p\.)\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$", re.I)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_CJK_SPACE = re.compile(f"(?<=[{_CJK}])[ \t\u00a0]+(?=[{_CJK}0-9])|(?<=[0-9])[ \t\u00a0]+(?=[{_CJK}])")
_ENDS = tuple("。！？!?；;：:”」』)）")
_WORD = re.compile(r"[A-Za-z0-9]")


def read_pdf(source_name: str, data: bytes) -> SourceItem:
    pages = _layout(source_name, data)
    chars = sum(len(ln[1].strip()) for page in pages for _y, lines in page["boxes"] for ln in lines)
    if chars < 20:
        raise SourceError(f"{source_name}: the PDF has no text layer (its {len(pages)} page(s) are images, "
                          "scanned): OCR it first (e.g. ocrmypdf -l chi_sim), then load the PDF or its "
                          "text.", "no_text_layer")
    running = _running_lines(pages)
    paragraphs: list[str] = []
    carry = False
    for page in pages:
        first = True
        for lines in _body_boxes(page, running):
            for para in _paragraphs(lines):
                if first and carry and paragraphs:
                    paragraphs[-1] = _join([paragraphs[-1], para])
                else:
                    paragraphs.append(para)
                first = False
        carry = bool(paragraphs) and not paragraphs[-1].endswith(_ENDS)
    text = "\n".join(paragraphs)
    return SourceItem(source_name, 1, "pdf", "pdf", text, title=pages[0].get("title") if pages else None)


def _layout(source_name: str, data: bytes) -> list[dict]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextBox, LTTextLine
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    pages = []
    try:
        for page in extract_pages(io.BytesIO(data), laparams=LAParams()):
            boxes = []
            for box in page:
                if isinstance(box, LTTextBox):
                    lines = [(ln.y0, ln.get_text().rstrip("\n"), ln.x0, ln.x1, ln.height)
                             for ln in box if isinstance(ln, LTTextLine)]
                    boxes.append((box.y1, lines))
            pages.append({"height": page.height or 1.0, "boxes": boxes})
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise SourceError(f"{source_name}: the PDF is encrypted ({type(exc).__name__}); save an unprotected "
                          "copy, or its text.", "encrypted") from None
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AssertionError, IndexError,
            AttributeError, OverflowError, RecursionError) as exc:
        raise SourceError(f"{source_name}: the PDF cannot be read ({type(exc).__name__}: {str(exc)[:200]}): "
                          "it is damaged. Get it again, or extract its text (pdftotext -enc UTF-8).",
                          "bad_document") from None
    return pages


def _band(y: float, height: float) -> bool:
    return y >= height * (1 - BAND) or y <= height * BAND


def _signature(text: str, y: float) -> tuple[str, int]:
    return _DIGITS.sub("#", re.sub(r"\s+", "", text)), round(y / 6)


def _running_lines(pages: list[dict]) -> set:
    """(signature, height) of the lines repeated in the top/bottom bands of many pages."""
    if len(pages) < 2:
        return set()
    seen = Counter()
    for page in pages:
        keys = {_signature(t, y) for _by, lines in page["boxes"] for y, t, *_ in lines
                if t.strip() and _band(y, page["height"])}
        seen.update(keys)
    need = max(2, (len(pages) + 1) // 2)
    return {k for k, n in seen.items() if n >= need}


def _body_boxes(page: dict, running: set):
    """The lines (text, x0, x1, height) of each box, without running lines and page numbers."""
    for _y, lines in page["boxes"]:
        keep = []
        for y, t, x0, x1, h in lines:
            s = t.strip()
            if not s:
                continue
            if _band(y, page["height"]) and (_signature(t, y) in running or _PAGE_NO.match(s)):
                continue
            keep.append((s, x0, x1, h))
        if keep:
            yield keep


def _paragraphs(lines: list[tuple]) -> list[str]:
    """A box's lines -> its paragraphs: a line ending a sentence short of the box's right edge
    (by more than a character), or stopping short of two thirds of the box's width, ends one."""
    right = max(x1 for _t, _x0, x1, _h in lines)
    left = min(x0 for _t, x0, _x1, _h in lines)
    out, current = [], []
    for text, _x0, x1, h in lines:
        current.append(text)
        short = x1 < right - max(h, 4.0) * 1.2
        if (short and text.endswith(_ENDS)) or x1 < left + (right - left) * 0.66:
            out.append(_join(current))
            current = []
    if current:
        out.append(_join(current))
    return [p for p in out if p]


def _join(lines: list[str]) -> str:
    out = ""
    for line in lines:
        line = _CJK_SPACE.sub("", line.strip())
        if not line:
            continue
        if out and _WORD.match(out[-1]) and _WORD.match(line[0]) and not (out[-1].isdigit() and line[0].isdigit()):
            out += " "
        out += line
    return out
