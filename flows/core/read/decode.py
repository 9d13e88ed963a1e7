"""Bytes -> text: BOMs, strict UTF-8, a declared charset, charset-normalizer restricted to the
Chinese codecs; binary, mojibake and garbage refused with a SourceError saying what to do.

decode_bytes(data, declared=None, source_name) -> (text with LF newlines, encoding)
"""
from __future__ import annotations

import codecs
import re

from ..model import SourceError
from .values import newlines as _newlines


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
    # UTF-8 for 'Ѿһһ'): bytes that read as clean Chinese, nearly all of the GB2312 set (the
    # common characters), are Chinese. Cyrillic UTF-8 is not: р..я are b'\xd1\x80'..b'\xd1\x8f',
    # outside GB2312, and Russian text is full of them.
    text = _decode_strict(data, "gb18030")
    if text is not None and _CJK.search(text) and _bad_ratio(text) == 0 and _common_share(text) >= 0.9:
        return text, "gb18030"
    return utf8_text, "utf-8"


def _common_share(text: str) -> float:
    """The share of a text's non-ASCII characters that are in GB2312 (the common characters)."""
    wide = [c for c in text if ord(c) > 0x7F]
    return sum(1 for c in wide if _encode_as(c, "gb2312") is not None) / max(len(wide), 1)


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


def _by_bom(data: bytes, source_name: str) -> tuple[str | None, str | None]:
    for bom, decoder, name in _BOMS:
        if data.startswith(bom):
            text = _decode_strict(data, decoder)
            return (text if text is not None else _lenient(data, decoder, source_name)), name
    return None, None


def _by_detection(data: bytes, source_name: str) -> tuple[str, str]:
    """charset-normalizer on a prefix sample, Chinese codecs first; the whole file decoded."""
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
                return text, alt
    if text is None:
        if not confident:
            raise SourceError(
                f"{source_name}: the start of the file reads as {codec} but the rest does not decode "
                f"as {codec}; the file is corrupted or mixes encodings. Save it as UTF-8 text.",
                "undecodable")
        text = _lenient(data, codec, source_name)
    return text, codec


def _check_text(text: str, codec: str, source_name: str) -> str:
    """The decoded text, BOM and CR out; refused when empty, mojibake or garbage."""
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
    return text


def decode_bytes(data: bytes, declared: str | None = None, source_name: str = "<bytes>") -> tuple[str, str]:
    """bytes -> (text with LF newlines, normalised encoding name). Raises SourceError.

    BOM first, then strict UTF-8, then a `declared` charset (html <meta>), then charset-normalizer on a
    prefix sample restricted to Chinese codecs (gb18030, big5 ...), then any codec it is sure of.
    """
    if not data:
        raise SourceError(f"{source_name}: the file is empty (0 bytes); supply the report text.", "empty")
    text, codec = _by_bom(data, source_name)
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
        text, codec = _decode_strict(data, "utf-8"), "utf-8"
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
        text, codec = _by_detection(data, source_name)
    return _check_text(text, codec, source_name), codec
