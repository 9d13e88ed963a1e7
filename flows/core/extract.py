"""extract: report -> indicator mentions (indicator, kind, measure, period, year, value, qualifier,
estimate, strength, evidence with offsets into the cleaned report text).

How a sentence is read: indicator names (aliases, flows/vocab) and quantities (numbers.py) are
events in reading order. A quantity binds to the indicator named last before it when the gap
between them is short and says nothing that makes the number another thing's (a share, a
sub-category, a per-unit figure). "A、B分别增长6%、8%" binds the values to the listed
indicators in order; "城乡居民…" is such a list by itself. Values after 从/由 and before 到 are
starting points, not results. Every cue word is data: flows/vocab/cues.csv.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from . import vocab as vocab_mod
from .model import Mention, Report
from .numbers import Quantity, find_quantities

MAX_GAP = 24          # characters allowed between an indicator (or its previous value) and a value
_SENTENCE = re.compile(r"[^。!?！？\n]+[。!?！？]?")
_CLAUSE_BREAK = re.compile(r"[,，;；:：]")
_CLAUSE_CHARS = ",，;；:："
_ITEM_CHARS = ",，;；:：、"
_YEAR_OF = re.compile(r"((?:19|20)\d{2})\s*年")


def _after_last(s: str, chars: str, end: int) -> int:
    """Offset just after the last of `chars` in s[:end], or 0."""
    if chars is _CLAUSE_CHARS:
        return max(s.rfind(",", 0, end), s.rfind("，", 0, end), s.rfind(";", 0, end),
                   s.rfind("；", 0, end), s.rfind(":", 0, end), s.rfind("：", 0, end)) + 1
    return max(s.rfind(ch, 0, end) for ch in chars) + 1
_LIST_SEP = re.compile(r"^\s*(?:、|和|及|与|以及|,|，)?\s*$")
_RESPECTIVELY = re.compile(r"分别")
_FROM_SPAN = re.compile(r"(?:从|由)[^,，;；。到至]{0,40}?(?:到|至)")
_EXPLICIT_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:底|末)?(?:的)?")
_AFTER_QUAL = re.compile(r"^\s*(左右|以上|以内|以下)")
_OPENER = re.compile(r"^[^,，;；:：]{0,4}[,，:：]")
_QUALIFIER_AFTER = {"左右": "about", "以上": "at_least", "以内": "at_most", "以下": "at_most"}
_STOP = re.compile(r"[;；。]")
_TO = re.compile(r"\s*(?:到|至)")
_TO_END = re.compile(r"(?:到|至)[^,，;；]{0,3}$")
_ABOUT = re.compile(r"约|大约")
_AT_LEAST = re.compile(r"超过|超|突破|不低于|不少于|逾|迈上|迈过|跨越|站上")
_AT_MOST = re.compile(r"不超过|低于|不高于")


@lru_cache(maxsize=1)
def cues() -> dict[str, re.Pattern]:
    text = resources.files("flows.vocab").joinpath("cues.csv").read_text(encoding="utf-8")
    return {row["cue"]: re.compile(row["pattern"]) for row in csv.DictReader(text.splitlines())}


@dataclass
class _Event:
    start: int
    end: int
    kind: str                 # alias | blocked | qty | respectively | flat
    codes: tuple = ()
    qty: Quantity | None = None
    text: str = ""


@dataclass
class _Binding:
    """What the next value in a sentence may belong to."""
    codes: tuple = ()                     # indicator(s) named last
    anchor: int = -1                      # end of the name, or of its last value
    group: list = field(default_factory=list)     # the last list of names ("A、B")
    group_end: int = -1
    group_start: int = -1                 # where the first name of the list starts
    dist: list | None = None              # names still waiting for a value (分别 / 城乡…)
    dist_from: int = -1                   # where the distributive values started
    dist_out: list = field(default_factory=list)  # mentions made from the list
    used: dict = field(default_factory=dict)      # (code, measure) -> mention
    shared: list | None = None            # names sharing the next value (均)
    lead_qualifier: bool = False          # the list's first value had its qualifier before it


def plan_start(text: str, plan_year: int | None) -> int:
    """Offset where the plan part (this year's targets and tasks) begins; len(text) if none."""
    head = cues()["plan_heading"].pattern
    year = rf"(?:{plan_year}\s*年|今年|本年)" if plan_year else r"(?:今年|本年|\d{4}\s*年)"
    # a heading line: "^…" read as "\n…" in "\n" + text, whose offsets are then the text's (re
    # scans for a leading literal fast; for ^ it tries every position)
    candidates = [m.start() for m in re.finditer(
        rf"(?m)\n\s*(?:[一二三四五六七八九十]+\s*[、.．]\s*)?[^\n。]{{0,6}}{year}[^\n。,，]{{0,14}}{head}[^\n。]{{0,12}}$",
        "\n" + text)]
    candidates += [m.start() - 1 for m in re.finditer(rf"、\s*{year}[^。,，]{{0,14}}{head}", text)
                   if m.start() and text[m.start() - 1] in "一二三四五六七八九十"]
    m = re.search(r"(?:主要|经济社会发展的?|发展)预期目标(?:是|为|建议为|如下|[:：])", text)
    if m:
        candidates.append(m.start())
    floor = len(text) // 10   # the opening may name this year's session; the plan part is later
    later = [p for p in candidates if p >= floor]
    return min(later) if later else len(text)


def extract_mentions(report: Report) -> list[Mention]:
    if not report.is_report or not report.text:
        return []
    v = vocab_mod.load()
    text = report.text
    boundary = plan_start(text, report.plan_year)
    spans = multi_year_spans(text[:boundary], report.review_year)
    # one pass of the alias trie over the whole text; only sentences naming an indicator are read
    hits = vocab_mod.find_aliases(v, text)
    absent = [m.start() for m in cues()["no_target"].finditer(text, boundary)]
    out: list[Mention] = []
    h = 0
    s0 = 0
    while h < len(hits):
        # every sentence end mark before the hit after the previous sentence's start - 1
        s0, s1 = _sentence_around(text, hits[h][0], max(0, s0 - 1))
        first = h
        while h < len(hits) and hits[h][0] < s1:
            h += 1
        local = [(a - s0, b - s0, alias, codes) for a, b, alias, codes in hits[first:h]]
        sentence = text[s0:s1]
        kind = "target" if s1 > boundary else "actual"
        if kind == "target" and any(s0 <= p < s1 for p in absent):
            out.extend(_no_target(report, v, sentence, s0, local))
        if kind == "target" and _about_review_year(sentence, report):
            kind = "actual"
        in_multi = kind == "actual" and any(a <= s0 < b for a, b in spans)
        out.extend(_sentence_mentions(report, v, sentence, s0, kind, in_multi, local))
    return out


_SENTENCE_END = re.compile(r"[。!?！？\n]")


def _sentence_around(text: str, at: int, lo: int = 0) -> tuple[int, int]:
    """The sentence holding offset `at` (the same cut as _SENTENCE: after 。!? or a newline).
    The last sentence end mark before `at` is looked for from `lo` on: the caller knows it is
    there (or that there is none before `at`)."""
    start = max(text.rfind("。", lo, at), text.rfind("\n", lo, at), text.rfind("!", lo, at),
                text.rfind("?", lo, at), text.rfind("！", lo, at), text.rfind("？", lo, at)) + 1
    m = _SENTENCE_END.search(text, at)
    if m is None:
        return start, len(text)
    cut = m.start()
    return start, (cut if text[cut] == "\n" else cut + 1)


def _no_target(report, v, sentence, offset, hits) -> list[Mention]:
    """"我们没有提出全年经济增速具体目标": an explicit absence, kept apart from "not found"."""
    m = cues()["no_target"].search(sentence)
    if not m:
        return []
    out = []
    for a_start, a_end, _alias, codes in (x for x in hits if x[1] <= m.end()):
        measure = "growth_pct" if re.search(r"增速|增长|涨幅", sentence[a_start:m.end()]) else "level"
        for code in codes:
            if measure not in v.indicators[code].measures:
                continue
            out.append(Mention(
                source_name=report.source_name, doc_index=report.doc_index, region=report.region,
                indicator=code, kind="target", measure=measure, period="annual",
                year=report.plan_year, value=None, value_high=None,
                unit="percent" if measure == "growth_pct" else v.indicators[code].level_unit or None,
                qualifier=None, estimate=False, strength=None, value_text="",
                quote=sentence[m.start():m.end()], sentence=sentence.strip(),
                start=offset + a_start, end=offset + a_end, sentence_start=offset,
                sentence_end=offset + len(sentence), status="no_target"))
    return out


def multi_year_spans(review: str, review_year: int | None) -> list[tuple[int, int]]:
    """Stretches of the review that look back over several years ("过去五年…", "这五年,…",
    "“十四五”时期…") until a sentence turns to the last year ("过去一年", "刚刚过去的2025年")."""
    c = cues()
    year = rf"|(?:刚刚过去的)?{review_year}\s*年" if review_year else ""
    single = re.compile(c["single_year_opener"].pattern + year.replace("|", "|^\\s*(?:各位代表[,，!！]\\s*)?", 1)) \
        if year else c["single_year_opener"]
    if not c["multi_year_anywhere"].search(review):
        return []
    spans, start = [], None
    for sm in _SENTENCE.finditer(review):
        sentence = sm.group(0)
        if start is None and c["multi_year_opener"].match(sentence):
            start = sm.start()
        elif start is not None and single.match(sentence):
            spans.append((start, sm.start()))
            start = None
    if start is not None:
        spans.append((start, len(review)))
    return spans


def _about_review_year(sentence: str, report: Report) -> bool:
    if not report.review_year:
        return False
    past = re.search(rf"去年|过去一年|{report.review_year}\s*年", sentence)
    future = re.search(rf"今年|{report.plan_year}\s*年|目标|力争|确保|争取", sentence)
    return bool(past) and not future


def _events(v, sentence: str, hits) -> list[_Event]:
    c = cues()
    events: list[_Event] = []
    spans = []
    for start, end, alias, codes in hits:
        spans.append((start, end))
        need = v.needs_before.get(alias)
        if need is not None and not need.search(sentence[:start]):
            continue
        before = sentence[max(0, start - 12):start]
        after = sentence[end:end + 6]
        blocked = any((k in v.not_before and v.not_before[k].search(before)) or
                      (k in v.not_after and v.not_after[k].search(after)) for k in (*codes, "*"))
        events.append(_Event(start, end, "blocked" if blocked else "alias", codes=codes, text=alias))
    starts = [(m.start(), m.end()) for m in _FROM_SPAN.finditer(sentence)]
    for s, e in starts:
        events.append(_Event(s, e, "from_span"))
    for q in find_quantities(sentence):
        if any(s < q.end and q.start < e for s, e in spans):
            continue
        if any(s < q.start and q.end <= e for s, e in starts):
            continue   # "从26.6万亿元增加到51.9万亿元": a starting point
        if sentence[max(0, q.start - 1):q.start] == "个":
            continue   # "跨越两个千亿元": a count of thresholds, not an amount
        events.append(_Event(q.start, q.end, "qty", qty=q))
    for m in _RESPECTIVELY.finditer(sentence):
        events.append(_Event(m.start(), m.end(), "respectively"))
    i = sentence.find("均")
    while i >= 0:
        if sentence.startswith(("均增", "均稳", "均达", "均突"), i):
            events.append(_Event(i, i + 1, "all"))
        i = sentence.find("均", i + 1)
    for m in c["flat"].finditer(sentence):
        events.append(_Event(m.start(), m.end(), "flat"))
    events.sort(key=lambda e: (e.start, e.end))
    return events


def _sentence_mentions(report, v, sentence, offset, kind, in_multi, hits) -> list[Mention]:
    c = cues()
    out: list[Mention] = []
    b = _Binding()
    for ev in _events(v, sentence, hits):
        if ev.kind == "alias" and report.tier != "zone" and _sub_area(sentence, ev.start, c):
            ev.kind = "blocked"   # a park's or key projects' figure, not the region's
        if ev.kind == "blocked":
            _close(b, out)
            b = _Binding()
            continue
        if ev.kind == "alias":
            in_list = b.group and b.group_end >= 0 and b.anchor == b.group_end and \
                _LIST_SEP.match(sentence[b.group_end:ev.start])
            group = (b.group + list(ev.codes)) if in_list else list(ev.codes)
            group_start = b.group_start if in_list else ev.start
            _close(b, out)
            b = _Binding(codes=ev.codes, anchor=ev.end, group=group, group_end=ev.end,
                         group_start=group_start)
            if len(ev.codes) > 1:          # 城乡居民…: urban then rural
                b.dist, b.dist_from = list(ev.codes), ev.end
            continue
        if ev.kind == "respectively":
            near = b.anchor >= 0 and ev.start - b.anchor <= 4
            # "基础设施投资、工业投资分别增长…": names we do not know take their values first
            item_start = _after_last(sentence, _CLAUSE_CHARS, max(b.group_start, 0))
            unknown = sentence.count("、", item_start, max(b.group_start, 0)) if b.group_start >= 0 else 0
            if near and (len(b.group) >= 2 or unknown):
                _close(b, out)
                b.dist = [None] * unknown + list(b.group)
                b.dist_from, b.dist_out, b.anchor = ev.start, [], ev.end
            continue
        if ev.kind == "from_span":
            if b.anchor >= 0 and ev.start - b.anchor <= MAX_GAP:
                pre = sentence[b.anchor:ev.start]
                if c["share"].search(pre) or c["other_subject"].search(pre):
                    b.anchor = -1   # "进出口额占比从26%提升至35%": a share
                    continue
                b.anchor = ev.end   # the value after 到 belongs to the name before 从
                if b.dist is not None:
                    b.dist_from = ev.start
            continue
        if ev.kind == "flat":
            if len(b.codes) == 1 and b.anchor >= 0 and ev.start - b.anchor <= 12:
                m = _mention(report, sentence, offset, kind, b.codes[0], "growth_pct", None, ev, b.anchor)
                if m and (m.indicator, m.measure) not in b.used:
                    b.used[(m.indicator, m.measure)] = m
                    out.append(m)
            continue
        if ev.kind == "all":   # "A、B均增长8%": one value for every name of the list
            if len(b.group) >= 2 and b.anchor >= 0 and ev.start - b.anchor <= 2:
                _close(b, out)
                b.shared, b.anchor = list(b.group), ev.end
            continue
        _bind_quantity(report, v, sentence, offset, kind, ev, b, out, c, in_multi)
    _close(b, out)
    return out


def _bind_quantity(report, v, sentence, offset, kind, ev, b: _Binding, out, c, in_multi=False) -> None:
    q = ev.qty
    if b.anchor < 0 or q.unit is None:
        return
    gap = sentence[b.anchor:q.start]
    if len(gap) > MAX_GAP or _STOP.search(gap):
        return
    last_clause = _CLAUSE_BREAK.split(gap)[-1]
    if c["other_subject"].search(last_clause):
        return   # "增加值262亿元,铜箔产业增加值增长26%": the value is another thing's
    if sentence[q.end:q.end + 1] in ("/", "每"):
        return   # 800万元/亩: a per-unit figure
    if b.shared:
        for code in b.shared:
            ind = v.indicators[code]
            measure = _measure(ind, q, gap, c)
            if measure and (code, measure) not in b.used:
                m = _mention(report, sentence, offset, kind, code, measure, q, ev, b.anchor, in_multi)
                b.used[(code, measure)] = m
                out.append(m)
        b.shared, b.anchor = None, q.end
        return
    if b.dist is not None:
        if not b.dist:
            return
        code = b.dist[0]
        if code is None:          # the value of a name that is not an indicator
            b.dist.pop(0)
            b.anchor = q.end
            return
        cue_text = sentence[b.dist_from:q.start]
    elif len(b.group) >= 2 and not b.used and b.group_start >= 0:
        # "社会消费品零售总额、固定资产投资增长4%": one value for every name of the list
        b.shared = list(b.group)
        _bind_quantity(report, v, sentence, offset, kind, ev, b, out, c, in_multi)
        return
    elif len(b.codes) == 1:
        code = b.codes[0]
        cue_text = gap
    else:
        return
    ind = v.indicators[code]
    measure = _measure(ind, q, gap, c)
    if measure is None:
        return
    if measure == "level" and q.unit != "percent" and c["change"].search(gap):
        return   # "一般公共预算收入增加近1000亿元": an increment, not the level
    if measure == "growth_pct":
        named = sentence[max(0, b.anchor - 8):b.anchor]
        has_cue = c["growth"].search(cue_text) or c["negative"].search(cue_text) or \
            c["growth"].search(named)
        only_growth = ind.measures == ("growth_pct",)   # CPI: the index is a change already
        if not (has_cue or only_growth) or (last_clause != gap and last_clause.strip() and not (
                c["growth"].search(last_clause) or c["negative"].search(last_clause))):
            return   # a percent with no growth word is some other rate
    if b.dist is not None:
        b.dist.pop(0)
    m = _mention(report, sentence, offset, kind, code, measure, q, ev, b.anchor, in_multi)
    if m is None:
        return
    prev = b.used.get((code, measure))
    if prev is not None:
        # "突破千亿元大关,达1000.24亿元": the exact figure beats the threshold before it
        threshold = prev.qualifier == "at_least" and not _AFTER_QUAL.match(report.text[prev.end:prev.end + 4])
        if measure == "level" and threshold and m.qualifier is None and prev.value <= m.value <= prev.value * 1.5:
            out[out.index(prev)] = m
            b.used[(code, measure)] = m
            b.anchor = q.end
        return
    b.used[(code, measure)] = m
    out.append(m)
    if b.dist is not None or len(b.codes) > 1:
        if not b.dist_out:
            b.lead_qualifier = m.qualifier is not None and not _AFTER_QUAL.match(sentence[q.end:q.end + 4])
        b.dist_out.append(m)
    b.anchor = q.end


def _close(b: _Binding, out: list[Mention]) -> None:
    """End of a list binding: a trailing 左右/以上 after a 分别 list applies to every item; a
    single value after "城乡居民…" (no 分别) holds for both."""
    group = b.dist_out
    if len(group) >= 2 and group[-1].qualifier in ("about", "at_least", "at_most"):
        for m in group[:-1]:
            if m.qualifier is None:
                m.qualifier = group[-1].qualifier
    if len(group) >= 2 and group[0].qualifier in ("about", "at_least", "at_most") and b.lead_qualifier:
        for m in group[1:]:   # "分别超过8万元、4.5万元": a leading 超过 holds for the whole list
            if m.qualifier is None:
                m.qualifier = group[0].qualifier
    if len(b.codes) > 1 and b.dist and len(group) == 1 and len(b.group) == len(b.codes):
        from dataclasses import replace
        for code in b.dist:
            out.append(replace(group[0], indicator=code))
    b.dist_out = []
    b.dist = None


def _sub_area(sentence: str, at: int, c) -> bool:
    """The sentence is about a part of the region: its subject (the first few characters) or the
    indicator's own list item names a park, a zone or projects."""
    item_start = _after_last(sentence, _ITEM_CHARS, at)
    return bool(c["park"].search(sentence[:at]) or c["sub_area"].search(sentence, item_start, at))


def _measure(ind, q: Quantity, gap: str, c) -> str | None:
    if q.unit == "percent":
        if ind.level_unit == "percent":
            return "level"
        if "growth_pct" not in ind.measures or c["share"].search(gap):
            return None
        return "growth_pct"
    if "level" not in ind.measures:
        return None
    ok = {"yuan": ("yuan", "usd"), "person": ("person",), "tonne": ("tonne",)}
    return "level" if q.unit in ok.get(ind.level_unit, ()) else None


def _mention(report, sentence, offset, kind, code, measure, q, ev, anchor, in_multi=False) -> Mention | None:
    c = cues()
    before = sentence[:ev.start]
    clause_start = _after_last(sentence, _CLAUSE_CHARS, max(0, anchor - 1))
    gap = sentence[anchor:ev.start]
    if q is None:  # 持平
        value, high, unit, written, qual = 0.0, None, "percent", sentence[ev.start:ev.end], None
    else:
        value, high, unit, written = q.value, q.value_high, q.unit, q.text
        neg = c["negative"].search(gap)
        # "下降3.2%" is -3.2; "涨幅回落到2.6%" is a rate that fell TO 2.6
        if measure == "growth_pct" and neg and not _TO.match(gap, neg.end()):
            value, high = -value, (-high if high is not None else None)
            if high is not None:
                value, high = high, value
        qual = _qualifier(sentence, q, gap, kind)
    period, year = _period(sentence, ev.start, report, kind, c, gap)
    if in_multi and period == "annual" and year == report.review_year and not _single_year(sentence, ev.start, report):
        # looking back over five years: rates and running totals span the period; a level
        # reached ("增加到121万亿元", "生产总值6.66万亿元") is the last year's
        if measure == "growth_pct" or code in vocab_mod.load().accumulates or c["multi_year"].search(gap):
            period = "multi_year"
    estimate = kind == "actual" and bool(c["estimate"].search(before))
    strength = None
    if kind == "target":
        found = [m.group(0) for m in c["strength"].finditer(sentence, clause_start, ev.start)]
        strength = found[-1] if found else "plain"
    qs = offset + clause_start
    return Mention(
        source_name=report.source_name, doc_index=report.doc_index, region=report.region,
        indicator=code, kind=kind, measure=measure, period=period, year=year,
        value=value, value_high=high, unit=unit, qualifier=qual, estimate=estimate,
        strength=strength, value_text=written, quote=report.text[qs:offset + ev.end].strip(),
        sentence=sentence.strip(), start=offset + ev.start, end=offset + ev.end,
        sentence_start=offset, sentence_end=offset + len(sentence))


def _single_year(sentence: str, at: int, report) -> bool:
    return bool(re.search(rf"全年|去年|年末|年底|{report.review_year}\s*年", sentence[:at]))


def _qualifier(sentence: str, q: Quantity, gap: str, kind: str) -> str | None:
    if q.value_high is not None:
        return "range"
    m = _AFTER_QUAL.match(sentence[q.end:q.end + 4])
    if m:
        return _QUALIFIER_AFTER[m.group(1)]
    near = gap[-8:]
    if _ABOUT.search(near[-3:]):
        return "about"
    if _AT_LEAST.search(near):
        return "at_least"
    if _AT_MOST.search(near) or (kind == "target" and "控制在" in near):
        return "at_most"   # an achieved figure "控制在2.27%" is exact; a target one is a cap
    return None


_LOOKS_AHEAD = re.compile(r"\(\?[=!]|\$|\\[bBZ]")


@lru_cache(maxsize=256)
def _first_cue(name: str, sentence: str) -> int:
    """Where cue `name` first matches in the sentence (-1: nowhere). A pattern that looks at no
    text after its match matches in no prefix of the sentence before that either, so _period
    reads each prefix from there on; 0 (read it all) for a pattern that does look ahead."""
    rx = cues()[name]
    if _LOOKS_AHEAD.search(rx.pattern):
        return 0
    m = rx.search(sentence)
    return m.start() if m else -1


def _period(sentence: str, at: int, report, kind, c, gap) -> tuple[str, int | None]:
    """annual / partial_year / multi_year, and the year the figure is about."""
    year = report.review_year if kind == "actual" else report.plan_year
    before = sentence[:at]
    ym = None
    for ym in _EXPLICIT_YEAR.finditer(gap):
        pass
    if ym and gap.endswith(ym.group(0)):   # "增长到2025年的4.93万亿元": that year's level
        return "annual", int(ym.group(1))
    if _TO_END.search(gap) and _FROM_SPAN.search(sentence[:at]):
        return "annual", year               # "从…增加到51.9万亿元": the level at the review's end
    last_whole = before.rfind("全年")
    last_whole = last_whole + 2 if last_whole >= 0 else -1
    clause_start = _after_last(before, _CLAUSE_CHARS, len(before))
    for name in ("partial_year", "multi_year"):
        first = _first_cue(name, sentence)
        if first < 0 or first > at:
            continue
        for m in c[name].finditer(before, first):
            if m.start() <= last_whole:
                continue
            # a cue holds in the value's own clause, or for the rest of the sentence when it
            # opens it ("前三季度,全市…", "过去五年,…")
            if m.start() >= clause_start or _OPENER.match(before[m.end():]):
                return name, year
    years = [int(y) for y in _YEAR_OF.findall(_FROM_SPAN.sub("", before))] if "年" in before else []
    if years and year and years[-1] != year and abs(years[-1] - year) <= 10:
        return "annual", years[-1]
    return "annual", year
