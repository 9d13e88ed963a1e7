"""The publish in-process, at every step: an exception where a crash would be (the crash points
of flows/lake/, where tests/flow's crash tests kill a real run), then what readers see, and a
publish again (as the next run does) converging to the tables of an uninterrupted publish."""
from __future__ import annotations

import pytest

from flows.lake import Lake
from flows.lake.versions import resolve
from flows.schemas import DELTA_TABLES
from lake_kit import Crash, batch, content, crash_at, files_under, publish, publish_points  # noqa: F401

OLD = {"a.txt": 1, "b.txt": 1}          # the lake before the run
RUN = {"a.txt": 2, "c.txt": 1}          # the run: a source changed, a source new
POINTS = publish_points()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tables before the run and after it, published without interruption."""
    root = tmp_path_factory.mktemp("reference") / "lake"
    publish(root, "r1", batch(OLD), whole_bi=True)
    lake = Lake(root)
    old = content(lake)
    publish(root, "r2", batch(RUN))
    return old, content(lake)


def test_the_run_changes_every_table(reference):
    old, new = reference
    assert [t for t in DELTA_TABLES if old[t] == new[t]] == []
    assert POINTS[0] == "publish:reports:before" and POINTS[-1] == "publish:pointer:written"


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_anywhere_in_a_publish(tmp_path, crash_at, reference, point):  # noqa: F811
    old, new = reference
    root = tmp_path / "lake"
    publish(root, "r1", batch(OLD), whole_bi=True)
    before = Lake(root).records.current()
    crash_at(point)
    with pytest.raises(Crash):
        publish(root, "r2", batch(RUN))
    crash_at(None)

    lake = Lake(root)
    # readers of the pointer see the old set or the new one, whole
    pointer_new = POINTS.index(point) >= POINTS.index("publish:pointer:written")
    seen = content(lake, resolve(lake, None))
    assert seen == (new if pointer_new else old)
    if not pointer_new:
        assert lake.records.current() == before
    # each table alone is at its old version or its new one: new when committed before the point
    latest = content(lake)
    for t in DELTA_TABLES:
        committed = POINTS.index(point) >= POINTS.index(f"publish:{t}:committed")
        assert latest[t] == (new[t] if committed else old[t]), t

    # the next run takes the lock (its dead staging goes), stages the same rows and publishes
    with lake.lock(timeout_s=0):
        assert lake.staging.runs() == []
        publish(root, "r3", batch(RUN))
    assert content(lake) == new
    assert content(lake, resolve(lake, None)) == new
    assert lake.records.current()["versions"] == lake.latest_versions()
    assert lake.pointer_is_current()
    assert files_under(root / "_staging") == []


def test_a_crash_between_two_publishes_of_one_run_converges_again(tmp_path, crash_at, reference):  # noqa: F811
    """Killed again while publishing what the first crash left: still converges."""
    _, new = reference
    root = tmp_path / "lake"
    publish(root, "r1", batch(OLD), whole_bi=True)
    crash_at("publish:indicator_panel:committed")
    with pytest.raises(Crash):
        publish(root, "r2", batch(RUN))
    crash_at("publish:target_attainment:before")
    with pytest.raises(Crash):
        publish(root, "r3", batch(RUN))
    crash_at(None)
    publish(root, "r4", batch(RUN))
    lake = Lake(root)
    assert content(lake) == new == content(lake, resolve(lake, None))


def test_a_republish_of_the_same_rows_changes_no_content(tmp_path, reference):
    _, new = reference
    root = tmp_path / "lake"
    publish(root, "r1", batch(OLD), whole_bi=True)
    publish(root, "r2", batch(RUN))
    lake = Lake(root)
    versions = lake.latest_versions()
    publish(root, "r3", batch(RUN))
    assert content(lake) == new
    assert content(lake, versions) == new


# ---- the same in a flow: the next run finishes what a run that died left ----------------------
SMALL = ("000_c9b0bbd917161d38.txt", "001_9eeac6bb57bd8a70.txt")


class Killed(Exception):
    """What the flow sees where its process would have died (an Exception: Prefect fails the
    task and the flow, releasing the lock, as a dead process's lock is released)."""


def _changed_source(folder, seeds):
    """Two seeds, the first with its GDP target changed (7% -> 8%)."""
    folder.mkdir()
    for n in SMALL:
        data = (seeds / n).read_text(encoding="utf-8")
        if n == SMALL[0]:
            assert data.count("地区生产总值增长7%") == 1
            data = data.replace("地区生产总值增长7%", "地区生产总值增长8%")
        (folder / n).write_text(data, encoding="utf-8")
    return folder


def _copy(seeded, dst):
    import shutil

    shutil.copytree(seeded, dst)
    return dst


@pytest.mark.parametrize("point", ["publish:indicator_panel:committed", "publish:pointer:before"])
def test_the_next_run_converges_after_a_run_died_in_its_publish(prefect_server, seeded_lake, tmp_path,
                                                               monkeypatch, point):
    import flows.lake as lake_pkg
    from conftest import SEEDS
    from flows.flow import gwr_lake
    from flows.settings import Settings

    src = _changed_source(tmp_path / "src", SEEDS)
    ref, lake = _copy(seeded_lake[0], tmp_path / "ref"), _copy(seeded_lake[0], tmp_path / "lake")
    done = gwr_lake(settings=Settings(source=str(src), lake=str(ref)))
    assert done["status"] == "published" and done["work"]["processed"] == 1
    want = content(Lake(ref))

    real = lake_pkg.crashpoint

    def point_(name):
        if name == point:
            raise Killed(name)
        real(name)

    monkeypatch.setattr(lake_pkg, "crashpoint", point_)
    state = gwr_lake(settings=Settings(source=str(src), lake=str(lake)), return_state=True)
    assert state.is_failed()
    monkeypatch.setattr(lake_pkg, "crashpoint", real)
    assert Lake(lake).records.current() == Lake(seeded_lake[0]).records.current()   # readers: the old set

    again = gwr_lake(settings=Settings(source=str(src), lake=str(lake)))
    assert again["status"] == "published", again
    lk = Lake(lake)
    assert lk.pointer_is_current()
    assert content(lk) == want
    assert content(lk, resolve(lk, None)) == want
    panel = lk.read("indicator_panel", resolve(lk, None), where=("source_name", [SMALL[0]])).to_pylist()
    assert [r["value"] for r in panel if r["indicator"] == "gdp" and r["kind"] == "target"] == [8.0]


def test_faults_kill_only_at_the_named_point_and_count(monkeypatch):
    """flows.runtime.faults: GWR_CRASH_AT=name#N kills at the N-th time the point is reached, at
    no other point; without it nothing happens."""
    import os

    from flows.runtime import faults

    killed = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    monkeypatch.setenv(faults.ENV, "publish:reports:committed#2")
    faults.reset()
    try:
        faults.crashpoint("publish:reports:committed")
        faults.crashpoint("publish:pointer:before")
        assert killed == []
        faults.crashpoint("publish:reports:committed")
        assert killed == [(os.getpid(), __import__("signal").SIGKILL)]
        monkeypatch.delenv(faults.ENV)
        faults.reset()
        faults.crashpoint("publish:reports:committed")
        assert len(killed) == 1
    finally:
        faults.reset()
