"""extract: report -> indicator mentions (indicator, kind, measure, period, year, value, qualifier,
estimate, strength, evidence with offsets into the cleaned report text).

How it reads a sentence: indicator names (aliases from flows/vocab) and quantities (numbers.py)
are events in reading order. A quantity binds to the indicator named last before it, if the gap
between them is short and says nothing that makes the number another thing (a share, a
multiple). "A、B分别增长6%、8%" binds the quantities to the listed indicators in order.
The cue words are data: flows/vocab/cues.csv.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from . import vocab as vocab_mod
from .model import Mention, Report
from .numbers import Quantity, find_quantities

MAX_GAP = 24          # characters allowed between an indicator (or its previous value) and a value
_SENTENCE = re.compile(r"[^。!?！？\n]+[。!?！？]?")
_CLAUSE_BREAK = re.compile(r"[,，;；:：]")
_ITEM_BREAK = re.compile(r"[,，;；:：、]")
_LIST_SEP = re.compile(r"^\s*(?:、|和|及|与|以及|,|，)?\s*$")
_RESPECTIVELY = re.compile(r"分别")
_EXPLICIT_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:底|末)?(?:的)?")
_AFTER_QUAL = re.compile(r"^\s*(左右|以上|以内|以下)")
_WHOLE_YEAR = re.compile(r"全年")


@lru_cache(maxsize=1)
def cues() -> dict[str, re.Pattern]:
    text = resources.files("flows.vocab").joinpath("cues.csv").read_text(encoding="utf-8")
    return {row["cue"]: re.compile(row["pattern"]) for row in csv.DictReader(text.splitlines())}


@dataclass
class _Event:
    start: int
    end: int
    kind: str                 # alias | qty | respectively
    codes: tuple = ()
    qty: Quantity | None = None


def plan_start(text: str, plan_year: int | None) -> int:
    """Offset where the plan part (this year's targets and tasks) begins; len(text) if none."""
    c = cues()
    year = rf"(?:{plan_year}\s*年|今年|本年)" if plan_year else r"(?:今年|本年|\d{4}\s*年)"
    head = c["plan_heading"].pattern
    candidates = []
    for m in re.finditer(rf"(?m)^\s*(?:[一二三四五六七八九十]+\s*[、.．]\s*)?[^\n。]{{0,6}}{year}[^\n。,，]{{0,14}}{head}[^\n。]{{0,12}}$", text):
        candidates.append(m.start())
    for m in re.finditer(rf"[一二三四五六七八九十]+\s*、\s*{year}[^。,，]{{0,14}}{head}", text):
        candidates.append(m.start())
    m = re.search(r"(?:主要|经济社会发展的?|发展)预期目标", text)
    if m:
        candidates.append(m.start())
    # the plan part never starts in the first tenth (the opening can name this year's session)
    floor = len(text) // 10
    later = [p for p in candidates if p >= floor]
    return min(later) if later else len(text)


def extract_mentions(report: Report) -> list[Mention]:
    if not report.is_report or not report.text:
        return []
    v = vocab_mod.load()
    text = report.text
    boundary = plan_start(text, report.plan_year)
    out: list[Mention] = []
    for sm in _SENTENCE.finditer(text):
        sentence = sm.group(0)
        if not re.search(r"\d|[一二三四五六七八九十百千]", sentence):
            continue
        kind = "target" if sm.end() > boundary else "actual"
        if kind == "target" and _about_review_year(sentence, report):
            kind = "actual"
        out.extend(_sentence_mentions(report, v, sentence, sm.start(), kind))
    return out


def _about_review_year(sentence: str, report: Report) -> bool:
    if not report.review_year:
        return False
    past = re.search(rf"去年|过去一年|{report.review_year}\s*年", sentence)
    future = re.search(rf"今年|{report.plan_year}\s*年|目标|力争|确保|争取", sentence)
    return bool(past) and not future


def _events(v, sentence: str) -> list[_Event]:
    events: list[_Event] = []
    spans = []
    for m in v.alias_regex.finditer(sentence):
        gi = int(m.lastgroup[1:])
        codes = v.alias_codes[gi]
        before = sentence[max(0, m.start() - 8):m.start()]
        after = sentence[m.end():m.end() + 6]
        need = v.needs_before.get(gi)
        if need is not None and not need.search(sentence, 0, m.start()):
            continue
        if any((k in v.not_before and v.not_before[k].search(before)) or
               (k in v.not_after and v.not_after[k].search(after)) for k in (*codes, "*")):
            spans.append((m.start(), m.end()))
            events.append(_Event(m.start(), m.end(), "blocked"))
            continue
        spans.append((m.start(), m.end()))
        events.append(_Event(m.start(), m.end(), "alias", codes=codes))
    for q in find_quantities(sentence):
        if any(s < q.end and q.start < e for s, e in spans):
            continue
        events.append(_Event(q.start, q.end, "qty", qty=q))
    for m in _RESPECTIVELY.finditer(sentence):
        events.append(_Event(m.start(), m.end(), "respectively"))
    for m in cues()["flat"].finditer(sentence):
        events.append(_Event(m.start(), m.end(), "flat"))
    events.sort(key=lambda e: (e.start, e.end))
    return events


def _sentence_mentions(report, v, sentence, offset, kind) -> list[Mention]:
    c = cues()
    out: list[Mention] = []
    current: tuple = ()
    anchor = -1
    list_codes: list[str] = []
    group: list[str] = []     # the last list of indicators named, kept across its values
    list_end = -1
    dist: list[str] | None = None
    dist_group: list[Mention] = []
    used: dict = {}
    for ev in _events(v, sentence):
        if ev.kind == "blocked":
            current, anchor, dist = (), -1, None
            continue
        if ev.kind == "alias" and report.tier != "zone" and _sub_area(sentence, ev.start, c):
            current, anchor, dist = (), -1, None   # a park's or key projects' figure
            continue
        if ev.kind == "alias":
            if list_codes and list_end >= 0 and _LIST_SEP.match(sentence[list_end:ev.start]):
                list_codes.extend(ev.codes)
            else:
                list_codes = list(ev.codes)
            list_end = ev.end
            group = list(list_codes)
            current, anchor, used = ev.codes, ev.end, {}
            dist = list(ev.codes) if len(ev.codes) > 1 else None   # 城乡居民…: urban, rural
            _close_group(dist_group)
            dist_group = []
            continue
        if ev.kind == "respectively":
            if len(group) >= 2 and (ev.start - list_end <= 4 or anchor >= 0 and ev.start - anchor <= 4):
                _close_group(dist_group)
                dist, dist_group = list(group), []
                anchor = ev.end
            continue
        if ev.kind == "flat":
            if len(current) == 1 and anchor >= 0 and ev.start - anchor <= 12:
                m = _mention(report, v, sentence, offset, kind, current[0], "growth_pct", None, ev, anchor)
                if m and (m.indicator, m.measure) not in used:
                    used[(m.indicator, m.measure)] = m
                    out.append(m)
            continue
        q = ev.qty
        if anchor < 0 or q.unit is None:
            continue
        gap = sentence[anchor:q.start]
        if len(gap) > MAX_GAP or re.search(r"[;；。]", gap):
            continue
        last_clause = _CLAUSE_BREAK.split(gap)[-1]
        if c["other_subject"].search(last_clause):
            continue   # "增加值262亿元,铜箔产业增加值增长26%": the value is another thing's
        if q.unit == "percent" and last_clause != gap and last_clause.strip() and not (
                c["growth"].search(last_clause) or c["negative"].search(last_clause)):
            continue   # a percent in a later clause with no growth word is about something else
        if sentence[q.end:q.end + 1] in ("/", "每"):
            continue   # 800万元/亩: a per-unit figure
        if dist is not None:
            if not dist:
                continue
            code = dist.pop(0)
        elif len(current) == 1:
            code = current[0]
        else:
            continue
        measure = _measure(v.indicators[code], q, gap, c)
        if measure is None:
            continue
        if (code, measure) in used:
            prev = used[(code, measure)]
            # "突破千亿元大关,达1000.24亿元": the exact figure beats the threshold before it
            if not (prev.qualifier == "at_least" and measure == "level"):
                continue
            m = _mention(report, v, sentence, offset, kind, code, measure, q, ev, anchor)
            threshold = not _AFTER_QUAL.match(report.text[prev.end:prev.end + 4])
            if m is not None and m.qualifier is None and threshold and prev.value <= m.value <= prev.value * 1.5:
                out[out.index(prev)] = m
                used[(code, measure)] = m
                anchor = q.end
            continue
        m = _mention(report, v, sentence, offset, kind, code, measure, q, ev, anchor)
        if m is None:
            continue
        used[(code, measure)] = m
        out.append(m)
        if dist is not None:
            dist_group.append(m)
        anchor = q.end
        list_codes, list_end = [], -1
    _close_group(dist_group)
    return out


def _sub_area(sentence: str, at: int, c) -> bool:
    """The sentence is about a part of the region: its subject (the first few characters) or the
    indicator's own clause names a park, a zone or key projects."""
    clause_start = max((m.end() for m in _ITEM_BREAK.finditer(sentence, 0, at)), default=0)
    return bool(c["park"].search(sentence, 0, min(at, 8)) or
                c["sub_area"].search(sentence, clause_start, at))


def _close_group(group: list[Mention]) -> None:
    """A trailing 左右/以上 after a 分别 list applies to every item of the list."""
    if len(group) >= 2 and group[-1].qualifier in ("about", "at_least", "at_most"):
        for m in group[:-1]:
            if m.qualifier is None:
                m.qualifier = group[-1].qualifier


def _measure(ind, q: Quantity, gap: str, c) -> str | None:
    if q.unit == "percent":
        if ind.level_unit == "percent":
            return "level"
        if "growth_pct" not in ind.measures:
            return None
        if c["share"].search(gap):
            return None
        return "growth_pct"
    if "level" not in ind.measures:
        return None
    ok = {"yuan": ("yuan", "usd"), "person": ("person",), "tonne": ("tonne",), "percent": ()}
    return "level" if q.unit in ok.get(ind.level_unit, ()) else None


def _mention(report, v, sentence, offset, kind, code, measure, q, ev, anchor) -> Mention | None:
    c = cues()
    before = sentence[:ev.start]
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(sentence, 0, max(0, anchor - 1))), default=0)
    gap = sentence[anchor:ev.start]
    if q is None:  # 持平
        value, high, unit, written, qual = 0.0, None, "percent", ev and sentence[ev.start:ev.end], None
    else:
        value, high, unit, written = q.value, q.value_high, q.unit, q.text
        if measure == "growth_pct" and c["negative"].search(gap):
            value, high = -value, (-high if high is not None else None)
            if high is not None:
                value, high = high, value
        qual = _qualifier(sentence, q, gap, c, kind)
    period, year = _period(before, report, kind, c, gap)
    if period is None:
        return None
    estimate = kind == "actual" and bool(c["estimate"].search(before))
    strength = None
    if kind == "target":
        sm = None
        for sm in c["strength"].finditer(sentence, clause_start, ev.start):
            pass
        strength = sm.group(0) if sm else "plain"
    s0, s1 = offset, offset + len(sentence)
    qs = offset + max(0, clause_start)
    return Mention(
        source_name=report.source_name, doc_index=report.doc_index, region=report.region,
        indicator=code, kind=kind, measure=measure, period=period, year=year,
        value=value, value_high=high, unit=unit, qualifier=qual, estimate=estimate,
        strength=strength, value_text=written, quote=report.text[qs:offset + ev.end].strip(),
        sentence=sentence.strip(), start=offset + ev.start, end=offset + ev.end,
        sentence_start=s0, sentence_end=s1)


def _qualifier(sentence: str, q: Quantity, gap: str, c, kind: str) -> str | None:
    if q.value_high is not None:
        return "range"
    m = _AFTER_QUAL.match(sentence[q.end:q.end + 4])
    if m:
        return {"左右": "about", "以上": "at_least", "以内": "at_most", "以下": "at_most"}[m.group(1)]
    near = gap[-8:]
    if re.search(r"约|大约", near[-3:]):
        return "about"
    if re.search(r"超过|超|突破|不低于|不少于|逾|迈上|迈过|跨越|站上", near):
        return "at_least"
    if re.search(r"不超过|低于|不高于", near) or (kind == "target" and "控制在" in near):
        return "at_most"   # an achieved figure "控制在2.27%" is exact; a target one is a cap
    return None


def _period(before: str, report, kind, c, gap) -> tuple[str | None, int | None]:
    """annual / partial_year / multi_year, and the year the figure is about."""
    year = report.review_year if kind == "actual" else report.plan_year
    ym = None
    for ym in _EXPLICIT_YEAR.finditer(gap):
        pass
    if ym and gap.endswith(ym.group(0)):   # "增长到2025年的4.93万亿元": that year's level
        return "annual", int(ym.group(1))
    last_whole = max((m.end() for m in _WHOLE_YEAR.finditer(before)), default=-1)
    clause_start = len(before) - len(gap) - len(_CLAUSE_BREAK.split(before[:len(before) - len(gap)])[-1])
    for name in ("partial_year", "multi_year"):
        for m in c[name].finditer(before):
            if m.start() <= last_whole:
                continue
            # a cue applies inside its own clause, or to the whole rest of the sentence when it
            # opens it ("前三季度,全市…", "过去五年,…")
            opener = re.match(r"^[^,，;；:：]{0,4}[,，:：]", before[m.end():])
            if m.start() >= clause_start or opener:
                return name, year
    years = [int(y) for y in re.findall(r"((?:19|20)\d{2})\s*年", before)]
    if years and year and years[-1] != year and abs(years[-1] - year) <= 10:
        return "annual", years[-1]
    return "annual", year
