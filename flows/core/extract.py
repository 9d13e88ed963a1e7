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
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from operator import attrgetter

from . import vocab as vocab_mod
from .model import Mention, Report
from .numbers import Quantity, find_quantities, parse_number
from .units import normalize

MAX_GAP = 24          # characters allowed between an indicator (or its previous value) and a value
_SENTENCE = re.compile(r"[^。!?！？\n]+[。!?！？]?")
_CLAUSE_BREAK = re.compile(r"[,，;；:：]")
_ITEM_CHARS = ",，;；:：、"
# everything up to the last clause (list item) break: the greedy run backs off to it
_CLAUSE_BREAKS = re.compile(r"(?s:.*)[,，;；:：]")
_ITEM_BREAKS = re.compile(rf"(?s:.*)[{_ITEM_CHARS}]")
_YEAR_OF = re.compile(r"((?:19|20)\d{2})\s*年")


def _after_last(s: str, breaks: re.Pattern, end: int) -> int:
    """Offset just after the last break (_CLAUSE_BREAKS, _ITEM_BREAKS) in s[:end], or 0."""
    m = breaks.match(s, 0, end)
    return m.end() if m else 0


_RUN_SEP = re.compile(r"\s*(?:左右|以上|以内|以下)?\s*(?:、|和|及|与|以及)\s*")
# words between a list of names and its 分别/均 ("城镇居民…、农民人均纯收入预计分别完成")
_LIST_TAIL = re.compile(r"(?:预计|预估|初步预计|同比|实际|名义|全年|可比|比上年|较上年|累计|年均|都|也|共|合计)*\s*$")
_ITEM_SEP = re.compile(r"以及|、|和|及|与")
# the words between a list of names and its first value ("…和农村居民人均纯收入实际增长8.4%和11.4%")
_VALUE_TAIL = re.compile(r"(?:预计|预估|初步预计|同比|实际|名义|全年|可比|比上年|较上年|分别|均|增长|增速|增幅|"
                         r"提高|下降|达到|达|完成|实现|为|突破|超过|共|合计|累计|约|近)*\s*$")
# a number in an earlier clause of a gap (not a year, not percentage points): the name's value
_DIGITS = re.compile(r"(?<![\d.第])\d+(?:\.\d+)?(?![\d.]|\s*(?:年|个?百分点|位|名))")
_RESPECTIVELY = re.compile(r"分别")
_FROM_SPAN = re.compile(r"(?:从|由)[^,，;；。到至]{0,40}?(?:到|至)")
_EXPLICIT_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:底|末)?(?:的)?")
_AFTER_QUAL = re.compile(r"^\s*(左右|以上|以内|以下)")
_OPENER_REST = re.compile(r"[”\"」』]?(?:以来|来|期间|时期|内|中|里|间|的|底|末|份)?\s*[,，:：]")
_QUALIFIER_AFTER = {"左右": "about", "以上": "at_least", "以内": "at_most", "以下": "at_most"}
_STOP = re.compile(r"[;；。]")
_FALL_RATE = re.compile(r"降幅|跌幅")
_LIST_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.]|\s*年)")   # a number, not a year
_TO_YEAR = re.compile(r"(?:到|至)\s*((?:19|20)\d{2})\s*年")
_WHOLE_YEAR = re.compile(r"全年|去年|年末|年底")
_TIME_CLAUSE = re.compile(r"\s*(?:到|至|在|截至)?\s*(?:19|20)\d{2}\s*年(?:底|末|全年|以来)?\s*")
_TO = re.compile(r"\s*(?:到|至)")
_TO_END = re.compile(r"(?:到|至)[^,，;；]{0,3}$")
_ABOUT = re.compile(r"约|大约")
_AT_LEAST = re.compile(r"超过|超|突破|不低于|不少于|逾|迈上|迈过|跨越|跨过|跨上|跨入|迈入|登上|站上")
_AT_MOST = re.compile(r"不超过|低于|不高于")


@lru_cache(maxsize=1)
def cues() -> dict[str, re.Pattern]:
    text = resources.files("flows.vocab").joinpath("cues.csv").read_text(encoding="utf-8")
    return {row["cue"]: re.compile(row["pattern"]) for row in csv.DictReader(text.splitlines())}


@dataclass(slots=True)
class _Event:
    start: int
    end: int
    kind: str                 # alias | blocked | qty | respectively | all | flat | from_span
    codes: tuple = ()
    qty: Quantity | None = None
    text: str = ""
    rule: str = "direct"      # how a name was found, or what kind of amount a qty is


@dataclass(slots=True)
class _Binding:
    """What the next value in a sentence may belong to."""
    codes: tuple = ()                     # indicator(s) named last
    anchor: int = -1                      # end of the name, or of its last value
    name_end: int = -1                    # end of the name
    rule: str = "direct"                  # how the name was found (direct, implied_*, sibling, ...)
    dist: list | None = None              # names still waiting for a value (分别, pairs, 城乡…)
    dist_codes: list = field(default_factory=list)   # the whole list dist started from
    dist_rule: str = ""
    dist_from: int = -1                   # where the distributive values started
    dist_out: list = field(default_factory=list)  # mentions made from the list
    respectively: bool = False            # the list had 分别
    completed: set = field(default_factory=set)   # codes completed from a shared head
    last_list: list | None = None         # a list whose values are all read (for a second run)
    after_from: int = -1                  # end of a 从…到 span the value follows
    from_start: int = -1                  # and its start
    used: dict = field(default_factory=dict)      # (code, measure) -> mention
    shared: list | None = None            # names sharing the next value (均, one value for a list)
    shared_rule: str = ""
    lead_qualifier: bool = False          # the list's first value had its qualifier before it

    def dist_all_codes(self) -> list:
        return list(self.dist_codes)


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
    marks = sorted({h[0] for h in hits} | {m.start() for m in _RESPECTIVELY.finditer(text)})
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


def _events(v, sentence: str, hits, report=None, kind="actual") -> list[_Event]:
    """The sentence's names, amounts and cue words in reading order; none for a sentence with
    no amount and no 持平 (nothing there can be read as a value)."""
    spans = [(start, end) for start, end, _alias, _codes in hits]
    starts = [(m.start(), m.end()) for m in _FROM_SPAN.finditer(sentence)]
    amounts = _amounts(sentence, spans, starts)
    flat = [_Event(m.start(), m.end(), "flat") for m in cues()["flat"].finditer(sentence)]
    if not amounts and not flat:
        return []
    names = _names(v, sentence, hits, report, kind) + _siblings(v, sentence, hits, spans)
    lists = _list_marks(sentence, starts)
    if not lists and not any(e.kind == "alias" for e in names):
        return []   # no name of the region's and no list: no value has a name to go to
    events = names + [_Event(s, e, "from_span") for s, e in starts] + amounts + lists + flat
    events.sort(key=_READING_ORDER)
    return events


_READING_ORDER = attrgetter("start", "end")


def _list_marks(sentence: str, starts) -> list[_Event]:
    """分别 (not inside a 从…到 span) and 均 as "all" ("A、B均增长8%"; not 年均, 人均)."""
    events = [_Event(m.start(), m.end(), "respectively") for m in _RESPECTIVELY.finditer(sentence)
              if not any(s < m.start() < e for s, e in starts)]
    i = sentence.find("均")
    while i >= 0:
        if sentence.startswith(("均增", "均稳", "均达", "均突", "均超", "均保持", "均实现"), i) and \
                sentence[i - 1:i] not in ("年", "人"):   # 年均, 人均: averages, not "all"
            events.append(_Event(i, i + 1, "all"))
        i = sentence.find("均", i + 1)
    return events


def _names(v, sentence: str, hits, report, kind) -> list[_Event]:
    """The alias hits that name an indicator here ("alias"), or a thing that is not the
    region's figure ("blocked"); hits that name nothing in this context are left out."""
    c = cues()
    events: list[_Event] = []
    targets = kind == "target" and bool(c["targets_sentence"].search(sentence))
    for start, end, alias, codes in hits:
        need = v.needs_before.get(alias)
        if need is not None and not need.search(sentence[:start]):
            continue
        if need is not None and sentence[start - 1:start] == "、" and need.search("、") and \
                _item_of_another(events, sentence, start - 1):
            continue   # "猕猴桃综合产值增长8.5%、出口增长53.6%": the product's exports, not the region's
        rule = "direct"
        only = v.only_in.get(alias)
        if only is not None:
            context, tiers, rule = only
            if (context == "targets" and not targets) or (context == "plan" and kind != "target") or \
                    (tiers and (report is None or report.tier not in tiers)):
                continue   # an implied subject holds only where its context says so
        before = sentence[max(0, start - 12):start]
        after = sentence[end:end + 6]
        if c["compared_with"].search(before):
            continue   # "增速高于经济增速": the object of a comparison, not a subject
        if c["sub_level"].search(before):
            rule = "sub_level"   # 区本级固定资产投资: the region's own level, kept when nothing else is
        not_before, not_after = v.blocked_by[codes]
        blocked = bool(not_before and not_before.search(before)) or bool(not_after and not_after.search(after))
        events.append(_Event(start, end, "blocked" if blocked else "alias", codes=codes, text=alias, rule=rule))
    return events


def _amounts(sentence: str, spans, starts) -> list[_Event]:
    """The amounts that can be a value: none inside a name, none a starting point (从…到)."""
    events: list[_Event] = []
    skip = []
    for q, rule in _special_quantities(sentence):   # the more specific readings first
        if any(s < q.end and q.start < e for s, e in skip):
            continue
        if rule == "skip":
            skip.append((q.start, q.end))
        elif not any(s < q.end and q.start < e for s, e in spans):
            events.append(_Event(q.start, q.end, "qty", qty=q, rule=rule))
            skip.append((q.start, q.end))
    taken = spans + skip
    for q in find_quantities(sentence):
        if any(s < q.end and q.start < e for s, e in taken):
            continue
        if starts and any(s < q.start and q.end <= e for s, e in starts):
            continue   # "从26.6万亿元增加到51.9万亿元": a starting point
        if sentence[max(0, q.start - 1):q.start] == "个":
            continue   # "跨越两个千亿元": a count of thresholds, not an amount
        events.append(_Event(q.start, q.end, "qty", qty=q))
    return events


def _item_of_another(events, sentence: str, at: int) -> bool:
    """The list item before the "、" at `at` has a value of its own and names no indicator of
    the region: a bare name after it goes on with that item's subject."""
    start = _after_last(sentence, _ITEM_BREAKS, at)
    return bool(re.search(r"\d", sentence[start:at])) and \
        not any(start <= e.start and e.end <= at and e.kind == "alias" for e in events)


def _siblings(v, sentence: str, hits, spans) -> list[_Event]:
    """"地方一般公共预算收入增长2.3%、支出首次超过7000亿元": a bare head word after a break
    shares the qualifier words of the name before it (地方一般公共预算 + 支出)."""
    out = []
    for m in cues()["sibling_head"].finditer(sentence):
        if m.start() == 0 or sentence[m.start() - 1] not in _ITEM_CHARS:
            continue
        if any(s <= m.start() < e for s, e in spans):
            continue
        prev = [h for h in hits if h[1] <= m.start() and m.start() - h[1] <= 24]
        if not prev:
            continue
        _s, _e, alias, _codes = prev[-1]
        head = cues()["sibling_head"].search(alias)
        if head is None or head.end() != len(alias) or head.group(0) == m.group(0):
            continue
        stem = alias[:head.start()]
        cand = stem + m.group(0)
        codes = _alias_ending(v, cand, len(stem))
        if codes:
            out.append(_Event(m.start(), m.end(), "alias", codes=codes, text=cand, rule="sibling"))
    return out


def _alias_ending(v, cand: str, within: int) -> tuple | None:
    """The codes of the longest plain name that ends cand and starts before `within` (so that
    it takes in the words put together), or None."""
    for a in range(min(within, len(cand))):
        codes = v.alias_codes.get(cand[a:])
        if codes and cand[a:] not in v.only_in and all(c in v.indicators for c in codes):
            return codes
    return None


def _special_quantities(sentence: str) -> list[tuple[Quantity, str]]:
    """Amounts numbers.py does not read as such: 增长1.33倍 (growth 133%), 亿 with 元 left out
    ("一般公共预算收入超10亿": yuan, so only a money indicator takes it), a bare threshold
    ("跨上万亿元台阶", "达到万亿级规模") and thresholds crossed in turn ("连续跨越7万亿、8万亿、
    9万亿三个大台阶": the last one). rule "skip" marks the earlier thresholds of such a run."""
    c = cues()
    out = []
    if "倍" not in sentence and "亿" not in sentence:
        return out
    for m in c["times"].finditer(sentence):
        try:
            n = parse_number(m.group("n"))
        except (ValueError, KeyError, TypeError):
            continue
        out.append((Quantity(m.start("n"), m.end(), round(n * 100, 6), None, "percent", "倍",
                             m.group(0)[m.start("n") - m.start():]), "times"))
    for m in c["threshold_count"].finditer(sentence):
        values = list(re.finditer(r"(\d+(?:\.\d+)?)(万亿|千亿|百亿|亿)(元)?", m.group("run")))
        if len(values) < 2:
            continue
        base = m.start("run")
        for x in values[:-1]:
            out.append((Quantity(base + x.start(), base + x.end(), 0.0, None, None, "", x.group(0)), "skip"))
        x = values[-1]
        value, unit = normalize(float(x.group(1)), x.group(2) + "元")
        out.append((Quantity(base + x.start(), base + x.end(), value, None, unit, x.group(2) + "元",
                             x.group(0)), "threshold_count"))
    for m in c["amount_bare"].finditer(sentence):
        value, unit = normalize(float(m.group("n")), m.group("mult") + "元")
        out.append((Quantity(m.start(), m.end(), value, None, unit, m.group("mult"), m.group(0)), "amount_bare"))
    for m in c["threshold_bare"].finditer(sentence):
        value, unit = normalize(1.0, m.group("mult") + "元")
        out.append((Quantity(m.start("mult"), m.end("mult") + (1 if m.group("yuan") else 0), value, None,
                             unit, m.group("mult") + "元", m.group("mult") + (m.group("yuan") or "")),
                    "threshold"))
    return out


def _sentence_mentions(report, v, sentence, offset, kind, in_multi, hits, forward=False) -> list[Mention]:
    events = _events(v, sentence, hits, report, kind)
    if not events:
        return []
    c = cues()
    ctx = _Context(report, v, sentence, offset, kind, in_multi or forward,
                   [e for e in events if e.kind in ("alias", "blocked")], [e for e in events if e.kind == "qty"],
                   forward, max((e.start for e in events if e.kind in ("qty", "flat")), default=0))
    # a park or zone at the sentence's start, a sub-area anywhere in it (see _sub_area)
    parks = report.tier != "zone" and (bool(c["park"].match(sentence)), bool(c["sub_area"].search(sentence)))
    out: list[Mention] = []
    b = _Binding()
    for ev in events:
        if ev.kind == "qty":
            _bind_quantity(ctx, ev, b, out)
            continue
        if ev.kind == "alias" and parks and _sub_area(sentence, ev.start, c, *parks):
            ev.kind = "blocked"   # a park's or key projects' figure, not the region's
        if ev.kind == "blocked":
            _close(b, out)
            b = _Binding()
        elif ev.kind == "alias":
            _close(b, out)
            b = _Binding(codes=ev.codes, anchor=ev.end, name_end=ev.end, rule=ev.rule)
        elif ev.kind == "from_span":
            _from_span(ctx, ev, b, c)
        elif ev.kind == "flat":
            if len(b.codes) == 1 and b.anchor >= 0 and ev.start - b.anchor <= 12:
                m = _mention(ctx, b.codes[0], "growth_pct", None, ev, b.anchor, "flat")
                if m and (m.indicator, m.measure) not in b.used:
                    b.used[(m.indicator, m.measure)] = m
                    out.append(m)
        else:
            _list_mark(ctx, ev, b, out)
    _close(b, out)
    return out


def _from_span(ctx: _Context, ev, b: _Binding, c) -> None:
    """从…到 after a name: the value after 到 is the name's ("从26.6万亿元增加到51.9万亿元"), its
    starting point is not; unless the words before it make it a share ("占比从26%提升至35%")."""
    if b.anchor < 0 or ev.start - b.anchor > MAX_GAP:
        return
    pre = ctx.sentence[b.anchor:ev.start]
    if c["share"].search(pre) or c["other_subject"].search(pre):
        b.anchor = -1
        return
    b.anchor = ev.end
    b.after_from, b.from_start = ev.end, ev.start
    if b.dist is not None:
        b.dist_from = ev.start


def _list_mark(ctx: _Context, ev, b: _Binding, out) -> None:
    """分别 (respectively) or 均 (all) after a list of names: the values that follow go to the
    names in order, or one value to every name; right after the values of a list, to that list's
    names again."""
    items = _list_items(ctx, ev.start)
    if ev.kind == "respectively":
        if items is not None and items.mapped:
            # "A、B分别增长6%、8%" (names we do not know take their values too)
            _close(b, out)
            b.dist, b.dist_rule, b.completed = list(items.codes), "list_respectively", items.completed
            b.dist_codes = list(items.codes)
            b.respectively, b.dist_from, b.anchor = True, ev.start, ev.end
        elif b.last_list and b.anchor >= 0 and ev.start - b.anchor <= 4:
            # "达到39529元和16183元,分别增长4.7%和6.6%": the same names again
            _close(b, out)
            b.dist, b.dist_rule = list(b.last_list), "list_second"
            b.dist_codes = list(b.last_list)
            b.respectively, b.dist_from, b.anchor = True, ev.start, ev.end
    elif items is not None and items.mapped:   # "A、B均增长8%": one value for every name of the list
        _close(b, out)
        b.shared, b.shared_rule, b.anchor = items.mapped, "list_shared", ev.end
        b.completed = items.completed
    elif b.last_list and b.anchor >= 0 and ev.start - b.anchor <= 2:
        # "分别完成31098元、12347元,均增长8.5%": the list's names again, one value
        _close(b, out)
        b.shared = [x for x in b.last_list if x is not None]
        b.shared_rule, b.anchor = "list_second", ev.end


@dataclass(slots=True)
class _Context:
    report: Report
    v: object
    sentence: str
    offset: int
    kind: str
    in_multi: bool
    names: list
    quantities: list
    forward: bool = False
    last_value: int = 0        # where the sentence's last amount (or 持平) stands
    cue_first: dict = field(default_factory=dict)   # period cue -> _first_cue


@dataclass(slots=True)
class _Items:
    start: int               # where the list's first item starts
    codes: list              # one per item: its indicator code, None for an item naming none
    compound: list           # per entry: True where one name stood for two (城乡居民…)
    completed: set           # codes found by completing an item from a shared head

    @property
    def mapped(self) -> list:
        return [c for c in self.codes if c is not None]


def _list_items(ctx: _Context, end: int, tail_words: re.Pattern = _LIST_TAIL) -> _Items | None:
    """The list of names that ends at `end`, read back to its clause's start: "A、B和C",
    "城乡居民…" (one name for two), "粮食、油料、蔬菜产量" (a shared head: 粮食产量),
    "规上工业产值和增加值" (a shared stem: 规上工业增加值). None when there is no list."""
    sentence, v = ctx.sentence, ctx.v
    start = _after_last(sentence, _CLAUSE_BREAKS, end)
    if not _ITEM_SEP.search(sentence, start, end) and \
            not any(len(n.codes) > 1 and start <= n.start and n.end <= end for n in ctx.names):
        return None   # one name, no list (looked for before the list's end is: it ends no later)
    tail = tail_words.search(sentence, start, end)
    seg_end = tail.start() if tail else end
    inside = [n for n in ctx.names if start <= n.start and n.end <= seg_end]
    if not _ITEM_SEP.search(sentence, start, seg_end) and not any(len(n.codes) > 1 for n in inside):
        return None   # one name, no list
    cuts = [m for m in _ITEM_SEP.finditer(sentence, start, seg_end)
            if not any(n.start < m.end() and m.start() < n.end for n in inside)]
    bounds = [start] + [m.end() for m in cuts]
    ends = [m.start() for m in cuts] + [seg_end]
    pieces = list(zip(bounds, ends))
    if any(a >= b_ for a, b_ in pieces):
        return None
    if _LIST_NUMBER.search(sentence, start, seg_end):
        return None   # an item with a number of its own: a clause, not a list of names
    texts = [sentence[a:b_].strip() for a, b_ in pieces]
    codes, compound, completed = [], [], set()
    for i, (a, b_) in enumerate(pieces):
        named = [n for n in inside if a <= n.start and n.end <= b_]
        if named:
            n = named[-1]
            if n.kind != "alias" or len(sentence[n.end:b_].strip()) > 3:
                codes.append(None)      # a name that is not the region's, or not the item's head
                compound.append(False)
                continue
            got = [code if code in v.indicators else None for code in n.codes]
            codes += got
            compound += [len(got) > 1] * len(got)
            continue
        got = _complete(v, texts[i], texts[0] if i else "", texts[-1] if i < len(texts) - 1 else "")
        codes += list(got) if got else [None]
        compound += [False] * (len(got) if got else 1)
        if got:
            completed.update(got)
    if len(codes) < 2:
        return None
    return _Items(start, codes, compound, completed)


def _complete(v, text: str, first: str, last: str) -> tuple | None:
    """An item without a name of its own completed from the list's shared head or stem:
    粮食 + (蔬菜)产量 -> 粮食产量; (规上工业)产值 + 增加值 -> 规上工业增加值."""
    if not text or len(text) > 6:
        return None
    for j in range(1, len(last)):
        codes = _alias_ending(v, text + last[j:], len(text))
        if codes:
            return codes
    for j in range(len(first) - 1, 0, -1):
        codes = _alias_ending(v, first[:j] + text, j)
        if codes:
            return codes
    return None


def _run_length(ctx: _Context, q: Quantity) -> int:
    """How many values stand in a row from q on ("6%、8%和9%" is three)."""
    qs = [e.qty for e in ctx.quantities if e.qty.start >= q.start and e.qty.unit is not None]
    n = 1
    for a, b_ in zip(qs, qs[1:]):
        if not _RUN_SEP.fullmatch(ctx.sentence, a.end, b_.start):
            break
        n += 1
    return n


def _bind_quantity(ctx: _Context, ev, b: _Binding, out, listed: bool = False) -> None:
    """Bind the amount `ev` to the name (or the list of names) the binding holds, when nothing
    between them makes it another thing's value."""
    q = ev.qty
    if q.unit is None and q.unit_written == "人次" and b.codes == ("new_urban_jobs",) and \
            q.start - b.anchor <= 2 and q.value_high is None:
        # "城镇新增就业3000人次": a count of people when it is 城镇新增就业 itself
        q = Quantity(q.start, q.end, q.value, None, "person", q.unit_written, q.text)
        ev = _Event(ev.start, ev.end, ev.kind, qty=q, rule=ev.rule)
    if b.anchor < 0 or q.unit is None:
        return
    gap = ctx.sentence[b.anchor:q.start]
    if len(gap) > MAX_GAP or _STOP.search(gap):
        return
    items = None
    if b.dist is None and not b.shared and not b.used and b.name_end >= 0:
        # a list of names before the first value? (they end where the values' words start,
        # or where 从…到 starts)
        items = _list_items(ctx, b.from_start if b.anchor == b.after_from else q.start, _VALUE_TAIL)
        if items is not None and items.start >= b.name_end:
            items = None
    last_clause = _CLAUSE_BREAK.split(gap)[-1]
    if not _own_value(ctx, b, q, gap, last_clause, items is None and not listed):
        return
    if b.shared:
        _share(ctx, ev, b, out, gap)
        return
    target = _next_name(ctx, ev, b, out, items, gap)
    if target is None:
        return
    code, cue_text, rule = target
    measure = _value_measure(ctx, ev, b, code, gap, cue_text, last_clause)
    if measure is None:
        return
    if b.dist is not None:
        b.dist.pop(0)
        if not b.dist:
            b.last_list = b.dist_all_codes()
    _record(ctx, ev, b, out, code, measure, rule)


def _own_value(ctx: _Context, b: _Binding, q: Quantity, gap: str, last_clause: str, subject: bool) -> bool:
    """Nothing between the name and the amount makes the amount another thing's (`subject`:
    the value's own clause may name another subject)."""
    c = cues()
    if subject and c["other_subject"].search(last_clause) and not c["own_head"].match(last_clause.strip()):
        return False   # "增加值262亿元,铜箔产业增加值增长26%": the value is another thing's
    if last_clause != gap and _unread_number(ctx, b.anchor, q.start - len(last_clause)):
        return False   # "就业岗位1530个,职业介绍670人": the name had its value already
    if ctx.sentence[q.end:q.end + 1] in ("/", "每"):
        return False   # 800万元/亩: a per-unit figure
    if c["class_after"].match(ctx.sentence, q.end):
        return False   # "经济总量超500亿元的县域": a class of places or firms, not the region's figure
    return True


def _next_name(ctx: _Context, ev, b: _Binding, out, items: _Items | None, gap: str) -> tuple | None:
    """(code, words that say what the amount is, rule) of the name the amount goes to: the
    list's next, or the one name before it. None when there is none, or when the amount was
    bound another way (one value for a whole list)."""
    if b.dist is not None:
        return _next_of_list(ctx, ev, b, out, gap)
    if not b.used and b.name_end >= 0 and items is not None and _start_list(ctx, ev, b, out, items, gap):
        return None
    if len(b.codes) != 1:
        return None
    return b.codes[0], gap, b.rule


def _start_list(ctx: _Context, ev, b: _Binding, out, items: _Items, gap: str) -> bool:
    """The first amount after a list of names: as many amounts in a row as names take them in
    order, a single one goes to every name. True when the amount was bound so."""
    run = _run_length(ctx, ev.qty)
    if run == len(items.codes):
        # "城镇居民人均可支配收入和农村居民人均纯收入实际增长8.4%和11.4%"
        b.dist, b.completed, b.dist_from = list(items.codes), items.completed, b.name_end
        b.dist_codes = list(items.codes)
        b.dist_rule = "list_compound" if all(items.compound) else "list_pairs"
        _bind_quantity(ctx, ev, b, out, listed=True)
        return True
    if run == 1:
        # "社会消费品零售总额、固定资产投资增长4%": one value for every name of the list;
        # "城乡居民人均可支配收入增长7%": one figure, no list: all residents
        b.shared = _all_residents(items)
        b.shared_rule = "single_all_residents" if all(items.compound) else "list_shared"
        b.completed = items.completed
        _share(ctx, ev, b, out, gap)
        return True
    if len(b.codes) > 1:
        b.dist = [x if x in ctx.v.indicators else None for x in b.codes]
        b.dist_rule, b.dist_from, b.dist_codes = "list_compound", b.name_end, list(b.dist)
        _bind_quantity(ctx, ev, b, out, listed=True)
        return True
    return False


def _next_of_list(ctx: _Context, ev, b: _Binding, out, gap: str) -> tuple | None:
    """The next name of the list the binding holds (a second run of values takes the names
    again); None when the amount goes to a name that is not an indicator, or to every name."""
    q = ev.qty
    if not b.dist:
        if not (b.last_list and _run_length(ctx, q) == len(b.last_list)):
            return None
        # "分别完成23538元、9292元,增长10.5%、13.7%": a second list of values
        b.dist, b.dist_rule, b.dist_from, b.dist_out = list(b.last_list), "list_second", b.anchor, []
        b.dist_codes = list(b.last_list)
    if b.respectively and not b.dist_out and len(b.dist) >= 2 and _run_length(ctx, q) == 1:
        # "城乡居民人均可支配收入分别增长7.8%": one figure for every name
        b.shared, b.shared_rule = [x for x in b.dist if x is not None], "single_for_both"
        b.dist = None
        _share(ctx, ev, b, out, gap)
        return None
    code = b.dist[0]
    if code is None:          # the value of a name that is not an indicator
        b.dist.pop(0)
        b.anchor = q.end
        if not b.dist:
            b.last_list = b.dist_all_codes()
        return None
    rule = "list_compound" if code in b.completed else b.dist_rule
    return code, ctx.sentence[b.dist_from:q.start], rule


def _value_measure(ctx: _Context, ev, b: _Binding, code: str, gap: str, cue_text: str,
                   last_clause: str) -> str | None:
    """What the amount is of the indicator (level, growth_pct); None for an indicator we do not
    know, an increment, or a percent with no growth word (some other rate)."""
    c = cues()
    ind = ctx.v.indicators.get(code)
    if ind is None:
        return None
    q = ev.qty
    measure = _measure(ind, q, gap, c)
    if measure == "level" and q.unit != "percent" and c["change"].search(gap):
        return None   # "一般公共预算收入增加近1000亿元": an increment, not the level
    if measure == "growth_pct":
        named = ctx.sentence[max(0, b.anchor - 8):b.anchor]
        has_cue = c["growth"].search(cue_text) or c["negative"].search(cue_text) or \
            c["growth"].search(named) or ev.rule == "times"
        only_growth = ind.measures == ("growth_pct",)   # CPI: the index is a change already
        if not (has_cue or only_growth) or (last_clause != gap and last_clause.strip() and not (
                c["growth"].search(last_clause) or c["negative"].search(last_clause))):
            return None   # a percent with no growth word is some other rate
    return measure


def _record(ctx: _Context, ev, b: _Binding, out, code: str, measure: str, rule: str) -> None:
    """The mention of a bound amount. A name's exact figure after a threshold it passed
    ("突破千亿元大关,达1000.24亿元") takes the threshold's place; any other second value of the
    same name and measure is left out."""
    q = ev.qty
    m = _mention(ctx, code, measure, q, ev, b.anchor, rule, b)
    if m is None:
        return
    prev = b.used.get((code, measure))
    if prev is not None:
        threshold = prev.qualifier == "at_least" and not _AFTER_QUAL.match(ctx.report.text[prev.end:prev.end + 4])
        if measure == "level" and threshold and m.qualifier is None and prev.value <= m.value <= prev.value * 1.5:
            out[out.index(prev)] = m
            b.used[(code, measure)] = m
            b.anchor = q.end
        return
    b.used[(code, measure)] = m
    out.append(m)
    if b.dist is not None:
        if not b.dist_out:
            b.lead_qualifier = m.qualifier is not None and not _AFTER_QUAL.match(ctx.sentence[q.end:q.end + 4])
        b.dist_out.append(m)
    b.anchor = q.end


def _unread_number(ctx: _Context, a: int, b_: int) -> bool:
    """A number between a and b that is no amount read ("1530个"): not a year, a rank (第1位)
    or percentage points."""
    for m in _DIGITS.finditer(ctx.sentence, a, b_):
        if not any(e.start <= m.start() < e.end for e in ctx.quantities):
            return True
    return False


def _all_residents(items: _Items) -> list:
    """The codes one value goes to; a name for two (城乡居民…) alone is all residents."""
    out = []
    for code, comp in zip(items.codes, items.compound):
        if code is None:
            continue
        if comp and code.startswith("disposable_income_"):
            code = "disposable_income"
        if code not in out:
            out.append(code)
    return out


def _share(ctx: _Context, ev, b: _Binding, out, gap: str) -> None:
    c = cues()
    q = ev.qty
    for code in b.shared:
        ind = ctx.v.indicators[code]
        measure = _measure(ind, q, gap, c)
        if measure and (code, measure) not in b.used:
            rule = "list_compound" if code in b.completed and b.shared_rule == "list_shared" else b.shared_rule
            m = _mention(ctx, code, measure, q, ev, b.anchor, rule, b)
            if m is None:
                continue
            b.used[(code, measure)] = m
            out.append(m)
    b.shared, b.anchor = None, q.end


def _close(b: _Binding, out: list[Mention]) -> None:
    """End of a list binding: a trailing 左右/以上 after a 分别 list applies to every item."""
    group = b.dist_out
    if len(group) >= 2 and group[-1].qualifier in ("about", "at_least", "at_most"):
        for m in group[:-1]:
            if m.qualifier is None:
                m.qualifier = group[-1].qualifier
    if len(group) >= 2 and group[0].qualifier in ("about", "at_least", "at_most") and b.lead_qualifier:
        for m in group[1:]:   # "分别超过8万元、4.5万元": a leading 超过 holds for the whole list
            if m.qualifier is None:
                m.qualifier = group[0].qualifier
    if b.dist is not None and group and b.dist:
        for m in group:       # fewer values than names: which goes where is a guess
            m.confidence = "low"
    b.dist_out = []
    b.dist = None


def _sub_area(sentence: str, at: int, c, opens_with_park: bool, names_sub_area: bool) -> bool:
    """The sentence is about a part of the region: its subject (the first few characters) or the
    indicator's own list item names a park, a zone or projects; or the clause before names a
    park as its subject and this one goes on without a subject of its own ("力争全年园区规模工业
    增加值增长8%以上,工业固定资产投资增长20%以上"). (A park that opens no more than the text
    before `at` opens the whole sentence, and a sub-area in the item is one in the sentence.)"""
    if opens_with_park and c["park"].search(sentence[:at]):
        return True
    if names_sub_area and c["sub_area"].search(sentence, _after_last(sentence, _ITEM_BREAKS, at), at):
        return True
    clause = _after_last(sentence, _CLAUSE_BREAKS, at)
    if not clause or c["whole_region"].search(sentence, clause, at):
        return False
    prev = _after_last(sentence, _CLAUSE_BREAKS, clause - 1)
    return bool(c["park"].match(sentence[prev:clause - 1]))


_LEVEL_UNITS = {"yuan": ("yuan", "usd"), "person": ("person",), "tonne": ("tonne",)}   # an indicator's -> an amount's


def _measure(ind, q: Quantity, gap: str, c) -> str | None:
    if q.unit == "percent":
        if ind.level_unit == "percent":
            return "level"
        if "growth_pct" not in ind.measures or c["share"].search(gap):
            return None
        return "growth_pct"
    if "level" not in ind.measures:
        return None
    return "level" if q.unit in _LEVEL_UNITS.get(ind.level_unit, ()) else None


def _mention(ctx: _Context, code, measure, q, ev, anchor, rule="direct", b: _Binding | None = None) -> Mention | None:
    c = cues()
    report, sentence, offset = ctx.report, ctx.sentence, ctx.offset
    before = sentence[:ev.start]
    clause_start = _after_last(sentence, _CLAUSE_BREAKS, max(0, anchor - 1))
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
    if confidence == "high" and len(gap) > 12 and _CLAUSE_BREAK.search(gap):
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


def _when(ctx: _Context, code: str, measure: str, qual, at: int, gap: str, after_from: bool, c) -> tuple:
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


@lru_cache(maxsize=1)
def rules() -> dict[str, dict]:
    """The rule tags (flows/vocab/rules.csv): rule -> its subject, confidence, panel rank."""
    text = resources.files("flows.vocab").joinpath("rules.csv").read_text(encoding="utf-8")
    return {row["rule"]: row for row in csv.DictReader(text.splitlines())}


def rule_meta(rule: str) -> tuple[str, str]:
    row = rules()[rule]
    return row["subject"], row["confidence"]


def _single_year(sentence: str, at: int, report) -> bool:
    """The sentence says it is about the last year only ("全年…", "2025年…"); not the end year
    of a change over the period ("从2015年的56.1亿元增长到2020年的77.2亿元")."""
    before = _FROM_SPAN.sub("", sentence[:at])
    before = _TO_YEAR.sub("", before)
    return bool(_WHOLE_YEAR.search(before)) or \
        any(int(y) == report.review_year for y in _YEAR_OF.findall(before))


def _qualifier(sentence: str, q: Quantity, gap: str, kind: str) -> str | None:
    if q.value_high is not None:
        return "range"
    m = _AFTER_QUAL.match(sentence[q.end:q.end + 4])
    if m:
        return _QUALIFIER_AFTER[m.group(1)]
    near = _CLAUSE_BREAK.split(gap[-8:])[-1]   # the value's own clause ("增幅首次超过总收入,完成1.1亿元")
    if _ABOUT.search(near[-3:]):
        return "about"
    if _AT_LEAST.search(near):
        return "at_least"
    if _AT_MOST.search(near) or (kind == "target" and "控制在" in near):
        return "at_most"   # an achieved figure "控制在2.27%" is exact; a target one is a cap
    return None


_LOOKS_AHEAD = re.compile(r"\(\?[=!]|\$|\\[bBZ]")


def _first_cue(ctx: _Context, name: str) -> int:
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


def _period(ctx: _Context, at: int, c, gap, after_from=False) -> tuple[str, int | None, bool]:
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
    if after_from or (_TO_END.search(gap) and _FROM_SPAN.search(before)):
        return "annual", year, False        # "从…增加到51.9万亿元": the level at the review's end
    clause_start = _after_last(before, _CLAUSE_BREAKS, len(before))
    cued = _period_cue(ctx, before, clause_start, c)
    if cued is not None:
        return cued[0], year, cued[1]
    if clause_start > 0 and c["verb_first"].match(before, clause_start) and c["multi_year_anywhere"].search(before):
        # "累计完成工业固定资产投资196亿元,完成规模以上工业总产值745亿元": a clause with no
        # subject of its own goes on with the one before, and with its sum over the period
        prev = _after_last(before, _CLAUSE_BREAKS, clause_start - 1)
        if c["cumulative"].search(before, prev, clause_start):
            return "multi_year", year, False
    return "annual", _year_named(before, clause_start, year, c), False


def _period_cue(ctx: _Context, before: str, clause_start: int, c) -> tuple[str, bool] | None:
    """The partial- or multi-year cue that holds for a value standing after `before`, and
    whether it opens the sentence: a cue holds in the value's own clause, or for the rest of
    the sentence when it opens it ("前三季度,全市…", "过去五年,…", "截至11月底,…")."""
    cued = [(name, first) for name in ("partial_year", "multi_year")
            if 0 <= (first := _first_cue(ctx, name)) <= len(before)]
    if not cued:
        return None
    last_whole = before.rfind("全年")
    last_whole = last_whole + 2 if last_whole >= 0 else -1
    froms = [(m.start(), m.end()) for m in _FROM_SPAN.finditer(before)] if "从" in before or "由" in before else []
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
    a = _after_last(before, _CLAUSE_BREAKS, at)
    m = _CLAUSE_BREAK.search(before, at)
    return bool(_TIME_CLAUSE.fullmatch(before, a, m.start() if m else len(before)))


def _year_named(before: str, clause_start: int, year: int | None, c) -> int | None:
    """A year the value's own clause, or the sentence's opening, names ("2016年全县地区生产总
    值…", "2002年与1998年相比,…"), not a comparison base ("比2006年", "是2011年的1.42倍")."""
    named = list(_YEAR_OF.finditer(before)) if year else []
    if not named:
        return year
    first_end = _CLAUSE_BREAK.search(before)
    first_end = first_end.start() if first_end else len(before)
    froms = [(m.start(), m.end()) for m in _FROM_SPAN.finditer(before)]
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
    start = _after_last(before, _CLAUSE_BREAKS, m.start())
    return m.start() - start <= 8 and bool(_OPENER_REST.match(before, m.end()))
