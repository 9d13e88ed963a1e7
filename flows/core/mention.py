"""A bound value as a mention: its value, qualifier and sign, its kind, period and year, the
rule that read it and its confidence, and the evidence (quote, offsets)."""
from __future__ import annotations

import re
from functools import lru_cache

from . import vocab as vocab_mod
from .model import Mention
from .numbers import Quantity
from .sentence import (AFTER_QUAL, CLAUSE_BREAK, CLAUSE_BREAKS, FROM_SPAN, Binding, Context, after_last, cues,
                       rule_meta)

_YEAR_OF = re.compile(r"((?:19|20)\d{2})\s*年")
_EXPLICIT_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:底|末)?(?:的)?")
_OPENER_REST = re.compile(r"[”\"」』]?(?:以来|来|期间|时期|内|中|里|间|的|底|末|份)?\s*[,，:：]")
_QUALIFIER_AFTER = {"左右": "about", "以上": "at_least", "以内": "at_most", "以下": "at_most"}
_FALL_RATE = re.compile(r"降幅|跌幅")
_TO_YEAR = re.compile(r"(?:到|至)\s*((?:19|20)\d{2})\s*年")
_WHOLE_YEAR = re.compile(r"全年|去年|年末|年底")
_TIME_CLAUSE = re.compile(r"\s*(?:到|至|在|截至)?\s*(?:19|20)\d{2}\s*年(?:底|末|全年|以来)?\s*")
_TO = re.compile(r"\s*(?:到|至)")
_TO_END = re.compile(r"(?:到|至)[^,，;；]{0,3}$")
_ABOUT = re.compile(r"约|大约")
_AT_LEAST = re.compile(r"超过|超|突破|不低于|不少于|逾|迈上|迈过|跨越|跨过|跨上|跨入|迈入|登上|站上")
_AT_MOST = re.compile(r"不超过|低于|不高于")
_LOOKS_AHEAD = re.compile(r"\(\?[=!]|\$|\\[bBZ]")


def mention(ctx: Context, code, measure, q, ev, anchor, rule="direct", b: Binding | None = None) -> Mention | None:
    c = cues()
    report, sentence, offset = ctx.report, ctx.sentence, ctx.offset
    before = sentence[:ev.start]
    clause_start = after_last(sentence, CLAUSE_BREAKS, max(0, anchor - 1))
    gap = sentence[anchor:ev.start]
    if ctx.kind == "actual" and (c["quoted_target"].search(sentence, clause_start, ev.start) or
                                 c["quoted_targets"].search(before)):
        return None   # "提出居民消费价格涨幅3%左右": a target quoted in the review, not an actual
    value, high, unit, written, qual = _value(sentence, q, ev, measure, gap, ctx.kind, c)
    after_from = b is not None and b.after_from == anchor
    kind, period, year, by_opener = _when(ctx, code, measure, qual, ev.start, gap, after_from, c)
    if rule == "direct":
        if ev.rule in ("times", "threshold", "threshold_count"):
            rule = ev.rule
        elif measure == "level" and qual == "at_least" and c["threshold_verb"].search(gap[-8:]):
            rule = "threshold"
        elif measure == "level" and (after_from or by_opener or (ctx.in_multi and period == "annual")):
            rule = "end_level"
    subject, confidence = rule_meta(rule)
    if confidence == "high" and len(gap) > 12 and CLAUSE_BREAK.search(gap):
        confidence = "medium"   # the value stands a clause away from its name
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
        sentence_start=offset, sentence_end=offset + len(sentence), rule=rule, subject=subject,
        confidence=confidence)


def _value(sentence: str, q: Quantity | None, ev, measure: str, gap: str, kind: str, c) -> tuple:
    """(value, value_high, unit, as written, qualifier) of an amount; 持平 (no amount) is 0,
    基本持平 about 0; a fall (下降3.2%) is negative."""
    if q is None:
        qual = "about" if sentence[max(0, ev.start - 2):ev.start] == "基本" else None
        return 0.0, None, "percent", sentence[ev.start:ev.end], qual
    value, high = q.value, q.value_high
    if measure == "growth_pct" and _falls(gap, c):
        value, high = -value, (-high if high is not None else None)
        if high is not None:
            value, high = high, value
    qual = _qualifier(sentence, q, gap, kind)
    if qual is None and ev.rule in ("threshold", "threshold_count"):
        qual = "at_least"
    return value, high, q.unit, q.text, qual


def _when(ctx: Context, code: str, measure: str, qual, at: int, gap: str, after_from: bool, c) -> tuple:
    """(kind, period, year, whether a multi-year cue opening the sentence made it multi_year)
    of a value standing at `at`: _period's reading, then what a multi-year review, a five-year
    plan or a floor held over years makes of it."""
    report, sentence, kind = ctx.report, ctx.sentence, ctx.kind
    before = sentence[:at]
    accumulates = code in vocab_mod.load().accumulates
    period, year, by_opener = _period(ctx, at, c, gap, after_from)
    if by_opener and kind == "actual" and measure == "level" and not accumulates \
            and not c["multi_year"].search(gap):
        # "“十四五”以来,…服务业增加值跨上万亿元台阶": a level reached at the period's end
        period = "annual"
    if kind == "actual" and year == report.plan_year and year != report.review_year and \
            any(int(y) == year for y in _TO_YEAR.findall(before)):
        kind = "target"   # "到2017年底,…达到7500元" in a report planning 2017: its target
    if ctx.forward and kind == "actual":
        period = "multi_year"   # a five-year plan's targets, not an actual of any year
    elif ctx.in_multi and period == "annual" and year == report.review_year and not _single_year(sentence, at, report):
        # looking back over five years: rates and running totals span the period; a level
        # reached ("增加到121万亿元", "生产总值6.66万亿元", "翻番达到2206亿元") is the last year's
        cue = c["multi_year"].search(gap)
        if cue and c["reached_after_doubling"].match(gap, cue.start()):
            cue = None
        if measure == "growth_pct" or accumulates or cue:
            period = "multi_year"
    if kind == "actual" and period == "annual" and (c["floor_held"].search(gap) or (
            (qual == "at_least" or ctx.in_multi) and c["floor_level"].search(gap))):
        period = "multi_year"   # "粮食总产量保持在1.3万亿斤以上": a floor held over years
    return kind, period, year, by_opener


def _falls(gap: str, c) -> bool:
    """The change word nearest the value is a fall ("下降3.2%", "CPI微降0.1%"), not one of
    another subject before it ("在对美贸易下降超3成的情况下增长12%"). A rate that moved TO the
    value keeps the sign of the rate: "涨幅回落到2.6%" is 2.6, "降幅收窄至9.6%" is -9.6."""
    neg = None
    for neg in c["negative"].finditer(gap):
        pass
    if neg is None or c["growth"].search(gap, neg.end()):
        return False
    if _TO.match(gap, neg.end()):
        return bool(_FALL_RATE.search(gap, 0, neg.start()))
    return True


def _qualifier(sentence: str, q: Quantity, gap: str, kind: str) -> str | None:
    if q.value_high is not None:
        return "range"
    m = AFTER_QUAL.match(sentence[q.end:q.end + 4])
    if m:
        return _QUALIFIER_AFTER[m.group(1)]
    near = CLAUSE_BREAK.split(gap[-8:])[-1]   # the value's own clause ("增幅首次超过总收入,完成1.1亿元")
    if _ABOUT.search(near[-3:]):
        return "about"
    if _AT_LEAST.search(near):
        return "at_least"
    if _AT_MOST.search(near) or (kind == "target" and "控制在" in near):
        return "at_most"   # an achieved figure "控制在2.27%" is exact; a target one is a cap
    return None


def _single_year(sentence: str, at: int, report) -> bool:
    """The sentence says it is about the last year only ("全年…", "2025年…"); not the end year
    of a change over the period ("从2015年的56.1亿元增长到2020年的77.2亿元")."""
    before = FROM_SPAN.sub("", sentence[:at])
    before = _TO_YEAR.sub("", before)
    return bool(_WHOLE_YEAR.search(before)) or \
        any(int(y) == report.review_year for y in _YEAR_OF.findall(before))


def _first_cue(ctx: Context, name: str) -> int:
    """Where cue `name` first matches in the sentence up to its last value (-1: nowhere),
    looked for once per sentence. A pattern that looks at no text after its match matches in
    no prefix of the sentence before that either, so _period reads each value's prefix from
    there on; 0 (read it all) for a pattern that does look ahead."""
    first = ctx.cue_first.get(name)
    if first is None:
        if _looks_ahead(name):
            first = 0
        else:
            m = cues()[name].search(ctx.sentence, 0, ctx.last_value)
            first = m.start() if m else -1
        ctx.cue_first[name] = first
    return first


@lru_cache(maxsize=None)
def _looks_ahead(name: str) -> bool:
    """Cue `name` looks at text after its match (a lookahead, $, \\b, \\B, \\Z)."""
    return bool(_LOOKS_AHEAD.search(cues()[name].pattern))


def _period(ctx: Context, at: int, c, gap, after_from=False) -> tuple[str, int | None, bool]:
    """annual / partial_year / multi_year, the year the figure at `at` is about, and whether a
    multi-year cue opening the sentence (not the value's own clause) made it multi_year."""
    report = ctx.report
    year = report.review_year if ctx.kind == "actual" else report.plan_year
    before = ctx.sentence[:at]
    ym = None
    for ym in _EXPLICIT_YEAR.finditer(gap):
        pass
    if ym and gap.endswith(ym.group(0)):   # "增长到2025年的4.93万亿元": that year's level
        return "annual", int(ym.group(1)), False
    if after_from or (_TO_END.search(gap) and FROM_SPAN.search(before)):
        return "annual", year, False        # "从…增加到51.9万亿元": the level at the review's end
    clause_start = after_last(before, CLAUSE_BREAKS, len(before))
    cued = _period_cue(ctx, before, clause_start, c)
    if cued is not None:
        return cued[0], year, cued[1]
    if clause_start > 0 and c["verb_first"].match(before, clause_start) and c["multi_year_anywhere"].search(before):
        # "累计完成工业固定资产投资196亿元,完成规模以上工业总产值745亿元": a clause with no
        # subject of its own goes on with the one before, and with its sum over the period
        prev = after_last(before, CLAUSE_BREAKS, clause_start - 1)
        if c["cumulative"].search(before, prev, clause_start):
            return "multi_year", year, False
    return "annual", _year_named(before, clause_start, year, c), False


def _period_cue(ctx: Context, before: str, clause_start: int, c) -> tuple[str, bool] | None:
    """The partial- or multi-year cue that holds for a value standing after `before`, and
    whether it opens the sentence: a cue holds in the value's own clause, or for the rest of
    the sentence when it opens it ("前三季度,全市…", "过去五年,…", "截至11月底,…")."""
    cued = [(name, first) for name in ("partial_year", "multi_year")
            if 0 <= (first := _first_cue(ctx, name)) <= len(before)]
    if not cued:
        return None
    last_whole = before.rfind("全年")
    last_whole = last_whole + 2 if last_whole >= 0 else -1
    froms = [(m.start(), m.end()) for m in FROM_SPAN.finditer(before)] if "从" in before or "由" in before else []
    for name, first in cued:
        for m in c[name].finditer(before, first):
            if m.start() <= last_whole or any(a <= m.start() < e for a, e in froms):
                continue   # "从上半年5.5%降到5.3%": the starting point's period
            if name == "multi_year" and c["reached_after_doubling"].match(before, m.start()):
                continue   # "进出口总值翻番达到2206亿元": the level reached
            if m.start() >= clause_start:
                return name, False
            if _opens(before, m):
                return name, name == "multi_year"
    return None


def _in_time_clause(before: str, at: int) -> bool:
    """The clause around `at` says only when ("到2021年,", "2023年,")."""
    a = after_last(before, CLAUSE_BREAKS, at)
    m = CLAUSE_BREAK.search(before, at)
    return bool(_TIME_CLAUSE.fullmatch(before, a, m.start() if m else len(before)))


def _year_named(before: str, clause_start: int, year: int | None, c) -> int | None:
    """A year the value's own clause, or the sentence's opening, names ("2016年全县地区生产总
    值…", "2002年与1998年相比,…"), not a comparison base ("比2006年", "是2011年的1.42倍")."""
    named = list(_YEAR_OF.finditer(before)) if year and "年" in before else []
    if not named:
        return year
    first_end = CLAUSE_BREAK.search(before)
    first_end = first_end.start() if first_end else len(before)
    froms = [(m.start(), m.end()) for m in FROM_SPAN.finditer(before)]
    years = []
    for y in named:
        if not (y.start() < first_end or y.start() >= clause_start or _in_time_clause(before, y.start())):
            continue
        if any(a <= y.start() < e for a, e in froms) or c["year_compared"].search(before, max(0, y.start() - 2), y.start()):
            continue
        years.append(int(y.group(1)))
    if years and years[-1] != year and abs(years[-1] - year) <= 10:
        return years[-1]
    return year


def _opens(before: str, m: re.Match) -> bool:
    """A period cue opens its sentence's clause and is all of it ("过去五年,", "前三季度,",
    "“十四五”以来,"), not a clause of its own ("耕地总量连续3年净增加,", "五年行动计划,")."""
    start = after_last(before, CLAUSE_BREAKS, m.start())
    return m.start() - start <= 8 and bool(_OPENER_REST.match(before, m.end()))
