"""Shared helpers for the core tests: run the pure core over files, score against labels."""
from __future__ import annotations

from pathlib import Path

from flows import panel_rows
from flows.core.model import as_dicts
from flows.core.read import read_items
from flows.evaluate import panel_to_rows, read_gold, score

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SEEDS = ROOT / "seeds"
CORPUS = DATA / "corpus"


def items_of(paths):
    out = []
    for p in paths:
        p = Path(p)
        out += read_items(p.name, p.read_bytes())
    return out


def seed_compilation():
    """The core's result (flows.stages.process.SourceResult) for the seed with the most reports: the
    compilation of 24 reports."""
    from flows.stages.process import run_core

    results = [run_core(p.name, "0" * 64, items_of([p])) for p in sorted(SEEDS.glob("*.txt"))]
    return max(results, key=lambda r: len(r.reports))


def score_files(gold_csv, paths):
    rows = panel_rows(items_of(paths))
    return score(read_gold(str(gold_csv)), panel_to_rows(as_dicts(rows)))


def sort_rows(table: str, data):
    """An Arrow table of a lake table in the order of its key (flows.schemas.KEYS), to compare
    tables whose rows came in another order."""
    from flows.schemas import KEYS

    return data.sort_by([(k, "ascending") for k in KEYS[table]])


def report_of(body, *, review, plan, tier, region, plan_part=""):
    """A Report of one body of text (its review part) and, if given, a plan part: what the
    extractor reads, without reading or splitting a file."""
    from flows.core.model import Report

    text = f"各位代表:\n一、{review}年工作回顾\n{body}\n"
    text += f"二、{plan}年工作安排\n{plan_part}\n" if plan_part else ""
    return Report(source_name="t.txt", doc_index=1, item_index=1, is_report=True, region=region, region_code=None,
                  tier=tier, province=None, review_year=review, plan_year=plan, delivered_date=None,
                  title=None, metadata_conflicts=None, text=text, glossary="", removed_lines=0, removed_detail="{}")


def annual(rep):
    """A report's annual mentions by (indicator, kind, measure)."""
    from flows.core.extract import extract_mentions

    return {(m.indicator, m.kind, m.measure): m for m in extract_mentions(rep) if m.period == "annual"}

