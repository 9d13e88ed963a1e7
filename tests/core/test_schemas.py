"""The contracts agree: model.py dataclasses, schemas.py, expectations/*.json, the vocabulary."""
from __future__ import annotations

import csv
import json

import pytest

from conftest import REPO
from flows.core import model
from flows.outputs.dictionary import data_dictionary
from flows.schemas import TABLES

MIRRORS = {"source_items": model.SourceItem, "reports": model.Report,
           "indicator_mentions": model.Mention, "indicator_panel": model.PanelRow}


@pytest.mark.parametrize("table", MIRRORS)
def test_schema_starts_with_the_dataclass_fields(table):
    names = TABLES[table][1].names
    fields = model.column_names(MIRRORS[table])
    assert names[:len(fields)] == fields


@pytest.mark.parametrize("table", TABLES)
def test_every_column_is_described(table):
    assert all(f.metadata and f.metadata.get(b"description") for f in TABLES[table][1])


@pytest.mark.parametrize("table", MIRRORS)
def test_suite_columns_match_the_schema(table):
    suite = json.loads((REPO / "expectations" / f"{table}.json").read_text(encoding="utf-8"))
    assert suite["name"] == table
    ordered = [e for e in suite["expectations"] if e["type"] == "expect_table_columns_to_match_ordered_list"]
    assert ordered and ordered[0]["kwargs"]["column_list"] == TABLES[table][1].names
    for e in suite["expectations"]:
        assert e["type"].startswith("expect_") and e.get("meta", {}).get("why"), e
        for key in ("column", "column_A", "column_B"):
            if key in e["kwargs"]:
                assert e["kwargs"][key] in TABLES[table][1].names, e


@pytest.mark.parametrize("table", ["indicator_mentions", "indicator_panel"])
def test_suite_indicators_are_the_vocabulary(table):
    with open(REPO / "flows" / "vocab" / "indicators.csv", encoding="utf-8") as fh:
        codes = [r["code"] for r in csv.DictReader(fh)]
    suite = json.loads((REPO / "expectations" / f"{table}.json").read_text(encoding="utf-8"))
    sets = [e["kwargs"]["value_set"] for e in suite["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "indicator"]
    assert sets == [codes]


def test_data_dictionary_lists_every_table():
    text = data_dictionary()
    assert all(f"/{t}" in text for t in TABLES)


@pytest.mark.parametrize("table", ["indicator_mentions", "indicator_panel"])
def test_suite_rules_are_the_rule_catalogue(table):
    with open(REPO / "flows" / "vocab" / "rules.csv", encoding="utf-8") as fh:
        rules = [r["rule"] for r in csv.DictReader(fh)]
    suite = json.loads((REPO / "expectations" / f"{table}.json").read_text(encoding="utf-8"))
    sets = {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in suite["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set"}
    assert sets["rule"] == rules
    assert sets["subject"] == ["explicit", "list", "implied"]
    assert sets["confidence"] == ["high", "medium", "low"]
    with open(REPO / "flows" / "vocab" / "rules.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            assert r["subject"] in sets["subject"] and r["confidence"] in sets["confidence"], r
            assert r["rank"] in ("0", "1", "2") and r["description"], r
