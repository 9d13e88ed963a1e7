"""The fetch stage's landing: bronze keeps one reading per content."""
from __future__ import annotations

from types import SimpleNamespace

from flows.lake import Lake
from flows.stages.fetch import land_one

TEXT = "2023年某县政府工作报告\n各位代表：\n全县地区生产总值增长5%。\n"


def _src(name):
    return SimpleNamespace(name=name, location=f"/in/{name}", size=0, mtime_ns=0, etag=None)


def test_the_same_bytes_under_a_name_that_reads_them_another_way_are_quarantined(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    data = ("content\n\"" + TEXT + "\"\n").encode("utf-8")
    first = land_one(lake, "a.txt", _src("a.txt"), data)
    assert first.ok and first.new
    again = land_one(lake, "b.txt", _src("b.txt"), data)        # same bytes, same reading: shared
    assert again.ok and not again.new
    table = land_one(lake, "c.csv", _src("c.csv"), data)        # same bytes read as a table
    assert not table.ok
    [(reason, code)] = [(r["reason"], r["error"]) for r in table.rejects]
    assert code == "reading_conflict" and "c.csv" in reason and "table" in reason, reason


def test_a_failing_reading_keeps_its_own_reason(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    data = TEXT.encode("utf-8")
    assert land_one(lake, "a.txt", _src("a.txt"), data).ok
    table = land_one(lake, "a.csv", _src("a.csv"), data)
    assert not table.ok and "text column" in table.rejects[0]["reason"]
