"""Binding: the amount a sentence's reading reaches goes to the name before it, to the next
name of a list (分别, pairs of names and values, a second run of values), or to every name of a
list (均, one value for a list), unless the words between them make it another thing's value."""
from __future__ import annotations

import re

from .lists import VALUE_TAIL, Items, all_residents, list_items, run_length
from .mention import mention
from .model import Mention
from .numbers import Quantity
from .sentence import (AFTER_QUAL, CLAUSE_BREAK, CLAUSE_BREAKS, ITEM_BREAKS, MAX_GAP, Binding, Context, Event,
                       after_last, cues)

_STOP = re.compile(r"[;；。]")
# a number in an earlier clause of a gap (not a year, not percentage points): the name's value
_DIGITS = re.compile(r"(?<![\d.第])\d+(?:\.\d+)?(?![\d.]|\s*(?:年|个?百分点|位|名))")


def bind_quantity(ctx: Context, ev, b: Binding, out, listed: bool = False) -> None:
    """Bind the amount `ev` to the name (or the list of names) the binding holds, when nothing
    between them makes it another thing's value."""
    q = ev.qty
    if q.unit is None and q.unit_written == "人次" and b.codes == ("new_urban_jobs",) and \
            q.start - b.anchor <= 2 and q.value_high is None:
        # "城镇新增就业3000人次": a count of people when it is 城镇新增就业 itself
        q = Quantity(q.start, q.end, q.value, None, "person", q.unit_written, q.text)
        ev = Event(ev.start, ev.end, ev.kind, qty=q, rule=ev.rule)
    if b.anchor < 0 or q.unit is None:
        return
    gap = ctx.sentence[b.anchor:q.start]
    if len(gap) > MAX_GAP or _STOP.search(gap):
        return
    items = None
    if b.dist is None and not b.shared and not b.used and b.name_end >= 0:
        # a list of names before the first value? (they end where the values' words start,
        # or where 从…到 starts)
        items = list_items(ctx, b.from_start if b.anchor == b.after_from else q.start, VALUE_TAIL)
        if items is not None and items.start >= b.name_end:
            items = None
    last_clause = CLAUSE_BREAK.split(gap)[-1]
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


def _own_value(ctx: Context, b: Binding, q: Quantity, gap: str, last_clause: str, subject: bool) -> bool:
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


def _next_name(ctx: Context, ev, b: Binding, out, items: Items | None, gap: str) -> tuple | None:
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


def _start_list(ctx: Context, ev, b: Binding, out, items: Items, gap: str) -> bool:
    """The first amount after a list of names: as many amounts in a row as names take them in
    order, a single one goes to every name. True when the amount was bound so."""
    run = run_length(ctx, ev.qty)
    if run == len(items.codes):
        # "城镇居民人均可支配收入和农村居民人均纯收入实际增长8.4%和11.4%"
        b.dist, b.completed, b.dist_from = list(items.codes), items.completed, b.name_end
        b.dist_codes = list(items.codes)
        b.dist_rule = "list_compound" if all(items.compound) else "list_pairs"
        bind_quantity(ctx, ev, b, out, listed=True)
        return True
    if run == 1:
        # "社会消费品零售总额、固定资产投资增长4%": one value for every name of the list;
        # "城乡居民人均可支配收入增长7%": one figure, no list: all residents
        b.shared = all_residents(items)
        b.shared_rule = "single_all_residents" if all(items.compound) else "list_shared"
        b.completed = items.completed
        _share(ctx, ev, b, out, gap)
        return True
    if len(b.codes) > 1:
        b.dist = [x if x in ctx.v.indicators else None for x in b.codes]
        b.dist_rule, b.dist_from, b.dist_codes = "list_compound", b.name_end, list(b.dist)
        bind_quantity(ctx, ev, b, out, listed=True)
        return True
    return False


def _next_of_list(ctx: Context, ev, b: Binding, out, gap: str) -> tuple | None:
    """The next name of the list the binding holds (a second run of values takes the names
    again); None when the amount goes to a name that is not an indicator, or to every name."""
    q = ev.qty
    if not b.dist:
        if not (b.last_list and run_length(ctx, q) == len(b.last_list)):
            return None
        # "分别完成23538元、9292元,增长10.5%、13.7%": a second list of values
        b.dist, b.dist_rule, b.dist_from, b.dist_out = list(b.last_list), "list_second", b.anchor, []
        b.dist_codes = list(b.last_list)
    if b.respectively and not b.dist_out and len(b.dist) >= 2 and run_length(ctx, q) == 1:
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


def _value_measure(ctx: Context, ev, b: Binding, code: str, gap: str, cue_text: str,
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


def _record(ctx: Context, ev, b: Binding, out, code: str, measure: str, rule: str) -> None:
    """The mention of a bound amount. A name's exact figure after a threshold it passed
    ("突破千亿元大关,达1000.24亿元") takes the threshold's place; any other second value of the
    same name and measure is left out."""
    q = ev.qty
    m = mention(ctx, code, measure, q, ev, b.anchor, rule, b)
    if m is None:
        return
    prev = b.used.get((code, measure))
    if prev is not None:
        threshold = prev.qualifier == "at_least" and not AFTER_QUAL.match(ctx.report.text[prev.end:prev.end + 4])
        if measure == "level" and threshold and m.qualifier is None and prev.value <= m.value <= prev.value * 1.5:
            out[out.index(prev)] = m
            b.used[(code, measure)] = m
            b.anchor = q.end
        return
    b.used[(code, measure)] = m
    out.append(m)
    if b.dist is not None:
        if not b.dist_out:
            b.lead_qualifier = m.qualifier is not None and not AFTER_QUAL.match(ctx.sentence[q.end:q.end + 4])
        b.dist_out.append(m)
    b.anchor = q.end


def _unread_number(ctx: Context, a: int, b_: int) -> bool:
    """A number between a and b that is no amount read ("1530个"): not a year, a rank (第1位)
    or percentage points."""
    for m in _DIGITS.finditer(ctx.sentence, a, b_):
        if not any(e.start <= m.start() < e.end for e in ctx.quantities):
            return True
    return False


def _share(ctx: Context, ev, b: Binding, out, gap: str) -> None:
    c = cues()
    q = ev.qty
    for code in b.shared:
        ind = ctx.v.indicators[code]
        measure = _measure(ind, q, gap, c)
        if measure and (code, measure) not in b.used:
            rule = "list_compound" if code in b.completed and b.shared_rule == "list_shared" else b.shared_rule
            m = mention(ctx, code, measure, q, ev, b.anchor, rule, b)
            if m is None:
                continue
            b.used[(code, measure)] = m
            out.append(m)
    b.shared, b.anchor = None, q.end


def close(b: Binding, out: list[Mention]) -> None:
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


def from_span(ctx: Context, ev, b: Binding, c) -> None:
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


def list_mark(ctx: Context, ev, b: Binding, out) -> None:
    """分别 (respectively) or 均 (all) after a list of names: the values that follow go to the
    names in order, or one value to every name; right after the values of a list, to that list's
    names again."""
    items = list_items(ctx, ev.start)
    if ev.kind == "respectively":
        if items is not None and items.mapped:
            # "A、B分别增长6%、8%" (names we do not know take their values too)
            close(b, out)
            b.dist, b.dist_rule, b.completed = list(items.codes), "list_respectively", items.completed
            b.dist_codes = list(items.codes)
            b.respectively, b.dist_from, b.anchor = True, ev.start, ev.end
        elif b.last_list and b.anchor >= 0 and ev.start - b.anchor <= 4:
            # "达到39529元和16183元,分别增长4.7%和6.6%": the same names again
            close(b, out)
            b.dist, b.dist_rule = list(b.last_list), "list_second"
            b.dist_codes = list(b.last_list)
            b.respectively, b.dist_from, b.anchor = True, ev.start, ev.end
    elif items is not None and items.mapped:   # "A、B均增长8%": one value for every name of the list
        close(b, out)
        b.shared, b.shared_rule, b.anchor = items.mapped, "list_shared", ev.end
        b.completed = items.completed
    elif b.last_list and b.anchor >= 0 and ev.start - b.anchor <= 2:
        # "分别完成31098元、12347元,均增长8.5%": the list's names again, one value
        close(b, out)
        b.shared = [x for x in b.last_list if x is not None]
        b.shared_rule, b.anchor = "list_second", ev.end


def in_sub_area(sentence: str, at: int, c, opens_with_park: bool, names_sub_area: bool) -> bool:
    """The sentence is about a part of the region: its subject (the first few characters) or the
    indicator's own list item names a park, a zone or projects; or the clause before names a
    park as its subject and this one goes on without a subject of its own ("力争全年园区规模工业
    增加值增长8%以上,工业固定资产投资增长20%以上"). `opens_with_park`, `names_sub_area`: whether
    the whole sentence opens with a park and names a sub-area anywhere (the first two tests can
    hold only where these do)."""
    if opens_with_park and c["park"].search(sentence[:at]):
        return True
    if names_sub_area and c["sub_area"].search(sentence, after_last(sentence, ITEM_BREAKS, at), at):
        return True
    clause = after_last(sentence, CLAUSE_BREAKS, at)
    if not clause or c["whole_region"].search(sentence, clause, at):
        return False
    prev = after_last(sentence, CLAUSE_BREAKS, clause - 1)
    return bool(c["park"].match(sentence[prev:clause - 1]))
