"""Units as written -> normalized units (yuan, usd, percent, person, tonne). One table, used by
the extractor and by the evaluator alike."""
from __future__ import annotations

import re
from functools import lru_cache

MULTIPLIERS = {"万亿": 1e12, "千亿": 1e11, "百亿": 1e10, "亿": 1e8, "千万": 1e7, "百万": 1e6,
               "万": 1e4, "千": 1e3, "": 1.0}
# base unit as written -> (normalized unit, factor to the normalized unit)
BASE_UNITS = {
    "元": ("yuan", 1.0), "人民币": ("yuan", 1.0), "美元": ("usd", 1.0),
    "人": ("person", 1.0), "名": ("person", 1.0),
    "吨": ("tonne", 1.0), "公斤": ("tonne", 0.001), "千克": ("tonne", 0.001), "斤": ("tonne", 0.0005),
    "%": ("percent", 1.0),
}
_UNIT = re.compile(r"^(万亿|千亿|百亿|亿|千万|百万|万|千)?(美元|人民币|元|人|名|公斤|千克|吨|斤|%)$")


def normalize(value: float, unit_as_written: str) -> tuple[float, str]:
    """887, '亿元' -> (8.87e10, 'yuan'); 5, '亿斤' -> (250000.0, 'tonne'); 6.8, '%' -> (6.8, 'percent')."""
    mult, unit, factor = _unit(unit_as_written)
    return round(value * mult * factor, 6), unit   # 20.67亿 -> 2067000000.0, not …0000002


@lru_cache(maxsize=1024)
def _unit(unit_as_written: str) -> tuple[float, str, float]:
    u = (unit_as_written or "").strip().replace("％", "%")
    m = _UNIT.match(u)
    if not m:
        raise ValueError(f"unknown unit {unit_as_written!r}")
    unit, factor = BASE_UNITS[m.group(2)]
    return MULTIPLIERS[m.group(1) or ""], unit, factor


def same_value(a: float | None, b: float | None, rel: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= max(abs(a), abs(b)) * rel + 1e-9
