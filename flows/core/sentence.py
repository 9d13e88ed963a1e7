"""One sentence as extract reads it: the cue words (flows/vocab/cues.csv) and rule tags
(flows/vocab/rules.csv), where its clauses and list items break, its events (names, amounts,
cue words) in reading order, its context and what the next value may be bound to."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from .model import Report
from .numbers import Quantity

MAX_GAP = 24          # characters allowed between an indicator (or its previous value) and a value
CLAUSE_BREAK = re.compile(r"[,，;；:：]")
ITEM_CHARS = ",，;；:：、"
# everything up to the last clause (list item) break: the greedy run backs off to it
CLAUSE_BREAKS = re.compile(r"(?s:.*)[,，;；:：]")
ITEM_BREAKS = re.compile(rf"(?s:.*)[{ITEM_CHARS}]")


def after_last(s: str, breaks: re.Pattern, end: int) -> int:
    """Offset just after the last break (CLAUSE_BREAKS, ITEM_BREAKS) in s[:end], or 0."""
    m = breaks.match(s, 0, end)
    return m.end() if m else 0


RESPECTIVELY = re.compile(r"分别")
FROM_SPAN = re.compile(r"(?:从|由)[^,，;；。到至]{0,40}?(?:到|至)")
AFTER_QUAL = re.compile(r"^\s*(左右|以上|以内|以下)")


@lru_cache(maxsize=1)
def cues() -> dict[str, re.Pattern]:
    text = resources.files("flows.vocab").joinpath("cues.csv").read_text(encoding="utf-8")
    return {row["cue"]: re.compile(row["pattern"]) for row in csv.DictReader(text.splitlines())}


@lru_cache(maxsize=1)
def rules() -> dict[str, dict]:
    """The rule tags (flows/vocab/rules.csv): rule -> its subject, confidence, panel rank."""
    text = resources.files("flows.vocab").joinpath("rules.csv").read_text(encoding="utf-8")
    return {row["rule"]: row for row in csv.DictReader(text.splitlines())}


def rule_meta(rule: str) -> tuple[str, str]:
    row = rules()[rule]
    return row["subject"], row["confidence"]


@dataclass(slots=True)
class Event:
    start: int
    end: int
    kind: str                 # alias | blocked | qty | respectively | all | flat | from_span
    codes: tuple = ()
    qty: Quantity | None = None
    text: str = ""
    rule: str = "direct"      # how a name was found, or what kind of amount a qty is


@dataclass(slots=True)
class Context:
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
class Binding:
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
