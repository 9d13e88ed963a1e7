"""The real flow on seeds/, in this process under the session's temporary Prefect server: every
layer filled and read back with DuckDB, the run's records, a failing validation that keeps the
previous tables, quarantine of bad files and of a crashing stage, and the worker processes
making the same lake as the task's own thread."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from flowkit import (BI_TABLES, GOLD_CSV, REPO, ROW_TABLES, SEEDS, duck, lake_of, rows, run, run_state,
                     same_rows, table)

pytestmark = pytest.mark.timeout(300)
PANEL_KEY = "source_name, doc_index, indicator, kind, measure"


def test_seed_run_fills_every_layer(seeded_lake):
    lake, summary = seeded_lake
    assert summary["status"] == "published" and summary["quarantined"] == []
    assert summary["committed"] == ["reports", "indicator_mentions", "indicator_panel", *BI_TABLES, "sources"]
    con = duck(lake)
    assert rows(con, "select count(*), count(distinct sha256) from source_items") == [(5, 5)]
    assert rows(con, "select count(*), count(distinct source_name) from reports where is_report") == [(28, 5)]
    ((n_panel,),) = rows(con, "select count(*) from indicator_panel")
    ((n_mentions,),) = rows(con, "select count(*) from indicator_mentions")
    assert n_panel > 100 and n_mentions >= n_panel
    # one row per key; year typed and partitioned (hive) as the schema says
    assert rows(con, f"select count(*) from (select {PANEL_KEY}, count(*) n from indicator_panel "
                     "group by all having n > 1)") == [(0,)]
    years = {y for (y,) in rows(con, "select distinct year from indicator_panel")}
    assert years and all(isinstance(y, int) and 2000 < y < 2100 for y in years)
    assert {p.name for p in (lake / "gold" / "indicator_panel").iterdir() if p.is_dir()} >= \
        {f"year={y}" for y in years}
    assert rows(con, "select count(*) from indicator_wide")[0][0] > 0
    assert rows(con, "select count(*) from target_attainment")[0][0] > 0
    # the source index names every source with the code version of the run
    assert rows(con, "select count(*), count(distinct code_version) from sources") == [(5, 1)]
    # the counts of the summary are the lake's
    for t in (*ROW_TABLES, *BI_TABLES):
        assert summary["published"][t] == rows(con, f"select count(*) from {t}")[0][0], t
    # the lake's own DuckDB file, opened from the lake folder, sees the same rows
    import duckdb

    own = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    own.execute(f"SET file_search_path = '{lake}'")
    assert rows(own, "select count(*) from indicator_panel") == [(n_panel,)]
    own.close()
    # deltalake reads the tables as any Delta reader would
    from deltalake import DeltaTable

    assert DeltaTable(str(lake / "gold" / "indicator_panel")).to_pyarrow_table().num_rows == n_panel
    # the run's records; no staging residue
    manifest = json.loads((lake / "manifests" / f"{summary['run_id']}.json").read_text())
    assert manifest["validation"]["success"] and manifest["published"]["indicator_panel"] == n_panel
    assert manifest["versions"] == json.loads((lake / "_current.json").read_text())["versions"]
    assert (lake / "validation" / f"{summary['run_id']}.md").exists()
    assert (lake / "reports" / "index.html").is_file() and (lake / "reports" / "data_docs" / "index.html").is_file()
    assert lake_of(lake).staging.runs() == []


@pytest.mark.parametrize("name", [*ROW_TABLES, *BI_TABLES, "sources"])
def test_tables_have_the_schemas_columns(seeded_lake, name):
    from flows.schemas import schema

    cols = [r[0] for r in rows(duck(seeded_lake[0]), f"describe select * from {name}")]
    assert cols == schema(name).names


def test_seed_run_publishes_artifacts(seeded_lake):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = ["gwr-lake-summary", "gwr-lake-counts", "gwr-lake-panel", "gwr-lake-validation", "gwr-lake-report"]
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    kinds = {a.key: a.type for a in arts}
    assert kinds.get("gwr-lake-summary") == "markdown" and kinds.get("gwr-lake-panel") == "table"
    assert set(keys) <= set(kinds)


def test_a_failed_validation_keeps_the_previous_tables(lake_copy, tmp_path):
    # a suite no real panel can pass
    suites = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", suites)
    suite = json.loads((suites / "indicator_panel.json").read_text(encoding="utf-8"))
    suite["expectations"].append({"type": "expect_column_values_to_be_in_set",
                                  "kwargs": {"column": "kind", "value_set": ["actual"]},
                                  "meta": {"why": "test: targets are forbidden"}})
    (suites / "indicator_panel.json").write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    # input that would change the tables if it were published
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SEEDS / "003_10be600c11dd0ddc.txt", source / "extra_copy.txt")
    lk = lake_of(lake_copy)
    before = {t: table(lake_copy, t) for t in (*ROW_TABLES, *BI_TABLES, "sources")}
    versions = lk.latest_versions()
    current = (lake_copy / "_current.json").read_bytes()

    state = run_state(source, lake_copy, expectations=str(suites))
    assert state.is_failed()
    assert "validation failed" in state.message and "indicator_panel" in state.message
    assert "nothing was published" in state.message
    # not one commit: every table at its version, the pointer as it was
    assert lk.latest_versions() == versions and (lake_copy / "_current.json").read_bytes() == current
    for t, before_t in before.items():
        assert table(lake_copy, t).equals(before_t), t
    assert rows(duck(lake_copy), "select count(*) from indicator_panel where source_name = 'extra_copy.txt'") \
        == [(0,)]
    failed = [m for m in lk.records.manifests() if m["status"] == "failed_validation"]
    assert len(failed) == 1
    report = (lake_copy / "validation" / f"{failed[0]['run_id']}.md").read_text(encoding="utf-8")
    assert "FAILED" in report and "targets are forbidden" in report
    assert lk.staging.runs() == []
    # the file is in bronze (fetched), not in the source index: the next run reads it again
    assert "extra_copy.txt" not in lk.source_index()
    s = run(source, lake_copy)
    assert s["status"] == "published" and s["work"]["processed"] == 1
    assert rows(duck(lake_copy), "select count(*) > 5 from indicator_panel where source_name = 'extra_copy.txt'") \
        == [(True,)]


def test_bad_files_are_quarantined_and_the_run_completes(prefect_server, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SEEDS / "001_9eeac6bb57bd8a70.txt", source)
    (source / "broken.jsonl").write_text("{not json at all\n[1, 2\n", encoding="utf-8")
    (source / "empty.txt").write_bytes(b"")
    (source / "notes.md").write_text("# not a report\n", encoding="utf-8")
    lake = tmp_path / "lake"
    s = run(source, lake)
    assert s["status"] == "published"
    got = rows(duck(lake), "select source_name, stage, reason, sha256, run_id from quarantine order by all")
    assert {r[0] for r in got} == {"broken.jsonl", "empty.txt", "notes.md"}
    assert all(stage == "fetch" and reason and len(sha) == 64 and run_id == s["run_id"]
               for _, stage, reason, sha, run_id in got)
    assert rows(duck(lake), "select distinct source_name from indicator_panel") == [("001_9eeac6bb57bd8a70.txt",)]
    assert len(s["quarantined"]) == len(got)
    # the quarantined files are in the source index as such: the next run does not read them again
    index = lake_of(lake).source_index()
    assert {n for n, e in index.items() if e["status"] == "quarantined"} >= {"broken.jsonl", "empty.txt", "notes.md"}
    again = run(source, lake)
    assert again["status"] == "nothing_new" and again["quarantined"] == [] and again["work"]["unchanged"] == 4


def test_a_crashing_stage_quarantines_that_input_only(prefect_server, tmp_path, monkeypatch):
    from flows.core import pipeline

    real = pipeline.mentions_from_report

    def flaky(report):
        if report.source_name.startswith("000_"):
            raise RuntimeError("boom in extract")
        return real(report)

    # the patch is in this process: the work must run here (workers=0), not in worker processes
    monkeypatch.setattr(pipeline, "mentions_from_report", flaky)
    source = tmp_path / "src"
    source.mkdir()
    for name in ("000_c9b0bbd917161d38.txt", "001_9eeac6bb57bd8a70.txt"):
        shutil.copy(SEEDS / name, source)
    lake = tmp_path / "lake"
    s = run(source, lake, workers=0)
    assert s["status"] == "published"
    assert rows(duck(lake), "select source_name, stage, reason from quarantine") == \
        [("000_c9b0bbd917161d38.txt", "extract", "report 1: RuntimeError: boom in extract")]
    assert rows(duck(lake), "select distinct source_name from indicator_panel") == [("001_9eeac6bb57bd8a70.txt",)]
    assert [(q["source_name"], q["stage"]) for q in s["quarantined"]] == [("000_c9b0bbd917161d38.txt", "extract")]


def test_evaluate_on_the_seeded_lake(seeded_lake, capsys):
    from flows.cli import main

    lake, _ = seeded_lake
    assert main(["evaluate", "--gold", str(GOLD_CSV), "--lake", str(lake), "--max-list", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("overall: precision")
    assert main(["evaluate", "--gold", str(GOLD_CSV), "--lake", str(lake), "--min-recall", "1.01"]) == 1


def test_worker_processes_make_the_same_lake(seeded_lake, tmp_path, monkeypatch):
    """The CPU work in the task's own thread (workers=0) gives the lake the worker processes
    (the seeded lake: the default, one per CPU, forced to two here) gave, row for row."""
    from flows.runtime import workers

    here = tmp_path / "threads"
    s = run(SEEDS, here, workers=0)
    assert s["status"] == "published" and workers.processes() == 0
    pooled = tmp_path / "pool"
    s = run(SEEDS, pooled, workers=2)
    assert s["status"] == "published" and workers.processes() == 2
    for name in ("source_items", *ROW_TABLES, *BI_TABLES):
        a, b, c = (table(x, name) for x in (here, pooled, seeded_lake[0]))
        if name == "source_items":
            a, b, c = (x.drop_columns(["fetched_at"]) for x in (a, b, c))
        assert a.num_rows, name
        same_rows(a, b, name)
        same_rows(a, c, name)
    # a worker sees the caller's environment as it is at each call
    monkeypatch.setenv("GWR_TEST_MARK", "seen")
    assert workers.run(os.getenv, "GWR_TEST_MARK") == "seen" and workers.run(os.getpid) != os.getpid()
