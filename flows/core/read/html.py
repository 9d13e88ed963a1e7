"""HTML pages -> the report's text and the page's publication date.

The main content is found by trafilatura (navigation, breadcrumbs, share bars, related-article
lists and footers left out); when it returns too little of the page's visible text, the page is
read whole by the plain extractor below (block elements on their own lines, table cells
tab-separated, script/style/nav/hidden content dropped). The page's date is kept as the
report's delivered date when the text gives none.
"""
from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from ..model import SourceError, SourceItem

log = logging.getLogger(__name__)

_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
MIN_MAIN_CJK = 200      # trafilatura's text must hold at least this many Chinese characters ...
MIN_MAIN_SHARE = 0.3    # ... and this share of the whole page's, else the whole page is read


def html_item(source_name: str, html: str, encoding: str, item_index: int = 1) -> SourceItem:
    """One page -> one item: its main text, <title> and publication date."""
    whole, title = html_to_text(html)
    if not whole.strip():
        raise SourceError(f"{source_name}: the HTML page has no visible text (only markup, scripts or "
                          "navigation); supply the page that holds the report.", "empty")
    main, meta_title, date = main_content(html)
    n_main, n_whole = len(_CJK.findall(main or "")), len(_CJK.findall(whole))
    text = main if main and n_main >= MIN_MAIN_CJK and n_main >= MIN_MAIN_SHARE * n_whole else whole
    return SourceItem(source_name, item_index, "html", encoding, text, title=title or meta_title,
                      publish_date=date)


def main_content(html: str) -> tuple[str | None, str | None, str | None]:
    """trafilatura's main text, title and publication date (ISO) of a page; Nones when it finds
    nothing or fails."""
    try:
        import trafilatura

        doc = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True,
            favor_recall=True, date_extraction_params={"original_date": True, "extensive_search": False})
    except Exception as exc:  # noqa: BLE001 - a page trafilatura cannot read is read whole
        log.debug("trafilatura failed: %s: %s", type(exc).__name__, exc)
        return None, None, None
    if doc is None:
        return None, None, None
    return doc.text, doc.title, doc.date

_SKIP_TAGS = {"script", "style", "noscript", "template", "nav", "aside", "menu", "svg", "math", "iframe",
              "object", "embed", "canvas", "select", "button", "datalist", "map"}
_SKIP_ROLES = {"navigation", "banner", "contentinfo", "search", "menu", "menubar"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
         "track", "wbr", "keygen"}
_BLOCK = {"address", "article", "blockquote", "body", "br", "caption", "center", "dd", "details", "dialog",
          "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
          "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "ol", "p", "pre",
          "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "option"}
_CELL = {"td", "th"}
_HEAD_TAGS = {"title", "meta", "link", "style", "script", "base", "noscript", "template"}
_CELL_MARK = "\x00"  # cannot occur in decoded text (NUL bytes are rejected)
_WIDE = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff"
_WIDE_BREAK = re.compile(f"(?<=[{_WIDE}])[ \t\r\f]*\n[ \t\n\r\f]*(?=[{_WIDE}])")
_HTML_WS = re.compile("[ \t\n\r\f]+")


def _collapse(s: str) -> str:
    """HTML white-space collapsing; a source line break between two wide (CJK) characters vanishes
    (CSS Text 3 segment-break rule), elsewhere a run of white space becomes one space."""
    return _HTML_WS.sub(" ", _WIDE_BREAK.sub("", s))


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.buf: list[tuple[str, bool]] = []   # (text, preformatted)
        self.skip_tag: str | None = None
        self.skip_nest = 0
        self.in_head = False
        self.in_title = False
        self.title_parts: list[str] = []
        self.title_done = False
        self.pre = 0
        self.landmark = 0   # depth inside <article>/<main>: header/footer there are content

    def _flush(self):
        if not self.buf:
            return
        parts: list[str] = []
        run: list[str] = []
        has_pre = False
        for s, pre in self.buf:
            if pre:
                has_pre = has_pre or s != _CELL_MARK
                if run:
                    parts.append(_collapse("".join(run)))
                    run = []
                parts.append(s)
            else:
                run.append(s)
        if run:
            parts.append(_collapse("".join(run)))
        self.buf = []
        line = "".join(parts)
        edge = "\n" if has_pre else " \t\n\r\f"
        cells = line.split(_CELL_MARK)
        if len(cells) > 1:
            first = cells[0].strip(edge)
            line = "\t".join(([first] if first else []) + [c.strip(edge) for c in cells[1:]]).rstrip("\t")
        else:
            line = line.strip(edge)
        if line.strip():
            self.blocks.append(line)

    def _skips(self, tag: str, attrs) -> bool:
        if tag in _SKIP_TAGS:
            return True
        if tag in ("header", "footer") and not self.landmark:
            return True
        a = {k.lower(): (v or "") for k, v in attrs}
        if "hidden" in a or a.get("role", "").strip().lower() in _SKIP_ROLES:
            return True
        style = a.get("style", "").replace(" ", "").lower()
        return "display:none" in style or "visibility:hidden" in style

    def handle_starttag(self, tag, attrs):
        if self.skip_tag:
            if tag == self.skip_tag:
                self.skip_nest += 1
            return
        if tag == "head":
            self.in_head = True
            return
        if tag == "body" or (self.in_head and tag not in _HEAD_TAGS):
            self.in_head = False
        if tag == "title" and not self.title_done:
            self.in_title = True
            return
        if tag not in _VOID and self._skips(tag, attrs):
            self.skip_tag, self.skip_nest = tag, 1
            return
        if tag in ("article", "main"):
            self.landmark += 1
        if tag in _CELL:
            self.buf.append((_CELL_MARK, True))
        elif tag in _BLOCK:
            self._flush()
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag):
        if self.skip_tag:
            if tag == self.skip_tag:
                self.skip_nest -= 1
                if self.skip_nest == 0:
                    self.skip_tag = None
            elif tag in ("body", "html"):
                self.skip_tag, self.skip_nest = None, 0   # an unclosed skipped element
            return
        if tag == "head":
            self.in_head = False
            return
        if tag == "title" and self.in_title:
            self.in_title = False
            self.title_done = True
            return
        if tag in ("article", "main") and self.landmark:
            self.landmark -= 1
        if tag == "pre" and self.pre:
            self._flush()
            self.pre -= 1
        elif tag in _BLOCK and tag not in _CELL:
            self._flush()

    def handle_data(self, data):
        if self.skip_tag:
            return
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.in_head:
            return
        self.buf.append((data, bool(self.pre)))

    def close(self):
        super().close()
        self.in_title = False
        self._flush()


def html_to_text(html: str) -> tuple[str, str | None]:
    """Visible text of an html page (block elements on their own lines, table cells tab-separated,
    entities unescaped, script/style/nav/hidden content dropped) and its <title>."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:
        # html.parser's marked-section code asserts on '<![' + a non-name ('<![♄...'): read the
        # page again with every '<![' taken as text
        parser = _TextExtractor()
        parser.feed(html.replace("<![", "&lt;!["))
        parser.close()
    title = _collapse("".join(parser.title_parts)).strip() or None
    text = "\n".join(parser.blocks)
    return text, title

