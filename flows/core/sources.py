"""Source files -> SourceItems. Pure: it receives bytes, never opens anything.

Public API
    read_items(source_name, data) -> list[SourceItem]
    read_items_with_errors(source_name, data) -> (list[SourceItem], list[SourceError])
    screen_items(items) -> (kept, errors)       items no report can be made of -> item errors
    decode_bytes(data, declared=None) -> (text, encoding)
    detect_container(source_name, text) -> "txt" | "html" | "csv" | "jsonl"
    html_to_text(html) -> (text, title)

File-level problems (empty, binary, undecodable, garbage, a CSV without a text column ...) raise
SourceError. Item-level problems (a malformed JSONL line, a CSV row without text) are returned by
read_items_with_errors next to the good items; each such error carries `.item_index` (the line /
row number it is about). read_items() raises when a file yields no good item but has errors.

item_index: 1 for txt/html; for csv the 1-based data-record number (header excluded, blank records
not counted); for jsonl the 1-based physical line number (for a .json list: the list position).
Skipped records keep their number, so the index of an item does not move when a bad record is fixed.

Text is decoded and newline-normalised (CRLF / CR -> LF), html is reduced to its visible text;
nothing else is changed (no full-width / Traditional normalisation: that is the cleaner's job).
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import sys
from html.parser import HTMLParser

from .model import SourceError, SourceItem

log = logging.getLogger(__name__)

__all__ = ["read_items", "read_items_with_errors", "screen_items", "decode_bytes", "detect_container",
           "html_to_text"]

# --------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------

# Order matters: the UTF-32 LE BOM starts with the UTF-16 LE BOM.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16"),
    (b"\x84\x31\x95\x33", "gb18030", "gb18030"),  # the GB18030 "BOM" (U+FEFF)
)

# (magic prefix, what it is, what to do)
_MAGIC = (
    (b"%PDF-", "a PDF document", "extract its text (e.g. pdftotext -enc UTF-8) and load the .txt"),
    (b"PK\x03\x04", "a ZIP container (docx / xlsx / odt / zip)",
     "unzip it, or save the document as UTF-8 .txt / .csv"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy MS Office / WPS document (doc / xls / wps)",
     "save it as UTF-8 .txt / .csv"),
    (b"\x1f\x8b", "gzip-compressed data", "decompress it first"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "decompress it first"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first"),
    (b"Rar!\x1a\x07", "a RAR archive", "extract it first"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "OCR it or find a text version of the report"),
    (b"\xff\xd8\xff", "a JPEG image", "OCR it or find a text version of the report"),
    (b"GIF8", "a GIF image", "OCR it or find a text version of the report"),
    (b"{\\rtf", "an RTF document", "save it as UTF-8 plain text"),
)

CHINESE_CODECS = ("gb18030", "big5", "cp950", "big5hkscs")
_BIG5_FAMILY = ("big5", "cp950", "big5hkscs")

SAMPLE_BYTES = 64 * 1024        # prefix handed to the detector
MAX_REPLACED_RATIO = 0.001      # lenient decode: at most 0.1 % replaced characters ...
MAX_REPLACED_MIN = 3            # ... but always allow a few
MAX_BAD_CHAR_RATIO = 0.02       # control / private-use / U+FFFD characters in decoded text
MAX_CONTROL_BYTE_RATIO = 0.02   # control bytes in the raw sample

# C0 controls that never occur in text (TAB LF VT FF CR, ESC and SUB are tolerated).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 26, 27)) + b"\x7f"
_BAD_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]")
_PLAIN_TEXT = re.compile("[\t\n\r\x20-\x7e\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2010-\u2027]")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I)

# label -> codec we decode with and report. GBK and GB2312 are decoded as their superset gb18030.
_ALIASES = {
    "gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "ms936": "gb18030", "x-gbk": "gb18030",
    "euc-cn": "gb18030", "gb-2312-80": "gb18030", "csgb2312": "gb18030", "chinese": "gb18030",
    "hz": "hz", "gb18030": "gb18030",
    "big5": "big5", "big5-tw": "big5", "csbig5": "big5", "x-x-big5": "big5", "cp950": "cp950",
    "ms950": "cp950", "big5hkscs": "big5hkscs", "big5-hkscs": "big5hkscs",
    "ascii": "utf-8", "us-ascii": "utf-8", "utf8": "utf-8", "utf-8": "utf-8",
}


def _norm_encoding(name: str) -> str | None:
    """A codec label (python or IANA style) -> the normalised name we decode with, or None."""
    key = name.strip().lower().replace("_", "-")
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        info = codecs.lookup(key)
    except LookupError:
        return None
    canon = info.name.replace("_", "-")
    return _ALIASES.get(canon, canon)


def _newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _trim_sample(data: bytes) -> bytes:
    """A detector sample cut after a byte < 0x30 so no multi-byte character is split (in GBK,
    GB18030, Big5, Shift-JIS and UTF-8 such a byte is always a character of its own)."""
    if len(data) <= SAMPLE_BYTES:
        return data
    sample = data[:SAMPLE_BYTES]
    cut = sample.rfind(b"\n", SAMPLE_BYTES // 2)
    if cut < 0:
        for i in range(len(sample) - 1, len(sample) - 4097, -1):
            if sample[i] < 0x30:
                cut = i
                break
    return sample[:cut + 1] if cut > 0 else sample


def _magic_check(data: bytes, source_name: str) -> None:
    for magic, what, fix in _MAGIC:
        if data.startswith(magic):
            code = "unsupported_format" if magic == b"{\\rtf" else "binary"
            raise SourceError(f"{source_name}: this is {what}, not a text file; {fix}.", code)


def _binary_check(data: bytes, source_name: str) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        raise SourceError(
            f"{source_name}: byte {nul} is NUL (0x00): this is binary data, not text. If it is a text "
            "export, save it again as UTF-8 (or UTF-16 with BOM) text.", "binary")
    sample = data[:SAMPLE_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > MAX_CONTROL_BYTE_RATIO * len(sample):
        raise SourceError(
            f"{source_name}: {controls} of the first {len(sample)} bytes are control characters: this "
            "is binary data, not text. Supply the report as a UTF-8 .txt/.csv/.jsonl/.html file.",
            "binary")


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """BOM-less UTF-16 (LE or BE), decoded strictly, when the result is clearly text; else None.
    Tried only for data that would otherwise be rejected as binary (NULs or control bytes)."""
    if len(data) % 2 or len(data) < 2:
        return None
    best = None
    for codec in ("utf-16-le", "utf-16-be"):
        text = _decode_strict(data, codec)
        if text is None:
            continue
        sample = text[:4096]
        plain = len(_PLAIN_TEXT.findall(sample))
        score = plain / len(sample)
        if score >= 0.9 and (best is None or score > best[0]):
            best = (score, text, codec)
    return (best[1], best[2]) if best else None


def _allowed_replacements(n_chars: int) -> int:
    return max(MAX_REPLACED_MIN, int(n_chars * MAX_REPLACED_RATIO))


def _lenient(data: bytes, codec: str, source_name: str) -> str:
    """Decode with errors='replace' and refuse if too many characters had to be replaced."""
    before = data.count(b"\xef\xbf\xbd") if codec.startswith("utf-8") else 0
    text = data.decode(codec, errors="replace")
    replaced = text.count("\ufffd") - before
    if replaced > _allowed_replacements(len(text)):
        raise SourceError(
            f"{source_name}: the file looks like {codec} but {replaced} byte sequences in it are not valid "
            f"{codec} (more than {_allowed_replacements(len(text))} allowed): it is corrupted or mixes "
            "encodings. Re-export it as UTF-8 from the original source.", "undecodable")
    return text


def _almost_utf8(data: bytes) -> str | None:
    """UTF-8 with a few invalid bytes (a truncated or lightly damaged file) -> text, else None."""
    before = data.count(b"\xef\xbf\xbd")
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd") - before
    if replaced <= _allowed_replacements(len(text)) and len(_CJK.findall(text[:SAMPLE_BYTES])) >= 20 * replaced:
        return text
    return None


def _decode_strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(sample: bytes) -> tuple[str, bool] | None:
    """Pick a codec for `sample`: (normalised codec, confident) or None. Chinese codecs first."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=list(CHINESE_CODECS)).best()
    if best is not None:
        codec = _norm_encoding(best.encoding) or best.encoding
        if codec in _BIG5_FAMILY and best.coherence < 0.05:
            # No language evidence for Big5: if the GB reading is just as clean, prefer mainland GB.
            gb = _decode_strict(sample, "gb18030")
            if gb is not None and _bad_ratio(gb) == 0:
                return "gb18030", False
        return codec, best.chaos <= 0.1
    # The detector finds no coherent Chinese (very short or unusual text, or a few damaged bytes):
    # accept a Chinese codec that decodes the sample into clean characters with at most a few
    # replacements; gb18030 first.
    high = len(sample) - len(sample.translate(None, bytes(range(128))))
    for codec in CHINESE_CODECS:
        text = sample.decode(codec, errors="replace")
        replaced = text.count("\ufffd")
        wide = len(_CJK.findall(text))
        if (replaced <= _allowed_replacements(len(text)) and wide >= 50 * replaced
                and _bad_ratio(text.replace("\ufffd", "")) == 0):
            return codec, replaced > 0 or high >= 100
    best = from_bytes(sample).best()
    if best is not None and best.chaos <= 0.1:
        return _norm_encoding(best.encoding) or best.encoding, best.chaos <= 0.05
    return None


def _closest(sample: bytes) -> str:
    """Hint for an undecodable file: the codec that fits best, if any fits nearly."""
    fits = []
    for codec in ("utf-8",) + CHINESE_CODECS:
        text = sample.decode(codec, errors="replace")
        fits.append((text.count("\ufffd"), len(_CJK.findall(text)), codec))
    replaced, wide, codec = min(fits, key=lambda f: (f[0], -f[1]))
    if wide >= 50 * max(replaced, 1):
        return (f"; it reads best as {codec}, but {replaced} byte sequences in the first {len(sample)} "
                f"bytes are not valid {codec} (a corrupted file, or several encodings mixed)")
    return ""


def _utf8_or_chinese(data: bytes, utf8_text: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    best = from_bytes(_trim_sample(data), cp_isolation=["utf_8", "gb18030", "big5"]).best()
    codec = _norm_encoding(best.encoding) if best is not None else None
    if codec in ("gb18030", "big5"):
        text = _decode_strict(data, codec)
        if text is not None and _CJK.search(text) and _bad_ratio(text) == 0:
            return text, codec
    # the detector may still take repetitive GB2312 text for UTF-8 ('丫一一一' is b'\xd1\xbe\xd2\xbb..',
    # UTF-8 for 'Ѿһһ'): bytes that read as clean Chinese of the GB2312 set (the common
    # characters) are Chinese. Cyrillic UTF-8 is not: р..я are b'\xd1\x80'..b'\xd1\x8f', outside GB2312.
    text = _decode_strict(data, "gb18030")
    if text is not None and _CJK.search(text) and _bad_ratio(text) == 0 \
            and _encode_as(text, "gb2312") is not None:
        return text, "gb18030"
    return utf8_text, "utf-8"


def _bad_ratio(text: str) -> float:
    bad = sum(1 for _ in _BAD_CHARS.finditer(text))
    if not bad:
        return 0.0
    visible = len(text) - sum(text.count(c) for c in " \t\n\r\f\v\u3000")
    return bad / max(visible, 1)


def _encode_as(text: str, codec: str) -> bytes | None:
    """Undo a wrong decode. 'cp1252' is the web's windows-1252: its five undefined bytes map to the
    C1 controls, as browsers and many converters do."""
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        if codec != "cp1252":
            return None
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return None
            out.append(ord(ch))
    return bytes(out)


def _mojibake(text: str) -> str | None:
    """'æ”¿åºœ' / '鏀垮簻': Chinese UTF-8 (or GBK) bytes that were once decoded with the wrong codec
    and saved again. Returns a description, or None."""
    sample = text[:4000]
    non_ascii = len(sample) - len(sample.encode("ascii", errors="ignore"))
    if non_ascii < 20:
        return None
    cjk = len(_CJK.findall(sample))
    for wrong, right in (("cp1252", "utf-8"), ("latin-1", "utf-8"), ("latin-1", "gb18030"), ("gb18030", "utf-8")):
        if wrong != "gb18030" and cjk > non_ascii // 10:
            continue  # real CJK present: not a Latin-1 style mojibake
        raw = _encode_as(sample, wrong)
        if raw is None:
            continue
        fixed = raw.decode(right, errors="replace")
        if fixed == sample:
            continue
        bad = fixed.count("\ufffd")
        fixed_cjk = len(_CJK.findall(fixed))
        if bad <= max(2, len(fixed) // 200) and fixed_cjk >= 10 and (wrong != "gb18030" or fixed_cjk >= cjk // 2):
            return f"{right} text that was decoded as {wrong} and saved again (it starts {fixed[:20]!r})"
    return None


def decode_bytes(data: bytes, declared: str | None = None, source_name: str = "<bytes>") -> tuple[str, str]:
    """bytes -> (text with LF newlines, normalised encoding name). Raises SourceError.

    BOM first, then strict UTF-8, then a `declared` charset (html <meta>), then charset-normalizer on a
    prefix sample restricted to Chinese codecs (gb18030, big5 ...), then any codec it is sure of.
    """
    if not data:
        raise SourceError(f"{source_name}: the file is empty (0 bytes); supply the report text.", "empty")
    text = codec = None
    for bom, decoder, name in _BOMS:
        if data.startswith(bom):
            codec = name
            text = _decode_strict(data, decoder)
            if text is None:
                text = _lenient(data, decoder, source_name)
            break
    if text is None:
        _magic_check(data, source_name)
        try:
            _binary_check(data, source_name)
        except SourceError:
            found = _utf16_without_bom(data)
            if not found:
                raise
            text, codec = found
    if text is None:
        text = _decode_strict(data, "utf-8")
        codec = "utf-8"
        if text is not None and len(text) != len(data) and not _CJK.search(text) and not _mojibake(text):
            # Valid UTF-8 without a single CJK character, yet not ASCII: short GBK / Big5 text can
            # also be valid UTF-8 ('一一' is b'\xd2\xbb\xd2\xbb', UTF-8 for 'һһ'). Let the detector choose.
            text, codec = _utf8_or_chinese(data, text)
    if text is None and declared:
        dec = _norm_encoding(declared)
        if dec and dec != "utf-8":
            text, codec = _decode_strict(data, dec), dec
    if text is None:
        text, codec = _almost_utf8(data), "utf-8"
    if text is None:
        sample = _trim_sample(data)
        found = _detect(sample)
        if found is None:
            raise SourceError(
                f"{source_name}: cannot tell the text encoding: the bytes are neither UTF-8 nor a "
                f"Chinese encoding (GB18030/GBK/GB2312, Big5) that charset detection recognises{_closest(sample)}. "
                "Save the file as UTF-8 text.", "undecodable")
        codec, confident = found
        text = _decode_strict(data, codec)
        if text is None and codec in _BIG5_FAMILY:
            for alt in _BIG5_FAMILY:
                text = _decode_strict(data, alt)
                if text is not None:
                    codec = alt
                    break
        if text is None:
            if not confident:
                raise SourceError(
                    f"{source_name}: the start of the file reads as {codec} but the rest does not decode "
                    f"as {codec}; the file is corrupted or mixes encodings. Save it as UTF-8 text.",
                    "undecodable")
            text = _lenient(data, codec, source_name)
    if text.startswith("\ufeff"):
        text = text[1:]
    text = _newlines(text)
    if not text.strip():
        raise SourceError(f"{source_name}: the file holds no text (only whitespace); supply the report "
                          "text.", "empty")
    moji = _mojibake(text)
    if moji:
        raise SourceError(f"{source_name}: the text is mojibake: {moji}. Get the file again from its "
                          "original source, or repair it, and save it as UTF-8.", "mojibake")
    if _bad_ratio(text) > MAX_BAD_CHAR_RATIO:
        raise SourceError(
            f"{source_name}: decoded as {codec}, too much of the text is unusable characters (control, "
            "private-use or replacement characters): the encoding guess is wrong or the file is not "
            "text. Save it as UTF-8 text.", "garbage")
    return text, codec


# --------------------------------------------------------------------------------------------
# containers
# --------------------------------------------------------------------------------------------

_EXT_CONTAINER = {
    "txt": "txt", "text": "txt", "": "txt",
    "html": "html", "htm": "html", "xhtml": "html", "shtml": "html",
    "csv": "csv", "tsv": "csv",
    "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl",
}
_HTML_DOC = re.compile(r"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|meta\s[^>]*charset)", re.I)
_HTML_TAG = re.compile(r"</?(?:p|div|br|span|table|tr|td|li|ul|ol|a|h[1-6]|font|center|title)\b[^>]*>", re.I)


def _extension(source_name: str) -> str:
    base = source_name.replace("\\", "/").rsplit("/", 1)[-1]
    if "." not in base.lstrip("."):
        return ""
    return base.rsplit(".", 1)[-1].lower()


def looks_like_html(text: str) -> bool:
    """Clearly HTML: it starts with a tag, and declares an html document or is full of tags."""
    head = text[:4096].lstrip("\ufeff \t\n")
    if not head.startswith("<"):
        return False
    return bool(_HTML_DOC.search(head)) or len(_HTML_TAG.findall(head)) >= 5


def detect_container(source_name: str, text: str | None = None) -> str:
    """Container from the extension; a .txt (or unknown extension) holding HTML is html; a .html
    holding no tag at all is txt."""
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
    ext = _extension(source_name)
    declared = _meta_charset(data) if _EXT_CONTAINER.get(ext, "txt") in ("html", "txt") else None
    text, encoding = decode_bytes(data, declared=declared, source_name=source_name)
    container = detect_container(source_name, text)
    if container == "html":
        body, title = html_to_text(text)
        if not body.strip():
            raise SourceError(f"{source_name}: the HTML page has no visible text (only markup, scripts or "
                              "navigation); supply the page that holds the report.", "empty")
        return [SourceItem(source_name, 1, "html", encoding, body, title=title)], []
    if container == "csv":
        return _read_csv(source_name, text, encoding, delimiter="\t" if ext == "tsv" else None)
    if container == "jsonl":
        return _read_json(source_name, text, encoding)
    return [SourceItem(source_name, 1, "txt", encoding, text)], []


# ---- screening: decodable text that no report can be made of ------------------------------------

_NUMBER = re.compile("[0-9\uff10-\uff19\u3007零一二三四五六七八九十百千万亿两壹贰叁肆伍陆柒捌玖拾佰仟]")


def content_problem(item: SourceItem) -> SourceError | None:
    """Why an item cannot be a government work report, or None: no Chinese text (English,
    a path, garbage a legacy codec decoded without error), or no number at all once the
    cleaner has removed watermarks, footers and the like (a cover page, a site's navigation,
    a speech without figures): nothing could be extracted from it. Cheap (the lines are classified
    only up to the first body line with a number, clean.body_has) and pure."""
    from .clean import body_has, normalize

    text = item.text
    where = item.source_name + (f" item {item.item_index}" if item.container in ("csv", "jsonl") else "")
    if _CJK.search(text) is None:
        shown = text.strip()[:60]
        return _item_error(
            f"{where}: the text holds no Chinese character "
            f"({len(text):,} characters decoded as {item.encoding}, it starts {shown!r}): a "
            "government work report is Chinese text. Check that this is the report, and that the "
            "file is not in an encoding that was mistaken for another (save it as UTF-8).",
            "not_chinese", item.item_index)
    if _NUMBER.search(text) is None or not body_has(normalize(text), _NUMBER):
        return _item_error(
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


def _item_error(reason: str, code: str, index: int) -> SourceError:
    err = SourceError(reason, code)
    err.item_index = index
    return err


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(s: str) -> str:
    """JSON's \\uXXXX escapes can make lone surrogates, which no UTF-8 file (nor Parquet) can hold:
    a valid pair becomes its character, a lone one U+FFFD."""
    if _SURROGATE.search(s) is None:
        return s
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _clean_str(value) -> str | None:
    if value is None:
        return None
    s = _valid_text(_newlines(str(value))).strip()
    return s or None


def _parse_year(value) -> int | None:
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


# ---- csv ----------------------------------------------------------------------------------------

CSV_TEXT_COLUMNS = ("full_text", "content", "text", "body", "正文", "内容")
_CSV_META = {
    "title": ("title", "标题", "题目"),
    "year": ("year", "年份", "年度"),
    "url": ("source_url", "url", "链接", "网址", "来源链接"),
    "publish_date": ("publish_date", "发布日期", "发布时间", "date", "日期"),
}


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


def _read_csv(source_name: str, text: str, encoding: str, delimiter: str | None = None):
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
                header = [c.strip().lstrip("\ufeff").strip().lower() for c in row]
                text_col = next((header.index(c) for c in CSV_TEXT_COLUMNS if c in header), None)
                if text_col is None:
                    seen = ", ".join(repr(c[:40]) for c in header[:20]) + (" ..." if len(header) > 20 else "")
                    raise SourceError(
                        f"{source_name}: the CSV has no text column. Name the column that holds the report "
                        f"text one of {', '.join(CSV_TEXT_COLUMNS)}; the columns seen are: {seen}.",
                        "no_text_column")
                cols["text"] = text_col
                for field, names in _CSV_META.items():
                    idx = next((header.index(c) for c in names if c in header), None)
                    if idx is not None:
                        cols[field] = idx
                continue
            record += 1
            where = f"{source_name}: row {record} (ending on line {reader.line_num})"
            if len(row) > len(header):
                errors.append(_item_error(
                    f"{where} has {len(row)} fields but the header has {len(header)}: the text probably "
                    f"holds unquoted {delimiter!r} delimiters; quote the fields. The row is skipped.",
                    "bad_row", record))
                continue
            row = row + [""] * (len(header) - len(row))
            body = row[cols["text"]]
            if not body.strip():
                errors.append(_item_error(
                    f"{where} has no text in column {header[cols['text']]!r}; the row is skipped.",
                    "empty_text", record))
                continue
            items.append(SourceItem(
                source_name, record, "csv", encoding, body,
                title=_clean_str(row[cols["title"]]) if "title" in cols else None,
                year=_parse_year(row[cols["year"]]) if "year" in cols else None,
                url=_clean_str(row[cols["url"]]) if "url" in cols else None,
                publish_date=_clean_str(row[cols["publish_date"]]) if "publish_date" in cols else None,
            ))
    except csv.Error as exc:
        raise SourceError(f"{source_name}: the CSV is malformed near line {reader.line_num}: {exc}. Fix the "
                          "quoting, or export it again as standard CSV.", "bad_csv") from None
    if header is None:
        raise SourceError(f"{source_name}: the CSV is empty (no header row).", "empty")
    if not items and not errors:
        raise SourceError(f"{source_name}: the CSV has a header but no data rows.", "empty")
    return items, errors


# ---- json / jsonl -------------------------------------------------------------------------------

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


def _read_json(source_name: str, text: str, encoding: str):
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


# ---- html ---------------------------------------------------------------------------------------

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
