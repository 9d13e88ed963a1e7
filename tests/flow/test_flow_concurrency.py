"""Two `python -m flows run` started at the same time on one lake: the lake's lock serializes
them; the second waits (and says so) instead of failing, finds the first one's sources in the
lake's source index (written by another process) and does nothing; the lake holds the gold of one
run."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flowkit import REPO, ROW_TABLES, SEEDS, by_source, lake_of, same_rows, table


@pytest.mark.timeout(300)
def test_two_simultaneous_runs_end_with_the_gold_of_one(prefect_server, seeded_lake, tmp_path):
    lake, src = tmp_path / "lake", tmp_path / "src"
    src.mkdir()
    names = ["000_c9b0bbd917161d38.txt", "001_9eeac6bb57bd8a70.txt"]  # the small ones: a fast test
    for n in names:
        (src / n).write_bytes((SEEDS / n).read_bytes())
    # each run holds the lock 4 s longer (flows/runtime/faults.py): the two overlap however fast
    env = dict(os.environ, PREFECT_API_URL=prefect_server, PYTHONPATH=str(REPO),
               GWR_PAUSE_AT="lock:acquired:4")
    cmd = [sys.executable, "-m", "flows", "run", "--source", str(src), "--lake", str(lake)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=REPO) for _ in range(2)]
    outs = [p.communicate(timeout=280)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(o[-3000:] for o in outs)
    waited = [o for o in outs if "waiting for it to finish" in o]
    assert len(waited) == 1, "one run should have waited for the other's lock:\n" + "\n\n".join(o[-2000:] for o in outs)
    first = outs[1 - outs.index(waited[0])]
    assert "gwr-lake run" in first and ": published" in first
    # the second run did no stage work: the first one's rows are in the lake's source index
    assert ": nothing_new" in waited[0], waited[0][-3000:]
    assert "0 source(s) processed in 0 chunk(s), 2 unchanged in the lake" in waited[0], waited[0][-3000:]
    assert "tables committed: none" in waited[0]
    ours, one_run = lake_of(lake), seeded_lake[0]
    for t in ("source_items", *ROW_TABLES):
        a, b = table(lake, t), by_source(table(one_run, t), names)
        if t == "source_items":  # fetched_at differs between lakes
            a, b = a.drop_columns(["fetched_at"]), b.drop_columns(["fetched_at"])
        same_rows(a, b, t)
    # one publish; the waiting run, with nothing new, left no record
    assert [m["status"] for m in ours.records.manifests()] == ["published"]
    history = ours.tables.history("indicator_panel")
    assert sorted(h["version"] for h in history) == [0, 1]      # the table made, one publish
    assert [h["rows"] for h in sorted(history, key=lambda h: h["version"])][0] == 0
    assert ours.staging.runs() == []
