"""Two runs started at the same time on one lake (issue 6): the lake's lock serializes them, the
second waits instead of failing, finds the first one's rows in the lake's source index (another
process) and publishes the same gold as one run."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO, SEEDS


@pytest.mark.timeout(240)
def test_two_simultaneous_runs_end_with_the_gold_of_one(prefect_server, seeded_lake, tmp_path):
    import pyarrow as pa
    import pyarrow.compute as pc

    from flows.lake import Lake

    lake, src = tmp_path / "lake", tmp_path / "src"
    src.mkdir()
    names = ["000_c9b0bbd917161d38.txt", "001_9eeac6bb57bd8a70.txt"]  # the small ones: a fast test
    for n in names:
        (src / n).write_bytes((SEEDS / n).read_bytes())
    # each run holds the lock 4 s longer (flows/faults.py): the two runs overlap however fast
    env = dict(os.environ, PREFECT_API_URL=prefect_server, PYTHONPATH=str(REPO),
               GWR_PAUSE_AT="lock:acquired:4")
    cmd = [sys.executable, "-m", "flows", "run", "--source", str(src), "--lake", str(lake)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=REPO) for _ in range(2)]
    outs = [p.communicate(timeout=220)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(o[-3000:] for o in outs)
    waited = [o for o in outs if "waiting for it to finish" in o]
    assert len(waited) == 1, "one run should have waited for the other's lock"
    # the second run did no stage work: the first one's rows are in the lake's source index
    assert "0 source(s) processed in 0 chunk(s), 2 unchanged in the lake" in waited[0], waited[0][-3000:]
    assert "tables rewritten: none" in waited[0]
    ours, one_run = Lake(lake), Lake(seeded_lake[0])
    for t in ("source_items", "reports", "indicator_mentions", "indicator_panel"):
        a = ours.read_table(t)
        b = one_run.read_table(t).filter(pc.is_in(one_run.read_table(t)["source_name"], pa.array(names)))
        if t == "source_items":  # fetched_at differs between lakes
            a, b = a.drop(["fetched_at"]), b.drop(["fetched_at"])
        assert a.sort_by("source_name").equals(b.sort_by("source_name")), t
    assert len([m for m in ours.manifests() if m["status"] == "published"]) == 2
    assert not list((lake / "_staging").rglob("*.parquet"))
