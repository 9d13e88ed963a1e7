"""Score the gold panel against a reference CSV (the format of tests/data/seeds_indicators.csv).

A row is identified by (doc_id, indicator, kind, measure), doc_id = "<source file stem>#<doc_index>".
A predicted row is correct when its key is in the reference and its value, normalized with
flows/core/units.py, matches within a relative 1e-6 (and its unit is the same). Only documents
the reference labels (at least one row) are scored; rows with status no_target are not values.
Precision is also given by the rule that read each value, by how its subject was named and by
its confidence (the panel's rule, subject and confidence columns), so that an analyst can review
the doubtful readings first.
"""
from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .core.units import normalize, same_value

Key = tuple[str, str, str, str]  # doc_id, indicator, kind, measure


@dataclass
class Row:
    doc_id: str
    indicator: str
    kind: str
    measure: str
    value: float | None
    unit: str | None
    value_high: float | None = None
    qualifier: str | None = None
    estimate: bool = False
    year: int | None = None
    quote: str = ""
    region: str | None = None
    rule: str | None = None          # ours only: how the value was read (flows/vocab/rules.csv)
    subject: str | None = None
    confidence: str | None = None

    @property
    def key(self) -> Key:
        return (self.doc_id, self.indicator, self.kind, self.measure)


@dataclass
class Counts:
    tp: int = 0
    n_pred: int = 0
    n_gold: int = 0

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"tp": self.tp, "predicted": self.n_pred, "gold": self.n_gold,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4)}


@dataclass
class Score:
    overall: Counts
    by_indicator: dict[str, Counts]
    field_accuracy: dict[str, tuple[int, int]]   # field -> (right, compared) among matched keys
    misses: list[tuple[Row, Row | None]] = field(default_factory=list)    # gold, our row at the key
    false_positives: list[tuple[Row, Row | None]] = field(default_factory=list)  # ours, gold at the key
    by_tier: dict[str, Counts] = field(default_factory=dict)     # national | province | city | county/district
    by_decade: dict[str, Counts] = field(default_factory=dict)   # the decade of the year a report plans
    # our values by how they were read: tp and n_pred only (a reference row has no rule)
    by_rule: dict[str, Counts] = field(default_factory=dict)
    by_subject: dict[str, Counts] = field(default_factory=dict)
    by_confidence: dict[str, Counts] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "overall": self.overall.as_dict(),
            "by_indicator": {k: v.as_dict() for k, v in sorted(self.by_indicator.items())},
            "by_tier": {k: v.as_dict() for k, v in sorted(self.by_tier.items())},
            "by_decade": {k: v.as_dict() for k, v in sorted(self.by_decade.items())},
            **{name: {k: {"tp": v.tp, "predicted": v.n_pred, "precision": round(v.precision, 4)}
                      for k, v in sorted(table.items())}
               for name, table in (("by_rule", self.by_rule), ("by_subject", self.by_subject),
                                   ("by_confidence", self.by_confidence))},
            "field_accuracy": {k: {"right": r, "compared": n, "accuracy": round(r / n, 4) if n else None}
                               for k, (r, n) in self.field_accuracy.items()},
            "misses": [_row_dict(g, p) for g, p in self.misses],
            "false_positives": [_row_dict(p, g) for p, g in self.false_positives],
        }


def _row_dict(row: Row, other: Row | None) -> dict:
    d = {"doc_id": row.doc_id, "indicator": row.indicator, "kind": row.kind,
         "measure": row.measure, "value": row.value, "unit": row.unit, "quote": row.quote}
    if other is not None:
        d["other_value"], d["other_quote"] = other.value, other.quote
    return d


def doc_id(source_name: str, doc_index: int) -> str:
    """The reference labels' key of a document: the file's stem only, as the labels name the
    seeds (the BI tables and the report keep a subfolder: flows.core.attainment.doc_id)."""
    return f"{PurePosixPath(source_name).stem}#{doc_index}"


def _opt(s: str | None) -> str | None:
    s = (s or "").strip()
    return s or None


def read_gold(path: str) -> list[Row]:
    """Reference rows, values normalized like the panel's (887 亿元 -> 8.87e10 yuan)."""
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh), 2):
            try:
                value, unit = normalize(float(r["value"]), r["unit"])
                high = normalize(float(r["value_high"]), r["unit"])[0] if _opt(r.get("value_high")) else None
            except (ValueError, KeyError) as e:
                raise ValueError(f"{path}:{i}: {e}") from e
            rows.append(Row(doc_id=r["doc_id"], indicator=r["indicator"], kind=r["kind"],
                            measure=r["measure"], value=value, unit=unit, value_high=high,
                            qualifier=_opt(r.get("qualifier")),
                            estimate=_opt(r.get("estimate")) in ("1", "true", "True"),
                            year=int(r["year"]) if _opt(r.get("year")) else None,
                            quote=r.get("quote", ""), region=_opt(r.get("region"))))
    return rows


def panel_to_rows(records: list[dict]) -> list[Row]:
    """Panel records (dicts with the panel's columns) -> scored rows; no_target rows dropped."""
    return [Row(doc_id=doc_id(r["source_name"], r["doc_index"]), indicator=r["indicator"],
                kind=r["kind"], measure=r["measure"], value=r["value"], unit=r["unit"],
                value_high=r["value_high"], qualifier=r["qualifier"], estimate=bool(r["estimate"]),
                year=r["year"], quote=r["quote"] or "", region=r.get("region"), rule=r.get("rule"),
                subject=r.get("subject"), confidence=r.get("confidence"))
            for r in records if r.get("status") != "no_target" and r.get("value") is not None]


def _same(g: Row, p: Row) -> bool:
    return same_value(g.value, p.value) and (p.unit is None or g.unit is None or g.unit == p.unit)


TIER_GROUPS = {"national": "national", "province": "province", "city": "city",
               "county": "county/district", "district": "county/district", "zone": "county/district"}


def doc_groups(gold: list[Row]) -> dict[str, tuple[str, str]]:
    """doc id -> (tier group, decade) of each labelled report, from its reference rows: the
    tier of its region, the decade of the latest year it is about (the year it plans)."""
    from .core.places import tier_of

    region, year = {}, {}
    for g in gold:
        region.setdefault(g.doc_id, g.region)
        if g.year:
            year[g.doc_id] = max(year.get(g.doc_id, 0), g.year)
    return {d: (TIER_GROUPS.get(tier_of(r) or "", "unknown"),
                f"{year[d] // 10 * 10}s" if d in year else "unknown") for d, r in region.items()}


def score(gold: list[Row], pred: list[Row]) -> Score:
    docs = {g.doc_id for g in gold}   # only the documents the reference labels are scored
    groups = doc_groups(gold)
    by_tier: dict[str, Counts] = defaultdict(Counts)
    by_decade: dict[str, Counts] = defaultdict(Counts)
    pred = [p for p in pred if p.doc_id in docs]
    gold_by: dict[Key, list[Row]] = defaultdict(list)
    for g in gold:
        gold_by[g.key].append(g)
    pred_by: dict[Key, list[Row]] = defaultdict(list)
    for p in pred:
        pred_by[p.key].append(p)

    overall, by_ind = Counts(), defaultdict(Counts)
    how = {"rule": defaultdict(Counts), "subject": defaultdict(Counts), "confidence": defaultdict(Counts)}
    misses, fps = [], []
    fields = {"year": [0, 0], "qualifier": [0, 0], "estimate": [0, 0], "value_high": [0, 0]}
    for key in sorted(set(gold_by) | set(pred_by)):
        gs, ps = gold_by.get(key, []), pred_by.get(key, [])
        tier, decade = groups[key[0]]
        counts = (by_ind[key[1]], by_tier[tier], by_decade[decade])
        for c in counts:
            c.n_gold += len(gs)
            c.n_pred += len(ps)
        unmatched_g = list(gs)
        for p in ps:
            hit = next((g for g in unmatched_g if _same(g, p)), None)
            for name, table in how.items():
                c = table[getattr(p, name) or "unknown"]
                c.n_pred += 1
                c.tp += hit is not None
            if hit is not None:
                unmatched_g.remove(hit)
                for c in counts:
                    c.tp += 1
            else:
                fps.append((p, gs[0] if gs else None))
        misses += [(g, ps[0] if ps else None) for g in unmatched_g]
        if gs and ps:  # field accuracy among matched keys
            g, p = gs[0], ps[0]
            for name, right in (("year", g.year == p.year), ("qualifier", g.qualifier == p.qualifier),
                                ("estimate", g.estimate == p.estimate),
                                ("value_high", same_value(g.value_high, p.value_high))):
                fields[name][0] += right
                fields[name][1] += 1
    for c in by_ind.values():
        overall.tp += c.tp
        overall.n_pred += c.n_pred
        overall.n_gold += c.n_gold
    return Score(overall, dict(by_ind), {k: (v[0], v[1]) for k, v in fields.items()}, misses, fps,
                 dict(by_tier), dict(by_decade), dict(how["rule"]), dict(how["subject"]),
                 dict(how["confidence"]))


def format_report(s: Score, max_list: int = 50) -> str:
    o = s.overall
    out = [f"overall: precision {o.precision:.3f}  recall {o.recall:.3f}  F1 {o.f1:.3f}  "
           f"(correct {o.tp}, predicted {o.n_pred}, reference {o.n_gold})", "",
           f"{'indicator':32} {'P':>6} {'R':>6} {'F1':>6} {'ok':>5} {'pred':>5} {'ref':>5}"]
    for name, c in sorted(s.by_indicator.items(), key=lambda kv: (-kv[1].n_gold, kv[0])):
        out.append(f"{name:32} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f} {c.tp:5d} {c.n_pred:5d} {c.n_gold:5d}")
    for title, table in (("tier", s.by_tier), ("decade", s.by_decade)):
        out += ["", f"{'by ' + title:32} {'P':>6} {'R':>6} {'F1':>6} {'ok':>5} {'pred':>5} {'ref':>5}"]
        for name, c in sorted(table.items()):
            out.append(f"{name:32} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f} {c.tp:5d} {c.n_pred:5d} {c.n_gold:5d}")
    for title, table in (("rule", s.by_rule), ("subject", s.by_subject), ("confidence", s.by_confidence)):
        if not table:
            continue
        out += ["", f"{'precision by ' + title:32} {'P':>6} {'ok':>5} {'pred':>5}   (lowest first: review these)"]
        for name, c in sorted(table.items(), key=lambda kv: (kv[1].precision, -kv[1].n_pred, kv[0])):
            out.append(f"{name:32} {c.precision:6.3f} {c.tp:5d} {c.n_pred:5d}")
    out += ["", "field accuracy among matched keys:"]
    for name, (right, n) in s.field_accuracy.items():
        out.append(f"  {name:11} {right / n if n else 0:.3f}  ({right}/{n})")

    def fmt(r: Row) -> str:
        return f"{r.value:g} {r.unit}" if r.value is not None else "-"

    out += ["", f"misses (false negatives): {len(s.misses)}"]
    for g, p in s.misses[:max_list]:
        ours = f"  [ours: {fmt(p)} «{p.quote}»]" if p else ""
        out.append(f"  {g.doc_id} {g.indicator}/{g.kind}/{g.measure} = {fmt(g)}  «{g.quote}»{ours}")
    if len(s.misses) > max_list:
        out.append(f"  ... and {len(s.misses) - max_list} more")
    out += ["", f"false positives: {len(s.false_positives)}"]
    for p, g in s.false_positives[:max_list]:
        ref = f"  [reference: {fmt(g)}]" if g else ""
        out.append(f"  {p.doc_id} {p.indicator}/{p.kind}/{p.measure} = {fmt(p)}  «{p.quote}»{ref}")
    if len(s.false_positives) > max_list:
        out.append(f"  ... and {len(s.false_positives) - max_list} more")
    return "\n".join(out)


def main(args) -> int:
    from .lake import Lake
    from .lake.versions import resolve

    try:
        gold = read_gold(args.gold)
    except (OSError, ValueError) as e:
        print(f"error: cannot read the reference: {e}", file=sys.stderr)
        return 2
    lake = Lake(args.lake)
    panel = lake.read("indicator_panel", resolve(lake, None))
    if panel.num_rows == 0:
        print(f"error: no gold panel in {args.lake}: run `python -m flows run` first", file=sys.stderr)
        return 2
    s = score(gold, panel_to_rows(panel.to_pylist()))
    print(format_report(s, args.max_list))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(s.as_dict(), fh, ensure_ascii=False, indent=1)
    code = 0
    if args.min_precision is not None and s.overall.precision < args.min_precision:
        print(f"FAIL: precision {s.overall.precision:.3f} < {args.min_precision}", file=sys.stderr)
        code = 1
    if args.min_recall is not None and s.overall.recall < args.min_recall:
        print(f"FAIL: recall {s.overall.recall:.3f} < {args.min_recall}", file=sys.stderr)
        code = 1
    return code
