"""Incremental and idempotent runs (issue 6, issue 9): the lake's source index (sha256, size,
mtime, code version of every source whose rows are live) says what to do again; a run replaces
the segments of the sources it read and keeps every other file as it is."""
from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.compute as pc
from conftest import SEEDS

TABLES = ("reports", "indicator_mentions", "indicator_panel")


def table(lake: Path, name: str):
    from flows.lake import Lake

    return Lake(lake).read_table(name)


def parquet_files(lake: Path) -> dict[str, int]:
    """Every Parquet file of the lake with its inode and mtime. _trash is excluded: replaced versions there are deleted once TRASH_GRACE_S has passed
    (the BI publish after the panel's leaves one there), whenever the next run takes the lock."""
    return {str(p.relative_to(lake)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in lake.rglob("*.parquet")
            if "_trash" not in p.parts}


def run(source: Path, lake: Path, **kw) -> dict:
    from flows.flow import gwr_lake

    state = gwr_lake(source=str(source), lake=str(lake), return_state=True, **kw)
    assert state.is_completed(), state.message
    return state.result()


def no_duplicates_nor_orphans(lake: Path) -> None:
    from flows.schemas import KEYS

    for name in TABLES:
        t = table(lake, name)
        keys = t.select(list(KEYS[name])).to_pylist()
        assert len(keys) == len({tuple(k.values()) for k in keys}), f"duplicate keys in {name}"
    reports = {(r["source_name"], r["doc_index"]) for r in table(lake, "reports").to_pylist()}
    for name in ("indicator_mentions", "indicator_panel"):
        rows = {(r["source_name"], r["doc_index"]) for r in
                table(lake, name).select(["source_name", "doc_index"]).to_pylist()}
        assert rows <= reports, f"{name} rows whose report is gone: {sorted(rows - reports)[:5]}"


def bi_tables_are_of_the_live_panel(lake: Path) -> None:
    """The BI tables published with the run's rows (built before the publish, from the panel to
    be) are those of the panel it published, and the lake says so (bi_from)."""
    from flows.bi import BI_TABLES, bi_tables
    from flows.lake import Lake, sort_rows

    lk = Lake(lake)
    expected = bi_tables(lk.read_table("indicator_panel"))
    for name in BI_TABLES:
        assert sort_rows(name, lk.read_table(name)).equals(sort_rows(name, expected[name])), name
    assert lk.layer_meta("indicator_wide")["bi_from"] == lk.table_version("indicator_panel")


def test_rerun_without_new_input_does_no_stage_work(lake_copy):
    before = parquet_files(lake_copy)
    gold = {t: table(lake_copy, t) for t in TABLES}
    s = run(SEEDS, lake_copy)
    w = s["work"]
    assert (w["processed"], w["unchanged"], w["not_read"], w["validation"]) == (0, 5, 5, "nothing new")
    assert s["new_in_bronze"] == 0 and s["rewritten"] == [] and w["bronze_files_written"] == 0
    # not one Parquet file written, replaced or removed
    assert parquet_files(lake_copy) == before
    for t in TABLES:
        assert table(lake_copy, t).equals(gold[t]), t


def test_one_new_file_processes_only_that_file(lake_copy, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    text = (SEEDS / "000_c9b0bbd917161d38.txt").read_text(encoding="utf-8")
    (src / "new_report.txt").write_text(text.replace("2023", "2024", 3), encoding="utf-8")
    s = run(src, lake_copy)
    assert (s["work"]["processed"], s["work"]["unchanged"], s["new_in_bronze"]) == (1, 5, 1)
    assert s["work"]["validation"] == "ran"
    panel = table(lake_copy, "indicator_panel")
    assert pc.sum(pc.equal(panel["source_name"], "new_report.txt")).as_py() > 5
    no_duplicates_nor_orphans(lake_copy)
    bi_tables_are_of_the_live_panel(lake_copy)


def test_a_changed_file_replaces_the_rows_it_produced(lake_copy, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    name = "002_6b340ccef4bd5f14.txt"  # 24 reports in one file
    before = table(lake_copy, "reports")
    n_before = pc.sum(pc.equal(before["source_name"], name)).as_py()
    text = (src / name).read_text(encoding="utf-8")
    (src / name).write_text(text[: len(text) // 3], encoding="utf-8")  # fewer reports now
    s = run(src, lake_copy)
    assert (s["work"]["processed"], s["work"]["unchanged"]) == (1, 4)
    after = table(lake_copy, "reports")
    n_after = pc.sum(pc.equal(after["source_name"], name)).as_py()
    assert 0 < n_after < n_before
    # the other sources' rows are untouched
    others = lambda t: t.filter(pc.not_equal(t["source_name"], name)).sort_by("source_name")  # noqa: E731
    assert others(after).equals(others(before))
    no_duplicates_nor_orphans(lake_copy)
    bi_tables_are_of_the_live_panel(lake_copy)


def test_changed_core_code_processes_everything_again(lake_copy, monkeypatch):
    import flows.process

    monkeypatch.setattr(flows.process, "code_version", lambda: "another-extractor")
    s = run(SEEDS, lake_copy)
    assert (s["work"]["processed"], s["work"]["unchanged"]) == (5, 0)
    assert s["rewritten"] == []  # same code in fact: same rows, the same segments
    from flows.lake import Lake
    assert {e["code_version"] for e in Lake(lake_copy).source_index().values()} == {"another-extractor"}


def test_a_touched_file_is_hashed_not_processed(lake_copy, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    import os
    p = src / "001_9eeac6bb57bd8a70.txt"
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))   # same bytes, new mtime
    before = parquet_files(lake_copy)
    s = run(src, lake_copy)
    assert (s["work"]["processed"], s["work"]["unchanged"], s["work"]["not_read"]) == (0, 5, 4)
    assert s["rewritten"] == []
    assert {k: v for k, v in parquet_files(lake_copy).items() if "/reports/" not in k} == \
        {k: v for k, v in before.items() if "/reports/" not in k}
    s = run(src, lake_copy)   # the index now has the new mtime: not even read
    assert s["work"]["not_read"] == 5


def test_code_version_hashes_the_core_and_vocabulary():
    from flows.process import CODE_FILES, HERE, code_version

    files = {p.relative_to(HERE).as_posix() for pat in CODE_FILES for p in HERE.glob(pat)}
    assert {"core/extract.py", "core/split.py", "vocab/indicators.csv", "process.py"} <= files
    assert len(code_version()) == 16


def test_nothing_new_still_rebuilds_missing_bi_tables(lake_copy):
    """A run with nothing new publishes BI tables when the live ones are not of the live panel
    (here: gone), built from the live panel alone."""
    for t in ("indicator_wide", "target_attainment"):
        shutil.rmtree(lake_copy / "gold" / t)
    s = run(SEEDS, lake_copy)
    assert s["work"]["validation"] == "nothing new"
    assert s["bi"]["validation"]["success"] and set(s["bi"]["rewritten"]) == {
        "indicator_wide", "target_attainment"}
    bi_tables_are_of_the_live_panel(lake_copy)
