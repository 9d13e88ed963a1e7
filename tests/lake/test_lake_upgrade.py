"""A lake of the previous layout (plain Parquet layers published by a folder exchange, the source
index in silver/_version.json: `git show 56291aa:flows/lake.py`), made here by hand, then the
first run of this version on it: the tables are rebuilt from bronze as Delta tables, with a
message, and nothing is lost."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import SEEDS
from flows.lake import Lake
from flows.lake.storage import Storage
from flows.lake.upgrade import ASIDE, old_sources, set_aside, unfinished
from flows.schemas import DELTA_TABLES, TABLES
from lake_kit import OLD_RUN, content, files_under, make_old_lake

ONE = "001_9eeac6bb57bd8a70.txt"

@pytest.fixture(scope="module")
def old_lake(seeded_lake, tmp_path_factory):
    """A lake of the previous layout, made once; tests copy it."""
    root = tmp_path_factory.mktemp("old") / "lake"
    keep = make_old_lake(root, seeded_lake[0])
    return root, keep


@pytest.fixture
def old_copy(old_lake, tmp_path):
    dst = tmp_path / "lake"
    shutil.copytree(old_lake[0], dst)
    return dst, old_lake[1]


def _source_with_one_seed(folder: Path) -> str:
    folder.mkdir()
    shutil.copy2(SEEDS / ONE, folder / ONE)
    return str(folder)


def _comparable(lake: Lake, versions=None) -> dict:
    """The Delta tables' content; of the source index what does not depend on where and when
    the sources were read."""
    got = content(lake, versions, tables=[t for t in DELTA_TABLES if t != "sources"])
    idx = lake.read("sources", versions).select(["source_name", "sha256", "status"])
    got["sources"] = sorted(map(tuple, (r.values() for r in idx.to_pylist())))
    return got


def _aside_files(root: Path) -> dict:
    [stamp] = list((root / ASIDE).iterdir())
    return {Path(f).relative_to(stamp).as_posix(): Path(f).read_bytes() for f in files_under(stamp)}


# ---- detection and setting aside, without a flow ----------------------------------------------
def test_an_old_lake_is_recognised_by_its_markers(old_copy, tmp_path, seeded_lake):
    root, _ = old_copy
    s = Storage(root)
    want = {n: e["sha256"] for n, e in Lake(seeded_lake[0]).source_index().items()}
    assert {n: e["sha256"] for n, e in old_sources(s).items()} == want
    # an older lake without silver's marker: the pointer lists the live inputs
    (root / "silver" / "_version.json").unlink()
    assert {n: e["sha256"] for n, e in old_sources(s).items()} == want
    # nor a pointer: the (source_name, sha256) of the silver reports' rows, as the old lake's own
    # _live_inputs read them
    (root / "_current.json").unlink()
    assert {n: e["sha256"] for n, e in old_sources(s).items()} == want
    assert old_sources(Storage(seeded_lake[0])) is None            # a Delta lake
    assert old_sources(Storage(tmp_path / "new")) is None          # no lake yet


def test_setting_aside_moves_only_the_old_tables(old_copy, seeded_lake):
    root, keep = old_copy
    old_tables = {k: v for k, v in keep.items() if k.startswith(("silver/", "gold/"))}
    where = set_aside(Storage(root))
    assert where.startswith(str(root / ASIDE))
    assert not (root / "silver").exists() and not (root / "gold").exists()
    assert not (root / "_current.json").exists() and not (root / "_trash").exists()
    aside = _aside_files(root)
    assert {k: v for k, v in aside.items() if k != "_current.json"} == old_tables
    assert json.loads(aside["_current.json"])["run_id"] == OLD_RUN
    for rel, data in keep.items():
        if rel not in old_tables:
            assert (root / rel).read_bytes() == data, rel
    assert old_sources(Storage(root)) is None
    # until a publish makes the Delta source index, the upgrade is unfinished: the old index is
    # still found, aside
    aside, index = unfinished(Storage(root))
    assert aside == where
    assert {n: e["sha256"] for n, e in index.items()} == {
        n: e["sha256"] for n, e in Lake(seeded_lake[0]).source_index().items()}
    shutil.copytree(seeded_lake[0] / "silver" / "sources", root / "silver" / "sources")
    assert unfinished(Storage(root)) is None


# ---- the first run of this version on it ------------------------------------------------------
def test_the_first_run_rebuilds_the_tables_from_bronze(prefect_server, seeded_lake, old_copy, tmp_path):
    from flows.flow import gwr_lake
    from flows.settings import Settings
    from flows.stages.summary import format_summary

    root, keep = old_copy
    bronze = {p.name: p.stat().st_mtime_ns for p in (root / "bronze" / "source_items").iterdir()}
    # a source spec with one of the seeds: it is read as usual; the four others come from bronze
    out = gwr_lake(settings=Settings(source=_source_with_one_seed(tmp_path / "src"), lake=str(root)))
    assert out["status"] == "published"
    assert out["work"]["processed"] == 5 and out["work"]["sources"] == 1
    assert out["upgraded_from"] and out["upgraded_from"].startswith(str(root / ASIDE))
    assert "upgraded" in format_summary(out) and out["upgraded_from"] in format_summary(out)
    lake = Lake(root)
    fresh = Lake(seeded_lake[0])
    # the tables: those of a fresh run on the seeds, Delta tables now
    assert _comparable(lake, lake.records.current()["versions"]) == _comparable(fresh)
    assert all((root / TABLES[t][0] / t / "_delta_log").is_dir() for t in DELTA_TABLES)
    # nothing lost: bronze as it was, the old records kept, the old tables aside
    assert {p.name: p.stat().st_mtime_ns for p in (root / "bronze" / "source_items").iterdir()} == bronze
    for rel, data in keep.items():
        if rel.startswith(("silver/", "gold/")):
            assert _aside_files(root)[rel] == data, rel
        else:
            assert (root / rel).read_bytes() == data, rel
    assert "broken.pdf" in lake.read("quarantine")["source_name"].to_pylist()
    runs = [m["run_id"] for m in lake.records.manifests()]
    assert runs == [OLD_RUN, out["run_id"]]
    assert lake.records.read_json("manifests", f"{out['run_id']}.json")["upgraded_from"] == out["upgraded_from"]
    assert OLD_RUN in (root / "reports" / "index.html").read_text(encoding="utf-8")   # the old run listed

    again = gwr_lake(settings=Settings(source=str(tmp_path / "src"), lake=str(root)))
    assert again["status"] == "nothing_new" and again["upgraded_from"] is None
    assert len(list((root / ASIDE).iterdir())) == 1


def test_an_upgrade_that_died_is_finished_by_the_next_run(prefect_server, seeded_lake, old_copy, tmp_path,
                                                          monkeypatch):
    """The first run dies after setting the old tables aside, before it publishes: the next run
    still rebuilds every source the old lake held (not only those of its source spec)."""
    import flows.flow as flow_mod
    from flows.flow import gwr_lake
    from flows.settings import Settings

    root, _ = old_copy
    src = _source_with_one_seed(tmp_path / "src")

    def die(name):
        if name == "flow:processed":
            raise RuntimeError("killed")

    monkeypatch.setattr(flow_mod, "crashpoint", die)
    state = gwr_lake(settings=Settings(source=src, lake=str(root)), return_state=True)
    assert state.is_failed()
    assert (root / ASIDE).is_dir() and not (root / "gold").exists()
    monkeypatch.undo()

    out = gwr_lake(settings=Settings(source=src, lake=str(root)))
    assert out["status"] == "published" and out["work"]["processed"] == 5
    lake = Lake(root)
    assert _comparable(lake, lake.records.current()["versions"]) == _comparable(Lake(seeded_lake[0]))
