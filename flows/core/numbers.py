"""Number spans -> values. Our own patterns cut the spans out; Chinese numerals inside a span go
through cn2an (never cn2an.transform on whole sentences: it rewrites 一般 -> 1般)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .units import MULTIPLIERS, normalize

_AR = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CN = r"[零〇一二两三四五六七八九十百千万亿点]*[一二三四五六七八九两十百千][零〇一二两三四五六七八九十百千万亿点]*"
_MULT = r"万亿|千亿|百亿|亿|千万|百万|万"
_UNIT = r"个百分点|百分点|美元|人民币|元|人次|人|名|公斤|千克|吨|斤|%"
# (the lookahead names every character a match can start with: re then skips the other
# positions at once instead of trying both number forms there)
QUANTITY = re.compile(
    r"(?=[\d零〇一二两三四五六七八九十百千万亿点])"
    rf"(?P<lo>{_AR}|{_CN})(?P<lom>{_MULT})?(?P<lop>%)?"
    rf"(?:\s*(?P<sep>[-—–~至到])\s*(?P<hi>{_AR}|{_CN}))?"
    rf"(?P<mult>{_MULT})?(?P<unit>{_UNIT})"
)
_CN_ONLY = re.compile(rf"^{_CN}$")
_ARABIC = re.compile(_AR)


@dataclass(slots=True)
class Quantity:
    start: int
    end: int
    value: float              # normalized (yuan, usd, percent, person, tonne)
    value_high: float | None  # ranges only
    unit: str | None          # normalized unit; None for units we do not report (人次, 个百分点)
    unit_written: str         # e.g. 亿元, %, 万人
    text: str                 # the span as written


def parse_number(span: str) -> float:
    """'887' -> 887.0, '1,234.5' -> 1234.5, '八百八十七' -> 887.0, '千' -> 1000.0, '一万二千' -> 12000.0."""
    span = span.strip()
    if _ARABIC.fullmatch(span):
        return float(span.replace(",", ""))
    if _CN_ONLY.match(span):
        import cn2an  # the span only, never a whole sentence

        if span[0] in "十百千万亿":
            span = "一" + span
        return float(cn2an.cn2an(span.replace("两", "二"), "smart"))
    raise ValueError(f"not a number: {span!r}")


# span as written -> _parts (the value of a span depends on its text only); bounded
_SPANS: dict[str, tuple | None] = {}


def find_quantities(text: str) -> list[Quantity]:
    out = []
    for m in QUANTITY.finditer(text):
        span = m.group(0)
        try:
            parts = _SPANS[span]
        except KeyError:
            parts = _parts(m)
            if len(_SPANS) >= 4096:
                _SPANS.clear()
            _SPANS[span] = parts
        if parts is not None:
            out.append(Quantity(m.start(), m.end(), *parts))
    return out


def _quantity(m: re.Match) -> Quantity | None:
    parts = _parts(m)
    return Quantity(m.start(), m.end(), *parts) if parts is not None else None


def _parts(m: re.Match) -> tuple | None:
    """(value, value_high, unit, unit_written, text) of a QUANTITY match, or None."""
    lo_text, lo_mult, lop, hi_text, mult, unit = m.group("lo", "lom", "lop", "hi", "mult", "unit")
    mult = mult or ""
    lo_mult = lo_mult or ""
    try:
        lo = parse_number(lo_text)
        hi = parse_number(hi_text) if hi_text else None
    except (ValueError, KeyError, TypeError):
        return None
    if lo_mult and not mult and hi is None:
        mult, lo_mult = lo_mult, ""
    if lop and unit != "%":
        return None  # "5%3元": not one quantity
    written = mult + unit
    if unit in ("个百分点", "百分点", "人次"):
        return lo, hi, None, written, m.group(0)
    value, norm_unit = normalize(lo * (MULTIPLIERS[lo_mult] if lo_mult else 1.0), written)
    high = normalize(hi, written)[0] if hi is not None else None
    if high is not None and high <= value:
        return None  # "2022-2023年" style: not a range
    return value, high, norm_unit, written, m.group(0)
