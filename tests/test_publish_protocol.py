"""The lake's publish protocol in-process, fast: a simulated crash (an exception raised at a
crash point, where tests/test_crash.py kills a real run) at every step of a publish, then the
recovery of the next lock(); the refusal to publish a failed or damaged batch; read_source's
refusals; bronze written once by racing writers."""
from __future__ import annotations

import json
import os
import threading

import pyarrow.parquet as pq
import pytest

from flows import faults
from flows import lake as lake_mod
from flows.core.model import SourceError
from flows.lake import Lake, LakeAuditError, read_source
from flows.schemas import to_table

PUBLISH_POINTS = [
    "stage:reports:written", "stage:indicator_mentions:written", "stage:indicator_panel:written",
    "publish:audited", "journal:tmp-written", "journal:written", "publish:silver:exchanged",
    "publish:silver:done", "publish:gold:exchanged", "publish:gold:done", "pointer:tmp-written",
    "pointer:written", "publish:journal-removed",
]
COMMITTED = PUBLISH_POINTS.index("journal:written")


class Crash(BaseException):
    pass


@pytest.fixture
def crash_at(monkeypatch):
    """crash_at(name): the next crashpoint(name) in flows.lake raises Crash."""
    target = {}

    def point(name):
        if name == target.get("name"):
            raise Crash(name)

    monkeypatch.setattr(lake_mod, "crashpoint", point)
    return lambda name: target.update(name=name)


def batch(version: int) -> dict:
    src = "a.txt"
    reports = [dict(source_name=src, doc_index=i, item_index=1, is_report=True, text=f"v{version}",
                    glossary="", removed_lines=0, removed_detail="{}", sha256=str(version) * 64)
               for i in range(1, 3 + version)]
    mentions = [dict(source_name=src, doc_index=1, region="甲市", indicator="gdp", kind="actual",
                     measure="growth_pct", period="annual", year=2020 + version + i, value=float(version),
                     value_high=None, unit="percent", qualifier=None, estimate=False, strength=None,
                     value_text="x", quote="q", sentence="s", start=i, end=i + 1, sentence_start=0,
                     sentence_end=9, status="reported", rule="direct", subject="explicit",
                     confidence="high") for i in range(version + 1)]
    panel = [dict(source_name=src, doc_index=1, region="甲市", tier="city", province=None,
                  indicator="gdp", kind="actual", measure="growth_pct", year=2020 + version,
                  value=float(version), value_high=None, unit="percent", qualifier=None,
                  estimate=False, strength=None, status="reported", value_text="x", quote="q",
                  start=0, end=1, rule="direct", subject="explicit", confidence="high")]
    return {"reports": to_table("reports", reports),
            "indicator_mentions": to_table("indicator_mentions", mentions),
            "indicator_panel": to_table("indicator_panel", panel)}


def publish(lake: Lake, run_id: str, tables: dict) -> None:
    for name, table in tables.items():
        lake.stage(run_id, name, table)
    lake.publish(run_id)


def state(lake: Lake) -> tuple:
    return tuple(lake.read_table(t).to_pylist().__repr__() for t in ("reports", "indicator_mentions",
                                                                      "indicator_panel"))


def expected(version: int, tmp_path) -> tuple:
    ref = Lake(tmp_path / f"ref{version}")
    publish(ref, "r", batch(version))
    return state(ref)


@pytest.mark.parametrize("point", PUBLISH_POINTS)
def test_a_crash_anywhere_in_a_publish_is_recovered(tmp_path, crash_at, point):
    old, new = expected(1, tmp_path), expected(2, tmp_path)
    lake = Lake(tmp_path / "lake")
    publish(lake, "r1", batch(1))
    crash_at(point)
    with pytest.raises(Crash):
        publish(lake, "r2", batch(2))
    crash_at(None)
    # right after the crash: every table whole, gold's two tables of one version
    seen = state(lake)
    i = PUBLISH_POINTS.index(point)
    silver_new = i > PUBLISH_POINTS.index("journal:written")
    gold_new = i > PUBLISH_POINTS.index("publish:silver:done")
    assert seen[0] == (new if silver_new else old)[0]
    assert seen[1:] == (new if gold_new else old)[1:]
    # the next run's lock recovers: forward once committed, back before
    with Lake(tmp_path / "lake").lock() as lk:
        assert state(lk) == (new if i >= COMMITTED else old)
    root = tmp_path / "lake"
    assert not (root / "_journal.json").exists()
    assert not [p for p in (root / "_staging").rglob("*") if p.is_file()]
    if i >= COMMITTED:
        cur = json.loads((root / "_current.json").read_text())
        assert cur["run_id"] == "r2"
        assert cur["tables"]["indicator_panel"]["rows"] == 1


def test_recovery_killed_during_recovery_still_ends_new(tmp_path, crash_at):
    new = expected(2, tmp_path)
    lake = Lake(tmp_path / "lake")
    publish(lake, "r1", batch(1))
    crash_at("publish:silver:exchanged")
    with pytest.raises(Crash):
        publish(lake, "r2", batch(2))
    crash_at("publish:gold:exchanged")     # the recovery itself is cut short
    with pytest.raises(Crash):
        with Lake(tmp_path / "lake").lock():
            pass
    crash_at(None)
    with Lake(tmp_path / "lake").lock() as lk:
        assert state(lk) == new


def test_without_an_exchange_a_half_swapped_layer_is_finished(tmp_path, crash_at, monkeypatch):
    monkeypatch.setattr(lake_mod, "_exchange", lambda a, b: False)
    new = expected(2, tmp_path)
    lake = Lake(tmp_path / "lake")
    publish(lake, "r1", batch(1))
    crash_at("publish:gold:half-swapped")
    with pytest.raises(Crash):
        publish(lake, "r2", batch(2))
    assert not (tmp_path / "lake" / "gold").exists()   # absent for the instant, never mixed
    crash_at(None)
    with Lake(tmp_path / "lake").lock() as lk:
        assert state(lk) == new


def test_a_failed_validation_is_never_published(tmp_path):
    lake = Lake(tmp_path / "lake")
    publish(lake, "r1", batch(1))
    before = state(lake)
    (tmp_path / "lake" / "validation").mkdir()
    (tmp_path / "lake" / "validation" / "r2.json").write_text(json.dumps({"success": False}))
    with pytest.raises(LakeAuditError, match="did not pass validation"):
        publish(lake, "r2", batch(2))
    assert state(lake) == before
    assert not (tmp_path / "lake" / "_staging" / "r2").exists()


def test_a_staged_file_damaged_before_publish_is_refused(tmp_path):
    lake = Lake(tmp_path / "lake")
    publish(lake, "r1", batch(1))
    before = state(lake)
    for name, table in batch(2).items():
        lake.stage("r2", name, table)
    f = next((tmp_path / "lake" / "_staging" / "r2" / "silver" / "reports").glob("*.parquet"))
    t = pq.read_table(f)
    pq.write_table(t.slice(0, t.num_rows - 1), f)        # a row lost between stage and publish
    with pytest.raises(LakeAuditError, match="differ from what was written"):
        lake.publish("r2")
    assert state(lake) == before


def test_a_dead_run_leaves_a_crashed_manifest(tmp_path, crash_at):
    lake = Lake(tmp_path / "lake")
    run = "20261124T000000Z-0123abcd"
    lake.write_quarantine(run, "fetch", [dict(
        source_name="x.txt", item_index=None, stage="fetch", reason="r", error="e", sha256="0" * 64,
        run_id=run, time=__import__("datetime").datetime.now(__import__("datetime").timezone.utc))])
    crash_at("stage:reports:written")
    with pytest.raises(Crash):
        publish(lake, run, batch(1))
    crash_at(None)
    with Lake(tmp_path / "lake").lock() as lk:
        done = lk.recover()   # nothing left to do the second time
    assert done == {"rolled_forward": None, "rolled_back": [], "manifests": []}
    m = json.loads((tmp_path / "lake" / "manifests" / f"{run}.json").read_text())
    assert m["status"] == "crashed" and "nothing of it reached silver or gold" in m["recovery"]


def test_faults_kill_only_at_the_named_point_and_count(monkeypatch):
    killed = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append(sig))
    monkeypatch.setenv(faults.ENV, "a:b#2")
    faults.reset()
    faults.crashpoint("a:b")
    faults.crashpoint("other")
    assert killed == []
    faults.crashpoint("a:b")
    assert len(killed) == 1
    monkeypatch.delenv(faults.ENV)
    faults.reset()
    faults.crashpoint("a:b")
    assert len(killed) == 1


def test_read_source_refuses_what_it_must_not_read(tmp_path):
    (tmp_path / "ok.txt").write_bytes(b"x" * 10)
    assert read_source(tmp_path / "ok.txt") == b"x" * 10
    os.symlink("/etc/passwd", tmp_path / "link.txt")
    os.mkfifo(tmp_path / "fifo.txt")
    with pytest.raises(SourceError) as e:
        read_source(tmp_path / "link.txt")
    assert e.value.code == "not_a_file" and "/etc/passwd" in e.value.reason
    with pytest.raises(SourceError) as e:
        read_source(tmp_path / "fifo.txt")      # returns at once: a FIFO is never opened
    assert e.value.code == "not_a_file"
    with pytest.raises(SourceError) as e:
        read_source(tmp_path / "ok.txt", max_bytes=5)
    assert e.value.code == "too_large" and len(e.value.sha256) == 64


def test_racing_bronze_writers_write_once(tmp_path):
    import datetime as dt

    lake = Lake(tmp_path / "lake")
    rows = [dict(source_name=f"n{i}.txt", item_index=1, container="txt", encoding="utf-8", text="t",
                 sha256="ab" * 32, byte_size=1, fetched_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
            for i in range(8)]
    results = []
    threads = [threading.Thread(target=lambda r=r: results.append(
        lake.write_bronze("ab" * 32, to_table("source_items", [r])))) for r in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert lake.read_table("source_items").num_rows == 1
