"""Lists of names ("A、B和C", "城乡居民…" for two, "粮食、油料、蔬菜产量" with a shared head)
and runs of values ("6%、8%和9%"): what a list of names holds, and how many values stand in a row."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .numbers import Quantity
from .sentence import CLAUSE_BREAKS, Context, after_last

_RUN_SEP = re.compile(r"\s*(?:左右|以上|以内|以下)?\s*(?:、|和|及|与|以及)\s*")
# words between a list of names and its 分别/均 ("城镇居民…、农民人均纯收入预计分别完成")
_LIST_TAIL = re.compile(r"(?:预计|预估|初步预计|同比|实际|名义|全年|可比|比上年|较上年|累计|年均|都|也|共|合计)*\s*$")
_ITEM_SEP = re.compile(r"以及|、|和|及|与")
# the words between a list of names and its first value ("…和农村居民人均纯收入实际增长8.4%和11.4%")
VALUE_TAIL = re.compile(r"(?:预计|预估|初步预计|同比|实际|名义|全年|可比|比上年|较上年|分别|均|增长|增速|增幅|"
                        r"提高|下降|达到|达|完成|实现|为|突破|超过|共|合计|累计|约|近)*\s*$")
_LIST_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.]|\s*年)")   # a number, not a year


@dataclass(slots=True)
class Items:
    start: int               # where the list's first item starts
    codes: list              # one per item: its indicator code, None for an item naming none
    compound: list           # per entry: True where one name stood for two (城乡居民…)
    completed: set           # codes found by completing an item from a shared head

    @property
    def mapped(self) -> list:
        return [c for c in self.codes if c is not None]


def list_items(ctx: Context, end: int, tail_words: re.Pattern = _LIST_TAIL) -> Items | None:
    """The list of names that ends at `end`, read back to its clause's start: "A、B和C",
    "城乡居民…" (one name for two), "粮食、油料、蔬菜产量" (a shared head: 粮食产量),
    "规上工业产值和增加值" (a shared stem: 规上工业增加值). None when there is no list."""
    sentence, v = ctx.sentence, ctx.v
    start = after_last(sentence, CLAUSE_BREAKS, end)
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
        got = complete(v, texts[i], texts[0] if i else "", texts[-1] if i < len(texts) - 1 else "")
        codes += list(got) if got else [None]
        compound += [False] * (len(got) if got else 1)
        if got:
            completed.update(got)
    if len(codes) < 2:
        return None
    return Items(start, codes, compound, completed)


def complete(v, text: str, first: str, last: str) -> tuple | None:
    """An item without a name of its own completed from the list's shared head or stem:
    粮食 + (蔬菜)产量 -> 粮食产量; (规上工业)产值 + 增加值 -> 规上工业增加值."""
    if not text or len(text) > 6:
        return None
    for j in range(1, len(last)):
        codes = alias_ending(v, text + last[j:], len(text))
        if codes:
            return codes
    for j in range(len(first) - 1, 0, -1):
        codes = alias_ending(v, first[:j] + text, j)
        if codes:
            return codes
    return None


def alias_ending(v, cand: str, within: int) -> tuple | None:
    """The codes of the longest plain name that ends cand and starts before `within` (so that
    it takes in the words put together), or None."""
    for a in range(min(within, len(cand))):
        codes = v.alias_codes.get(cand[a:])
        if codes and cand[a:] not in v.only_in and all(c in v.indicators for c in codes):
            return codes
    return None


def run_length(ctx: Context, q: Quantity) -> int:
    """How many values stand in a row from q on ("6%、8%和9%" is three)."""
    qs = [e.qty for e in ctx.quantities if e.qty.start >= q.start and e.qty.unit is not None]
    n = 1
    for a, b_ in zip(qs, qs[1:]):
        if not _RUN_SEP.fullmatch(ctx.sentence, a.end, b_.start):
            break
        n += 1
    return n


def all_residents(items: Items) -> list:
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
