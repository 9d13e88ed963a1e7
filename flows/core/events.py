"""A sentence's events in reading order: the names of indicators in it (or of things that
are not the region's figure), its amounts, and the cue words that shape the reading (分别, 均,
持平, 从…到)."""
from __future__ import annotations

import re
from operator import attrgetter

from .lists import alias_ending
from .numbers import Quantity, find_quantities, parse_number
from .sentence import FROM_SPAN, ITEM_BREAKS, ITEM_CHARS, RESPECTIVELY, Event, after_last, cues
from .units import normalize


def sentence_events(v, sentence: str, hits, report=None, kind="actual") -> list[Event]:
    """The sentence's names, amounts and cue words in reading order; none for a sentence with
    no amount and no 持平 (nothing there can be read as a value)."""
    spans = [(start, end) for start, end, _alias, _codes in hits]
    starts = [(m.start(), m.end()) for m in FROM_SPAN.finditer(sentence)]
    amounts = _amounts(sentence, spans, starts)
    flat = [Event(m.start(), m.end(), "flat") for m in cues()["flat"].finditer(sentence)]
    if not amounts and not flat:
        return []
    names = _names(v, sentence, hits, report, kind) + _siblings(v, sentence, hits, spans)
    lists = _list_marks(sentence, starts)
    if not lists and not any(e.kind == "alias" for e in names):
        return []   # no name of the region's and no list: no value has a name to go to
    events = names + [Event(s, e, "from_span") for s, e in starts] + amounts + lists + flat
    events.sort(key=_READING_ORDER)
    return events


_READING_ORDER = attrgetter("start", "end")


def _list_marks(sentence: str, starts) -> list[Event]:
    """分别 (not inside a 从…到 span) and 均 as "all" ("A、B均增长8%"; not 年均, 人均)."""
    events = [Event(m.start(), m.end(), "respectively") for m in RESPECTIVELY.finditer(sentence)
              if not any(s < m.start() < e for s, e in starts)]
    i = sentence.find("均")
    while i >= 0:
        if sentence.startswith(("均增", "均稳", "均达", "均突", "均超", "均保持", "均实现"), i) and \
                sentence[i - 1:i] not in ("年", "人"):   # 年均, 人均: averages, not "all"
            events.append(Event(i, i + 1, "all"))
        i = sentence.find("均", i + 1)
    return events


def _names(v, sentence: str, hits, report, kind) -> list[Event]:
    """The alias hits that name an indicator here ("alias"), or a thing that is not the
    region's figure ("blocked"); hits that name nothing in this context are left out."""
    c = cues()
    events: list[Event] = []
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
        events.append(Event(start, end, "blocked" if blocked else "alias", codes=codes, text=alias, rule=rule))
    return events


def _amounts(sentence: str, spans, starts) -> list[Event]:
    """The amounts that can be a value: none inside a name, none a starting point (从…到)."""
    events: list[Event] = []
    skip = []
    for q, rule in _special_quantities(sentence):   # the more specific readings first
        if any(s < q.end and q.start < e for s, e in skip):
            continue
        if rule == "skip":
            skip.append((q.start, q.end))
        elif not any(s < q.end and q.start < e for s, e in spans):
            events.append(Event(q.start, q.end, "qty", qty=q, rule=rule))
            skip.append((q.start, q.end))
    taken = spans + skip
    for q in find_quantities(sentence):
        if any(s < q.end and q.start < e for s, e in taken):
            continue
        if starts and any(s < q.start and q.end <= e for s, e in starts):
            continue   # "从26.6万亿元增加到51.9万亿元": a starting point
        if sentence[max(0, q.start - 1):q.start] == "个":
            continue   # "跨越两个千亿元": a count of thresholds, not an amount
        events.append(Event(q.start, q.end, "qty", qty=q))
    return events


def _item_of_another(events, sentence: str, at: int) -> bool:
    """The list item before the "、" at `at` has a value of its own and names no indicator of
    the region: a bare name after it goes on with that item's subject."""
    start = after_last(sentence, ITEM_BREAKS, at)
    return bool(re.search(r"\d", sentence[start:at])) and \
        not any(start <= e.start and e.end <= at and e.kind == "alias" for e in events)


def _siblings(v, sentence: str, hits, spans) -> list[Event]:
    """"地方一般公共预算收入增长2.3%、支出首次超过7000亿元": a bare head word after a break
    shares the qualifier words of the name before it (地方一般公共预算 + 支出)."""
    out = []
    for m in cues()["sibling_head"].finditer(sentence):
        if m.start() == 0 or sentence[m.start() - 1] not in ITEM_CHARS:
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
        codes = alias_ending(v, cand, len(stem))
        if codes:
            out.append(Event(m.start(), m.end(), "alias", codes=codes, text=cand, rule="sibling"))
    return out


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
