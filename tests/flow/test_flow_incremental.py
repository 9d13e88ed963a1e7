"""Incremental and idempotent runs: the lake's source index (sha256, size, mtime, the version of
every source whose rows are live) says what to read and process again; a run replaces the rows
of the sources it re-read and commits nothing else. The version of a source's rows is the CODE
VERSION (a hash of flows/core/ and flows/vocab/): a change of the shell reprocesses nothing, a
change of the core or its vocabulary reprocesses everything."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pyarrow.compute as pc
import pytest

from flowkit import BI_TABLES, REPO, ROW_TABLES, SEEDS, files, lake_of, run, same_rows, table

pytestmark = pytest.mark.timeout(300)
BIG = "002_6b340ccef4bd5f14.txt"   # 24 reports in one file


def no_duplicates_nor_orphans(lake) -> None:
    from flows.schemas import KEYS

    for name in ROW_TABLES:
        keys = table(lake, name, list(KEYS[name])).to_pylist()
        assert len(keys) == len({tuple(k.values()) for k in keys}), f"duplicate keys in {name}"
    def docs(name):
        return {(r["source_name"], r["doc_index"]) for r in table(lake, name, ["source_name", "doc_index"]).to_pylist()}

    reports = docs("reports")
    for name in ("indicator_mentions", "indicator_panel"):
        got = docs(name)
        assert got <= reports, f"{name} rows whose report is gone: {sorted(got - reports)[:5]}"
    index = set(lake_of(lake).source_index())
    assert {s for s, _ in reports} <= index, "rows of a source the index does not hold"


def bi_tables_are_of_the_live_panel(lake) -> None:
    """The BI tables the run published (built before the publish, from the panel to be, for the
    regions it changed) are those of the whole panel it published."""
    from flows.core.bi import bi_tables

    expected = bi_tables(table(lake, "indicator_panel"))
    for name in BI_TABLES:
        same_rows(table(lake, name), expected[name], name)


def versions(lake) -> dict:
    return lake_of(lake).latest_versions()


def test_a_rerun_without_new_input_writes_nothing(lake_copy):
    """Nothing new: not one file of the lake is written, replaced, touched or removed (the
    report, the DuckDB file and the lock file included), no table is committed, no record kept."""
    before = files(lake_copy)
    gold = {t: table(lake_copy, t) for t in (*ROW_TABLES, *BI_TABLES)}
    s = run(SEEDS, lake_copy)
    assert s["status"] == "nothing_new"
    assert (s["work"]["processed"], s["work"]["unchanged"], s["work"]["validation"]) == (0, 5, "nothing new")
    assert s["inputs"] == [] and s["committed"] == [] and s["quarantined"] == []
    assert s["report"] is None and s["manifest"] is None     # nothing re-rendered, no record
    after = files(lake_copy)
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                             if before.get(k) != after.get(k)}
    for t, g in gold.items():
        assert table(lake_copy, t).equals(g), t


def test_one_new_file_processes_only_that_file(lake_copy, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    text = (SEEDS / "000_c9b0bbd917161d38.txt").read_text(encoding="utf-8")
    (src / "new_report.txt").write_text(text.replace("2023", "2024", 3), encoding="utf-8")
    v0 = versions(lake_copy)
    before = {t: table(lake_copy, t) for t in ROW_TABLES}
    s = run(src, lake_copy)
    assert s["status"] == "published"
    assert (s["work"]["processed"], s["work"]["unchanged"], s["work"]["validation"]) == (1, 5, "ran")
    assert [i["source_name"] for i in s["inputs"]] == ["new_report.txt"] and s["inputs"][0]["new_in_bronze"]
    # one commit of each table the file changes, and the pointer names them
    v1 = versions(lake_copy)
    assert all(v1[t] == v0[t] + 1 for t in s["committed"]) and set(s["committed"]) >= {*ROW_TABLES, "sources"}
    assert lake_of(lake_copy).records.current()["versions"] == v1
    panel = table(lake_copy, "indicator_panel")
    assert pc.sum(pc.equal(panel["source_name"], "new_report.txt")).as_py() > 5
    # every other source's rows as they were
    for t in ROW_TABLES:
        others = table(lake_copy, t).filter(pc.not_equal(table(lake_copy, t)["source_name"], "new_report.txt"))
        same_rows(others, before[t], t)
    # the validation checked the run's rows only
    assert s["batch"]["source_items"] == 1 and s["batch"]["reports"] == 1
    no_duplicates_nor_orphans(lake_copy)
    bi_tables_are_of_the_live_panel(lake_copy)


def test_a_changed_file_replaces_the_rows_it_produced(lake_copy, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    before = table(lake_copy, "reports")
    n_before = pc.sum(pc.equal(before["source_name"], BIG)).as_py()
    text = (src / BIG).read_text(encoding="utf-8")
    (src / BIG).write_text(text[: len(text) // 3], encoding="utf-8")   # fewer reports now
    s = run(src, lake_copy)
    assert (s["work"]["processed"], s["work"]["unchanged"]) == (1, 4)
    after = table(lake_copy, "reports")
    n_after = pc.sum(pc.equal(after["source_name"], BIG)).as_py()
    assert 0 < n_after < n_before
    others = lambda t: t.filter(pc.not_equal(t["source_name"], BIG))  # noqa: E731
    same_rows(others(after), others(before), "reports")
    assert lake_of(lake_copy).source_index()[BIG]["sha256"] == s["inputs"][0]["sha256"]
    no_duplicates_nor_orphans(lake_copy)
    bi_tables_are_of_the_live_panel(lake_copy)
    # and back: the old bytes are in bronze already; the rows are those of the first run again
    s = run(SEEDS, lake_copy)
    assert s["work"]["processed"] == 1 and s["inputs"][0]["new_in_bronze"] is False
    same_rows(table(lake_copy, "reports"), before, "reports")


def test_a_touched_file_is_hashed_not_processed(lake_copy, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    p = src / "001_9eeac6bb57bd8a70.txt"
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))   # same bytes, new mtime
    v0 = versions(lake_copy)
    s = run(src, lake_copy)
    # copytree kept the mtimes of the others: only the touched file is read, and not processed
    assert (s["work"]["processed"], s["work"]["unchanged"]) == (0, 4)
    assert s["committed"] == ["sources"]          # its new mtime, nothing else
    assert {t: v for t, v in versions(lake_copy).items() if t != "sources"} == \
        {t: v for t, v in v0.items() if t != "sources"}
    assert lake_of(lake_copy).source_index()[p.name]["mtime_ns"] == p.stat().st_mtime_ns
    s = run(src, lake_copy)   # the index has the new mtime: not even read
    assert s["status"] == "nothing_new" and s["work"]["unchanged"] == 5


def test_changed_core_code_processes_everything_again(lake_copy, monkeypatch):
    import flows.stages.process as process

    before = {t: table(lake_copy, t) for t in (*ROW_TABLES, *BI_TABLES)}
    monkeypatch.setattr(process, "code_version", lambda: "another-extractor")
    s = run(SEEDS, lake_copy)
    assert s["status"] == "published" and s["code_version"] == "another-extractor"
    assert (s["work"]["processed"], s["work"]["unchanged"]) == (5, 0)
    assert [i["new_in_bronze"] for i in s["inputs"]] == [False] * 5    # bronze is reused
    assert {e["code_version"] for e in lake_of(lake_copy).source_index().values()} == {"another-extractor"}
    # the same code in fact: the same rows
    for t, b in before.items():
        same_rows(table(lake_copy, t), b, t)
    no_duplicates_nor_orphans(lake_copy)


def _code_version_of(tree) -> str:
    out = subprocess.run([sys.executable, "-c", "from flows.stages.process import code_version; print(code_version())"],
                         cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="module")
def code_versions(tmp_path_factory):
    """code_version() of this tree and of copies with one file changed: a shell module, a core
    module, a vocabulary file."""
    from flows.stages.process import code_version

    out = {"here": code_version()}
    edits = {"shell": ("flows/stages/report.py", "\n# a comment of the shell\n"),
             "tasks": ("flows/tasks.py", "\n# a comment\n"),
             "core": ("flows/core/extract.py", "\n# a comment of the core\n"),
             "vocab": ("flows/vocab/indicators.csv", "")}
    for what, (path, tail) in edits.items():
        tree = tmp_path_factory.mktemp(f"tree-{what}")
        shutil.copytree(REPO / "flows", tree / "flows", ignore=shutil.ignore_patterns("__pycache__"))
        f = tree / path
        if what == "vocab":   # one indicator's row moved to the end: a different vocabulary file
            lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
            f.write_text("".join([lines[0], *lines[2:], lines[1]]), encoding="utf-8")
        else:
            f.write_text(f.read_text(encoding="utf-8") + tail, encoding="utf-8")
        out[what] = _code_version_of(tree)
    return out


def test_code_version_hashes_the_core_and_its_vocabulary_only(code_versions):
    from flows.stages.process import CODE_FILES, FLOWS

    hashed = {p.relative_to(FLOWS).as_posix() for pat in CODE_FILES for p in FLOWS.glob(pat)}
    assert {"core/extract.py", "core/split.py", "core/read/docx.py", "vocab/indicators.csv"} <= hashed
    assert not {p for p in hashed if p.startswith(("stages/", "lake/", "inputs/")) or p in ("flow.py", "tasks.py")}
    v = code_versions
    assert len(v["here"]) == 16
    assert v["shell"] == v["here"] and v["tasks"] == v["here"]
    assert len({v["here"], v["core"], v["vocab"]}) == 3


def test_a_shell_change_reprocesses_nothing_a_core_change_everything(lake_copy, monkeypatch, code_versions):
    """The flow with the code version of a tree whose shell changed (the same: nothing to do),
    then of one whose vocabulary changed (every source again)."""
    import flows.stages.process as process

    before = files(lake_copy)
    monkeypatch.setattr(process, "code_version", lambda: code_versions["shell"])
    s = run(SEEDS, lake_copy)
    assert s["status"] == "nothing_new" and files(lake_copy) == before
    monkeypatch.setattr(process, "code_version", lambda: code_versions["vocab"])
    s = run(SEEDS, lake_copy)
    assert s["status"] == "published" and (s["work"]["processed"], s["work"]["unchanged"]) == (5, 0)
    assert {e["code_version"] for e in lake_of(lake_copy).source_index().values()} == {code_versions["vocab"]}


def test_missing_bi_tables_are_rebuilt_with_nothing_new(lake_copy):
    """A run with nothing new rebuilds BI tables the lake lacks (here: removed), whole, from the
    live panel."""
    for t in BI_TABLES:
        shutil.rmtree(lake_copy / "gold" / t)
    s = run(SEEDS, lake_copy)
    assert s["status"] == "published" and s["work"]["processed"] == 0
    assert s["bi"]["regions"] is None and s["bi"]["validation"]["success"]
    assert set(s["committed"]) == set(BI_TABLES)
    bi_tables_are_of_the_live_panel(lake_copy)
    assert run(SEEDS, lake_copy)["status"] == "nothing_new"


def test_a_changed_tolerance_rebuilds_the_bi_tables_whole(lake_copy):
    s = run(SEEDS, lake_copy, attainment_tolerance=0.2)
    assert s["status"] == "published" and s["work"]["processed"] == 0 and set(s["committed"]) == set(BI_TABLES)
    assert lake_of(lake_copy).records.current()["bi"]["tolerance"] == 0.2
    assert run(SEEDS, lake_copy, attainment_tolerance=0.2)["status"] == "nothing_new"
