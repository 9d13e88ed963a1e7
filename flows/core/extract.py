"""extract: report -> indicator mentions (indicator, kind, measure, period, year, value, qualifier,
estimate, strength, evidence with offsets into the cleaned report text, and how it was read).

How a sentence is read: indicator names (aliases, flows/vocab) and quantities (numbers.py) are
events in reading order. A quantity binds to the indicator named last before it when the gap
between them is short and says nothing that makes the number another thing's (a share, a
sub-category, a per-unit figure, a clause with a subject of its own). A list of names ("A、B",
"A和B", "城乡居民…" for two) takes its values in order after 分别, or without it when as many
values follow as there are names; one value for a list goes to every name (均, or no 分别), and
"城乡居民…" with one figure and no 分别 is all residents. A list item that names no indicator
takes its value and is dropped; one without a name of its own is completed from the list's shared
head or stem ("粮食、油料、蔬菜产量": 粮食产量). Values after 从/由 and before 到 are starting points,
not results. Every cue word is data: flows/vocab/cues.csv.

Every mention carries the rule that read it (flows/vocab/rules.csv), how its subject was named
(explicit: its name stands at the value; list: a list of names gave it its place; implied: no
name of it, the context says which: a plan's targets, the report's tier, an elided head word)
and a confidence. The confidence is the rule's (rules.csv: high for a name right before its
value, a 分别 list, 持平, 增长N倍; medium for readings that lean on context: pairs without 分别,
shared values, completed names, end levels and thresholds of multi-year reviews, implied
subjects; low for an elided head word and a sub-level figure), one step lower (high -> medium)
where the value stands more than 12 characters and a clause break from its name, and low for
every value of a list that got fewer values than names.

This module reads a report (its plan part, its multi-year stretches, the sentences that name an
indicator) and a sentence's events in turn; the rest by job: sentence.py (cue words, rule tags,
clause breaks, a sentence's context and what the next value may go to), events.py (a sentence's
names, amounts and cue words), lists.py (lists of names, runs of values), binding.py (which name
an amount goes to), mention.py (what a bound value is: sign, qualifier, kind, period, year, rule).
"""
from __future__ import annotations

import re
from functools import lru_cache

from . import vocab as vocab_mod
from .binding import bind_quantity, close, from_span, in_sub_area, list_mark
from .events import sentence_events
from .mention import mention
from .model import Mention, Report
from .sentence import RESPECTIVELY, Binding, Context, cues

_SENTENCE = re.compile(r"[^。!?！？\n]+[。!?！？]?")
_TARGETS_OPENERS = ("主要", "经济社会发展的", "经济社会发展", "发展")
_TARGETS_WORD = re.compile("预期目标")
_TARGETS = re.compile("(?:" + "|".join(_TARGETS_OPENERS) + ")" + _TARGETS_WORD.pattern + "(?:是|为|建议为|如下|[:：])")


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
    # "主要预期目标是…": every one holds 预期目标 at most the longest opener's length after its
    # start, so the search starts that far before the first 预期目标 (re scans for a literal fast)
    word = _TARGETS_WORD.search(text)
    m = word and _TARGETS.search(text, max(0, word.start() - max(map(len, _TARGETS_OPENERS))))
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
    hits = [h for h in vocab_mod.find_aliases(v, text) if _may_hold(v, h, report, boundary)]
    absent = [m.start() for m in cues()["no_target"].finditer(text, boundary)]
    # ... and those with 分别: a list whose names are completed from a shared head ("工业、制造业、
    # 工业技改投资分别增长…") may hold no whole name
    marks = sorted({h[0] for h in hits} | {m.start() for m in RESPECTIVELY.finditer(text)})
    out: list[Mention] = []
    h = i = 0
    s0 = 0
    while i < len(marks):
        # every sentence end mark before the mark after the previous sentence's start - 1
        s0, s1 = _sentence_around(text, marks[i], max(0, s0 - 1))
        while i < len(marks) and marks[i] < s1:
            i += 1
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
        span = next((sp for sp in spans if sp[0] <= s0 < sp[1]), None) if kind == "actual" else None
        forward = span is not None and len(span) > 2 and span[2]
        out.extend(_sentence_mentions(report, v, sentence, s0, kind, span is not None, local, forward))
    return out


def _may_hold(v, hit, report: Report, boundary: int) -> bool:
    """A name bound to a context (an implied subject) can hold here: the report's tier is one
    of its tiers, and a plan-only name is in the plan part."""
    only = v.only_in.get(hit[2])
    if only is None:
        return True
    context, tiers, _rule = only
    return (not tiers or report.tier in tiers) and (not context or hit[0] >= boundary)


_SENTENCE_END = re.compile(r"[。!?！？\n]")
_LAST_SENTENCE_END = re.compile(r"(?s:.*)[。!?！？\n]")


def _sentence_around(text: str, at: int, lo: int = 0) -> tuple[int, int]:
    """The sentence holding offset `at` (the same cut as _SENTENCE: after 。!? or a newline).
    The last sentence end mark before `at` is looked for from `lo` on: the caller knows it is
    there (or that there is none before `at`)."""
    m = _LAST_SENTENCE_END.match(text, lo, at)
    start = m.end() if m else 0
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
            if code not in v.indicators or measure not in v.indicators[code].measures:
                continue
            out.append(Mention(
                source_name=report.source_name, doc_index=report.doc_index, region=report.region,
                indicator=code, kind="target", measure=measure, period="annual",
                year=report.plan_year, value=None, value_high=None,
                unit="percent" if measure == "growth_pct" else v.indicators[code].level_unit or None,
                qualifier=None, estimate=False, strength=None, value_text="",
                quote=sentence[m.start():m.end()], sentence=sentence.strip(),
                start=offset + a_start, end=offset + a_end, sentence_start=offset,
                sentence_end=offset + len(sentence), status="no_target", rule="no_target"))
    return out


def multi_year_spans(review: str, review_year: int | None) -> list[tuple[int, int, bool]]:
    """Stretches of the review that look back over several years ("过去五年…", "这五年,…",
    "“十四五”时期…") until a sentence turns to the last year ("过去一年", "刚刚过去的2025年").
    The third element is True for a stretch that looks forward instead: a heading that opens a
    five-year plan's targets ("二、“十二五”时期的主要目标和任务"): none of its figures is an actual."""
    c = cues()
    year = rf"|(?:刚刚过去的)?{review_year}\s*年" if review_year else ""
    single = re.compile(c["single_year_opener"].pattern + year.replace("|", "|^\\s*(?:各位代表[,，!！]\\s*)?", 1)) \
        if year else c["single_year_opener"]
    opener, ahead_opener, plan_ahead = c["multi_year_opener"], c["multi_year_ahead"], c["plan_ahead"]
    spans, start, forward, pos = [], None, False, 0
    while True:
        if start is None:
            # outside a stretch only a sentence holding a multi-year word (as every opener
            # does) can open one: on to the next such sentence
            hit = c["multi_year_anywhere"].search(review, pos)
            if hit is None:
                break
            cut = _LAST_SENTENCE_END.match(review, pos, hit.start())
            pos = cut.end() if cut else pos
        sm = _SENTENCE.search(review, pos)
        if sm is None:
            break
        pos, sentence = sm.end(), sm.group(0)
        ahead_opens = ahead_opener.match(sentence)
        opens = opener.match(sentence) or ahead_opens
        ahead = bool(ahead_opens) or (bool(opens and plan_ahead.search(sentence)) and len(sentence.strip()) <= 40)
        if opens and (start is None or (ahead and not forward)):
            if start is not None:   # a review of five years, then the next five years' plan
                spans.append((start, sm.start(), forward))
            start, forward = sm.start(), ahead
        elif start is not None and single.match(sentence):
            spans.append((start, sm.start(), forward))
            start = None
    if start is not None:
        spans.append((start, len(review), forward))
    return spans


def _about_review_year(sentence: str, report: Report) -> bool:
    if not report.review_year:
        return False
    past, future = _year_words(report.review_year, report.plan_year)
    return bool(past.search(sentence)) and not future.search(sentence)


@lru_cache(maxsize=64)
def _year_words(review_year: int, plan_year: int | None) -> tuple[re.Pattern, re.Pattern]:
    """What a sentence about the review year says (去年, 2025年), and one about the plan year."""
    return re.compile(rf"去年|过去一年|{review_year}\s*年"), re.compile(rf"今年|{plan_year}\s*年|目标|力争|确保|争取")


def _sentence_mentions(report, v, sentence, offset, kind, in_multi, hits, forward=False) -> list[Mention]:
    events = sentence_events(v, sentence, hits, report, kind)
    if not events:
        return []
    c = cues()
    ctx = Context(report, v, sentence, offset, kind, in_multi or forward,
                  [e for e in events if e.kind in ("alias", "blocked")], [e for e in events if e.kind == "qty"],
                  forward, max((e.start for e in events if e.kind in ("qty", "flat")), default=0))
    # a park or zone at the sentence's start, a sub-area anywhere in it (see in_sub_area)
    parks = report.tier != "zone" and (bool(c["park"].match(sentence)), bool(c["sub_area"].search(sentence)))
    out: list[Mention] = []
    b = Binding()
    for ev in events:
        if ev.kind == "qty":
            bind_quantity(ctx, ev, b, out)
            continue
        if ev.kind == "alias" and parks and in_sub_area(sentence, ev.start, c, *parks):
            ev.kind = "blocked"   # a park's or key projects' figure, not the region's
        if ev.kind == "blocked":
            close(b, out)
            b = Binding()
        elif ev.kind == "alias":
            close(b, out)
            b = Binding(codes=ev.codes, anchor=ev.end, name_end=ev.end, rule=ev.rule)
        elif ev.kind == "from_span":
            from_span(ctx, ev, b, c)
        elif ev.kind == "flat":
            if len(b.codes) == 1 and b.anchor >= 0 and ev.start - b.anchor <= 12:
                m = mention(ctx, b.codes[0], "growth_pct", None, ev, b.anchor, "flat")
                if m and (m.indicator, m.measure) not in b.used:
                    b.used[(m.indicator, m.measure)] = m
                    out.append(m)
        else:
            list_mark(ctx, ev, b, out)
    close(b, out)
    return out
