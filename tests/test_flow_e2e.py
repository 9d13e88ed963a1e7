"""The real flow, end to end, under a temporary Prefect server; gold is read back with DuckDB."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from conftest import GOLD_CSV, REPO, SEEDS

PANEL_KEY = "source_name, doc_index, indicator, kind, measure"


def sql(query: str):
    return duckdb.connect().execute(query).fetchall()


def glob(lake: Path, table: str) -> str:
    layer = {"source_items": "bronze", "reports": "silver"}.get(table, "gold")
    return f"read_parquet('{lake}/{layer}/{table}/**/*.parquet', hive_partitioning=true)"


def live_table(lake: Path, table: str):
    from flows.lake import Lake

    return Lake(lake).read_table(table)


def test_seed_run_fills_every_layer(seeded_lake):
    lake, summary = seeded_lake
    assert summary["status"] == "published"
    assert sql(f"select count(*) from {glob(lake, 'source_items')}") == [(5,)]
    assert sql(f"select count(*), count(distinct source_name) from {glob(lake, 'reports')} "
               "where is_report") == [(28, 5)]
    (n_panel,), = sql(f"select count(*) from {glob(lake, 'indicator_panel')}")
    (n_mentions,), = sql(f"select count(*) from {glob(lake, 'indicator_mentions')}")
    assert n_panel > 100 and n_mentions >= n_panel
    # one row per key, and year comes back as the hive partition column
    assert sql(f"select count(*) from (select {PANEL_KEY}, count(*) n from "
               f"{glob(lake, 'indicator_panel')} group by all having n > 1)") == [(0,)]
    years = {y for (y,) in sql(f"select distinct year from {glob(lake, 'indicator_panel')}")}
    assert years and all(isinstance(y, int) and 2000 < y < 2100 for y in years)
    assert sorted(p.name for p in (lake / "gold" / "indicator_panel").iterdir()) == \
        sorted(f"year={y}" for y in years)
    # pyarrow.dataset reads the same table
    assert ds.dataset(lake / "gold" / "indicator_panel", partitioning="hive").count_rows() == n_panel
    # the run left its manifest and validation report, and no staging residue
    manifest = json.loads((lake / "manifests" / f"{summary['run_id']}.json").read_text())
    assert manifest["validation"]["success"] and manifest["published"]["indicator_panel"] == n_panel
    assert (lake / "validation" / f"{summary['run_id']}.md").exists()
    assert not list((lake / "_staging").rglob("*.parquet"))
    assert summary["quarantined"] == []


def test_seed_run_publishes_artifacts(seeded_lake):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["gwr-lake-summary", "gwr-lake-panel"])))
    kinds = {a.key: a.type for a in arts}
    assert kinds.get("gwr-lake-summary") == "markdown" and kinds.get("gwr-lake-panel") == "table"


def test_rerun_is_idempotent(seeded_lake, lake_copy):
    from flows.flow import gwr_lake

    before = {t: live_table(lake_copy, t) for t in ("reports", "indicator_mentions", "indicator_panel")}
    bronze = {p.name: p.stat().st_mtime_ns for p in (lake_copy / "bronze" / "source_items").iterdir()}
    gold_files = {p: p.stat().st_mtime_ns for p in (lake_copy / "gold").rglob("*.parquet")}
    state = gwr_lake(source=str(SEEDS), lake=str(lake_copy), return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["new_in_bronze"] == 0
    # bronze: nothing rewritten, nothing added
    assert {p.name: p.stat().st_mtime_ns for p in (lake_copy / "bronze" / "source_items").iterdir()} == bronze
    for t, table in before.items():
        assert live_table(lake_copy, t).equals(table), t
    # same rows, same files: the unchanged tables were not even rewritten
    assert {p: p.stat().st_mtime_ns for p in (lake_copy / "gold").rglob("*.parquet")} == gold_files
    assert sql(f"select count(*) from {glob(lake_copy, 'indicator_panel')}") == [(before['indicator_panel'].num_rows,)]


def test_failed_validation_keeps_previous_gold(lake_copy, tmp_path):
    from flows.flow import gwr_lake

    # a suite no real panel can pass
    suites = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", suites)
    suite = json.loads((suites / "indicator_panel.json").read_text(encoding="utf-8"))
    suite["expectations"].append({"type": "expect_column_values_to_be_in_set",
                                  "kwargs": {"column": "kind", "value_set": ["actual"]},
                                  "meta": {"why": "test: targets are forbidden"}})
    (suites / "indicator_panel.json").write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    # input that would change gold if it were published
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SEEDS / "003_10be600c11dd0ddc.txt", source / "extra_copy.txt")

    before = {t: live_table(lake_copy, t) for t in ("reports", "indicator_mentions", "indicator_panel")}
    state = gwr_lake(source=str(source), lake=str(lake_copy), expectations=str(suites),
                     return_state=True)
    assert state.is_failed()
    assert "validation failed" in state.message and "indicator_panel" in state.message
    for t, table in before.items():
        assert live_table(lake_copy, t).equals(table), t
    assert sql(f"select count(*) from {glob(lake_copy, 'indicator_panel')} "
               "where source_name = 'extra_copy.txt'") == [(0,)]
    manifests = [json.loads(p.read_text()) for p in (lake_copy / "manifests").glob("*.json")]
    failed = [m for m in manifests if m["status"] == "failed_validation"]
    assert len(failed) == 1
    report = (lake_copy / "validation" / f"{failed[0]['run_id']}.md").read_text(encoding="utf-8")
    assert "FAILED" in report and "targets are forbidden" in report
    assert not list((lake_copy / "_staging").rglob("*.parquet"))


def test_bad_files_are_quarantined_and_the_run_completes(prefect_server, tmp_path):
    from flows.flow import gwr_lake

    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SEEDS / "001_9eeac6bb57bd8a70.txt", source)
    (source / "broken.jsonl").write_text("{not json at all\n[1, 2\n", encoding="utf-8")
    (source / "empty.txt").write_bytes(b"")
    (source / "notes.md").write_text("# not a report\n", encoding="utf-8")
    lake = tmp_path / "lake"
    state = gwr_lake(source=str(source), lake=str(lake), return_state=True)
    assert state.is_completed(), state.message
    rows = sql(f"select source_name, stage, reason, sha256, run_id from "
               f"read_parquet('{lake}/quarantine/*.parquet') order by source_name")
    bad = {r[0] for r in rows}
    assert {"broken.jsonl", "empty.txt", "notes.md"} <= bad
    assert all(stage == "fetch" and reason and len(sha) == 64 and run_id for _, stage, reason, sha, run_id in rows)
    assert sql(f"select distinct source_name from {glob(lake, 'indicator_panel')}") == \
        [("001_9eeac6bb57bd8a70.txt",)]
    assert len(state.result()["quarantined"]) == len(rows)


def test_a_crashing_stage_quarantines_that_input_only(prefect_server, tmp_path, monkeypatch):
    import flows.flow
    from flows.flow import gwr_lake

    real = flows.flow.pipeline.mentions_from_report

    def flaky(report):
        if report.source_name.startswith("000_"):
            raise RuntimeError("boom in extract")
        return real(report)

    monkeypatch.setattr(flows.flow.pipeline, "mentions_from_report", flaky)
    # the patch is in this process: no worker processes (flows/pool.py), even if an earlier
    # test of the session left a pool running
    monkeypatch.setenv("GWR_PROCESSES", "0")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("000_c9b0bbd917161d38.txt", "001_9eeac6bb57bd8a70.txt"):
        shutil.copy(SEEDS / name, source)
    lake = tmp_path / "lake"
    state = gwr_lake(source=str(source), lake=str(lake), return_state=True)
    assert state.is_completed(), state.message
    assert sql(f"select source_name, stage, reason from read_parquet('{lake}/quarantine/*.parquet')") == \
        [("000_c9b0bbd917161d38.txt", "extract", "report 1: RuntimeError: boom in extract")]
    assert sql(f"select distinct source_name from {glob(lake, 'indicator_panel')}") == \
        [("001_9eeac6bb57bd8a70.txt",)]


def test_cli_run_and_evaluate(prefect_server, tmp_path):
    """`python -m flows run` and `evaluate` as a user types them (against the test server)."""
    env = dict(os.environ, PREFECT_API_URL=prefect_server, PYTHONPATH=str(REPO))
    lake = tmp_path / "lake"
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SEEDS / "000_c9b0bbd917161d38.txt", src)
    run = subprocess.run([sys.executable, "-m", "flows", "run", "--source", str(src), "--lake", str(lake)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "published" in run.stdout and "indicator_panel" in run.stdout
    ev = subprocess.run([sys.executable, "-m", "flows", "evaluate", "--gold", str(GOLD_CSV),
                         "--lake", str(lake), "--min-precision", "0.5"],
                        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert ev.returncode == 0, ev.stderr
    assert "precision" in ev.stdout and "recall" in ev.stdout
    missing = subprocess.run([sys.executable, "-m", "flows", "run", "--source", str(tmp_path / "nope")],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_evaluate_on_the_seeded_lake(seeded_lake, capsys):
    from flows.__main__ import main

    lake, _ = seeded_lake
    assert main(["evaluate", "--gold", str(GOLD_CSV), "--lake", str(lake), "--max-list", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("overall: precision")
    assert main(["evaluate", "--gold", str(GOLD_CSV), "--lake", str(lake), "--min-recall", "1.01"]) == 1


@pytest.mark.parametrize("table", ["reports", "indicator_mentions", "indicator_panel"])
def test_gold_columns_follow_the_schemas(seeded_lake, table):
    from flows.schemas import schema

    lake, _ = seeded_lake
    cols = [r[0] for r in sql(f"describe select * from {glob(lake, table)}")]
    assert sorted(cols) == sorted(schema(table).names)


def test_worker_processes_make_the_same_lake(prefect_server, tmp_path, monkeypatch):
    """The chunk work, the validation, the BI suites and the Data Docs in worker processes
    (flows/pool.py, forced here for the small seeds) give the lake the threads give, row for row;
    a worker sees the caller's environment as it is at each call."""
    from flows import pool
    from flows.flow import gwr_lake
    from flows.lake import Lake

    lakes = {}
    for mode, env in (("threads", {"GWR_PROCESSES": "0"}), ("pool", {"GWR_POOL_MIN_BYTES": "0"})):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        lakes[mode] = tmp_path / mode
        summary = gwr_lake(source=str(SEEDS), lake=str(lakes[mode]))
        assert summary["status"] == "published"
        assert summary["work"]["worker_processes"] == (0 if mode == "threads" else pool.processes())
        for k in env:
            monkeypatch.delenv(k)
    assert pool.warm()
    for table in ("source_items", "reports", "indicator_mentions", "indicator_panel",
                  "indicator_wide", "target_attainment"):
        a, b = (Lake(lakes[m]).read_table(table) for m in ("threads", "pool"))
        if table == "source_items":
            a, b = a.drop_columns(["fetched_at"]), b.drop_columns(["fetched_at"])
        assert a.num_rows and a.equals(b), table
    assert (lakes["pool"] / "reports" / "data_docs" / "index.html").is_file()

    # the environment travels with each call: a setting made after the pool started is seen
    monkeypatch.setenv("GWR_TEST_MARK", "seen")
    assert pool.run(os.getenv, "GWR_TEST_MARK") == "seen"
