"""flows/lake/ without a flow: bronze (content-addressed, one writer wins), staging, the Delta
tables (commits, replaced rows, partitions, reading as of a version, a column added later),
quarantine records, the Parquet codecs, the writer lock."""
from __future__ import annotations

import threading
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.lake import Lake, LakeBusy
from flows.schemas import TABLES, to_table
from lake_kit import CV, T0, batch, bronze_rows, files_under, publish, row, rows_of, source_rows

SHA = "ab" * 32


# ---- bronze ------------------------------------------------------------------------------------
def test_bronze_is_named_by_its_bytes_and_written_once(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert not lake.bronze.has(SHA)
    assert lake.bronze.write(SHA, bronze_rows("a.txt", SHA, ["第一", "第二"])) is True
    path = tmp_path / "lake" / "bronze" / "source_items" / f"{SHA}.parquet"
    stamp = path.stat().st_mtime_ns
    assert lake.bronze.has(SHA) and lake.bronze.shas() == [SHA]
    # the same bytes under another name, with other text: nothing is written again
    assert lake.bronze.write(SHA, bronze_rows("copy.txt", SHA, ["changed"])) is False
    assert path.stat().st_mtime_ns == stamp
    got = lake.read("source_items")
    assert got.column("text").to_pylist() == ["第一", "第二"]
    assert got.column("source_name").to_pylist() == ["a.txt", "a.txt"]
    assert lake.bronze.summary(SHA) == {"items": 2, "encoding": "utf-8", "containers": ["txt"]}
    assert not [p for p in path.parent.iterdir() if p.name != path.name]   # no temporary file left


def test_racing_bronze_writers_one_wins(tmp_path):
    lake = Lake(tmp_path / "lake")
    results, barrier = [], threading.Barrier(8)

    def write(i):
        other = Lake(tmp_path / "lake")   # each writer its own handle, as processes would have
        barrier.wait()
        results.append(other.bronze.write(SHA, bronze_rows(f"n{i}.txt", SHA, [f"t{i}"])))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    [winner] = lake.read("source_items").to_pylist()
    assert winner["text"] == "t" + winner["source_name"][1:-len(".txt")]    # one writer's file, whole
    assert files_under(tmp_path / "lake" / "bronze") == [str(tmp_path / "lake" / "bronze" / "source_items" /
                                                          f"{SHA}.parquet")]


def test_bronze_written_before_a_column_was_added_reads_with_it_null(tmp_path):
    lake = Lake(tmp_path / "lake")
    old = bronze_rows("a.txt", SHA, ["x"]).drop(["region_code"])
    path = tmp_path / "lake" / "bronze" / "source_items"
    path.mkdir(parents=True)
    pq.write_table(old, path / f"{SHA}.parquet")
    got = lake.read("source_items")
    assert got.schema.names == TABLES["source_items"][1].names
    assert got.column("region_code").to_pylist() == [None]


# ---- Parquet codecs ----------------------------------------------------------------------------
def _codecs(path) -> dict:
    md = pq.ParquetFile(path).metadata.row_group(0)
    return {md.column(i).path_in_schema: (md.column(i).compression, md.column(i).dictionary_page_offset is not None)
            for i in range(md.num_columns)}


def test_prose_is_zstd_without_a_dictionary_the_rest_snappy(tmp_path):
    """Whole texts (over PROSE_BYTES a value) ZSTD, no dictionary; short columns Snappy with a
    dictionary: in bronze, and in the Delta tables (silver reports ZSTD, gold Snappy)."""
    text = "全年实现地区生产总值887亿元,增长6.8%。" * 200
    lake = Lake(tmp_path / "lake")
    lake.bronze.write(SHA, bronze_rows("a.txt", SHA, [f"1{text}", f"2{text}"]))
    codecs = _codecs(tmp_path / "lake" / "bronze" / "source_items" / f"{SHA}.parquet")
    assert codecs.pop("text") == ("ZSTD", False)
    assert {c for c, _ in codecs.values()} == {"SNAPPY"} and codecs["source_name"][1] is True
    got = duckdb.connect().execute(
        f"select item_index, text from read_parquet('{tmp_path}/lake/bronze/source_items/*.parquet') "
        "order by item_index").fetchall()
    assert got == [(1, f"1{text}"), (2, f"2{text}")]

    reports = to_table("reports", [row("reports", source_name="a.txt", doc_index=i, item_index=1, is_report=True,
                                       text=f"{i}{text}", sha256=SHA) for i in (1, 2)])
    lake.commit("reports", reports, "r1", CV)
    panel = to_table("indicator_panel", source_rows("a.txt", 2)["indicator_panel"])
    lake.commit("indicator_panel", panel, "r1", CV)
    [silver] = lake.tables.file_uris("reports")
    codecs = _codecs(silver)
    assert codecs.pop("text") == ("ZSTD", False)
    assert {c for c, _ in codecs.values()} == {"ZSTD"}        # deltalake: one codec per file
    for f in lake.tables.file_uris("indicator_panel"):
        assert {c for c, _ in _codecs(f).values()} == {"SNAPPY"}
    assert lake.read("reports").column("text").to_pylist() == [f"1{text}", f"2{text}"]


# ---- staging and commits ------------------------------------------------------------------------
def test_staged_rows_are_invisible_until_committed_and_discard_leaves_nothing(tmp_path):
    lake = Lake(tmp_path / "lake")
    publish(lake.location(), "r1", batch({"a.txt": 1}))
    before = lake.read("indicator_panel")
    b = batch({"a.txt": 2, "b.txt": 1})
    for t, data in b["tables"].items():
        lake.staging.write("r2", t, "chunk-0001", data)
    assert lake.staging.rows("r2", "indicator_panel") == b["tables"]["indicator_panel"].num_rows
    assert lake.read("indicator_panel").equals(before)
    # staged files are never inside a table's folder (a glob over it would see them)
    assert all("/_staging/r2/" in f for f in files_under(tmp_path / "lake" / "_staging"))
    assert not [f for f in files_under(tmp_path / "lake" / "gold") if "r2" in f]
    lake.staging.discard("r2")
    assert files_under(tmp_path / "lake" / "_staging") == []
    assert lake.staging.runs() == []


def test_a_publish_replaces_the_rows_of_the_sources_it_read_and_keeps_the_others(tmp_path):
    lake = Lake(tmp_path / "lake")
    publish(lake.location(), "r1", batch({"a.txt": 1, "b.txt": 1}), whole_bi=True)
    publish(lake.location(), "r2", batch({"a.txt": 3}))
    want = batch({"a.txt": 3, "b.txt": 1})["tables"]
    for t, data in want.items():
        assert rows_of(lake.read(t)) == rows_of(data), t
    index = lake.source_index()
    assert sorted(index) == ["a.txt", "b.txt"]
    assert index["a.txt"]["run_id"] == "r2" and index["b.txt"]["run_id"] == "r1"
    assert files_under(tmp_path / "lake" / "_staging") == []
    cur = lake.records.current()
    assert cur["run_id"] == "r2" and cur["versions"] == lake.latest_versions()


def test_a_commit_with_nothing_to_do_makes_no_version(tmp_path):
    lake = Lake(tmp_path / "lake")
    panel = to_table("indicator_panel", source_rows("a.txt", 1)["indicator_panel"])
    first = lake.commit("indicator_panel", panel, "r1", CV)
    # the table is made by a commit of its own (version 0), then its rows (version 1)
    assert (first.version, first.rows) == (1, 2)
    assert [h["operation"] for h in lake.tables.history("indicator_panel")] == ["WRITE", "CREATE TABLE"]
    empty = TABLES["indicator_panel"][1].empty_table()
    assert lake.commit("indicator_panel", empty, "r2", CV) is None
    assert lake.commit("indicator_panel", empty, "r2", CV, replace=("source_name", [])) is None
    assert lake.tables.version("indicator_panel") == 1
    # replacing a source's rows by none removes them: a version
    gone = lake.commit("indicator_panel", empty, "r3", CV, replace=("source_name", ["a.txt"]))
    assert (gone.version, gone.rows) == (2, 0)
    # an empty first commit still makes the table (readable, with its schema)
    made = lake.commit("reports", TABLES["reports"][1].empty_table(), "r1", CV)
    assert (made.version, made.rows) == (0, 0)
    assert lake.read("reports").schema == TABLES["reports"][1]


def test_a_replace_predicate_quotes_its_strings(tmp_path):
    """Source names are arbitrary text: a quote in one does not break (or widen) the replace."""
    lake = Lake(tmp_path / "lake")
    names = ["it's.txt", "b.txt", "x') OR ('1'='1.txt"]
    rows = [dict(r, source_name=n) for n in names for r in source_rows("a.txt", 0)["indicator_panel"]]
    lake.commit("indicator_panel", to_table("indicator_panel", rows), "r1", CV)
    new = [dict(r, source_name="it's.txt", value=9.0) for r in source_rows("a.txt", 0)["indicator_panel"]]
    lake.commit("indicator_panel", to_table("indicator_panel", new), "r2", CV, replace=("source_name", ["it's.txt"]))
    got = lake.read("indicator_panel")
    assert sorted(zip(got["source_name"].to_pylist(), got["value"].to_pylist())) == sorted(
        [("it's.txt", 9.0), ("b.txt", 0.0), ("x') OR ('1'='1.txt", 0.0)])


def test_partitions_by_year_with_a_null_year(tmp_path):
    lake = Lake(tmp_path / "lake")
    rows = [dict(r, year=y) for r, y in zip(source_rows("a.txt", 3)["indicator_panel"], [2022, 2023, None, 2023])]
    lake.commit("indicator_panel", to_table("indicator_panel", rows), "r1", CV)
    folder = tmp_path / "lake" / "gold" / "indicator_panel"
    assert sorted(p.name for p in folder.iterdir()) == [
        "_delta_log", "year=2022", "year=2023", "year=__HIVE_DEFAULT_PARTITION__"]
    back = lake.read("indicator_panel")
    assert back.schema == TABLES["indicator_panel"][1]
    assert sorted(back["year"].to_pylist(), key=str) == sorted([2022, 2023, None, 2023], key=str)
    assert lake.read("indicator_panel", where=("year", [2023])).num_rows == 2


def test_reading_as_of_a_version_with_columns_and_a_filter(tmp_path):
    lake = Lake(tmp_path / "lake")
    v = []
    for n in (1, 2, 3):
        data = to_table("indicator_panel", source_rows("a.txt", n)["indicator_panel"] +
                        source_rows("b.txt", 1)["indicator_panel"])
        v.append(lake.commit("indicator_panel", data, f"r{n}", CV, whole=True).version)
    assert v == [1, 2, 3]
    for n, version in zip((1, 2, 3), v):
        got = lake.read("indicator_panel", {"indicator_panel": version}, columns=["source_name", "value"],
                        where=("source_name", ["a.txt"]))
        assert got.schema.names == ["source_name", "value"]
        assert got["value"].to_pylist() == [float(n)] * (n + 1)
    assert lake.read("indicator_panel", {"reports": 0}).num_rows == 4 + 2   # not named: the latest
    assert lake.read("reports").num_rows == 0 and lake.read("reports").schema == TABLES["reports"][1]


def test_a_column_added_to_the_schema_after_the_table_was_written_reads_null(tmp_path):
    from deltalake import write_deltalake

    lake = Lake(tmp_path / "lake")
    full = to_table("indicator_panel", source_rows("a.txt", 1)["indicator_panel"])
    write_deltalake(lake.tables.uri("indicator_panel"), full.drop(["correction"]), partition_by=["year"])
    got = lake.read("indicator_panel")
    assert got.schema == TABLES["indicator_panel"][1]
    assert got["correction"].to_pylist() == [None, None]
    # the next commit of the table (with the column) merges the schemas
    more = to_table("indicator_panel",
                    [dict(r, correction="fixed") for r in source_rows("b.txt", 0)["indicator_panel"]])
    lake.commit("indicator_panel", more, "r2", CV)
    assert sorted(map(str, lake.read("indicator_panel")["correction"].to_pylist())) == ["None", "None", "fixed"]


def test_a_reader_never_sees_half_a_commit(tmp_path):
    """A reader of a table while commits replace its rows sees one whole version each time."""
    lake = Lake(tmp_path / "lake")
    versions = [to_table("reports", [row("reports", source_name="a.txt", doc_index=i, item_index=1,
                                         is_report=True, text="x" * 3000, sha256=SHA) for i in range(1, n + 1)])
                for n in (0, 300, 100)]
    lake.commit("reports", versions[1], "r0", CV)
    seen, errors, stop = set(), [], threading.Event()

    def reader():
        mine = Lake(tmp_path / "lake")
        while not stop.is_set():
            try:
                seen.add(mine.read("reports").num_rows)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(30):
            lake.commit("reports", versions[i % 3], f"r{i + 1}", CV, replace=("source_name", ["a.txt"]))
    finally:
        stop.set()
        t.join()
    assert errors == []
    assert seen <= {0, 100, 300} and len(seen) > 1


# ---- quarantine ---------------------------------------------------------------------------------
def test_quarantine_records_are_readable(tmp_path):
    lake = Lake(tmp_path / "lake")
    rec = dict(source_name="bad.csv", item_index=None, stage="fetch", reason="no text column",
               error="bad_input", sha256="0" * 64, run_id="r1", time=T0)
    assert lake.records.write_quarantine("r1", "extract", []) is None
    lake.records.write_quarantine("r1", "fetch", [rec])
    lake.records.write_quarantine("r2", "fetch", [dict(rec, source_name="worse.pdf", run_id="r2", extra="ignored")])
    got = lake.read("quarantine")
    assert got.schema == TABLES["quarantine"][1]
    assert sorted(got["source_name"].to_pylist()) == ["bad.csv", "worse.pdf"]
    assert sorted(p.name for p in (tmp_path / "lake" / "quarantine").iterdir()) == ["r1-fetch.parquet",
                                                                                     "r2-fetch.parquet"]
    rows = duckdb.connect().execute(
        f"select source_name, stage, reason from read_parquet('{tmp_path}/lake/quarantine/*.parquet') "
        "order by source_name").fetchall()
    assert rows == [("bad.csv", "fetch", "no text column"), ("worse.pdf", "fetch", "no text column")]


# ---- the writer lock ----------------------------------------------------------------------------
def test_a_second_writer_waits_for_the_first(tmp_path):
    first = Lake(tmp_path / "lake")
    order, waited = [], []
    with first.lock():
        def second():
            with Lake(tmp_path / "lake").lock(timeout_s=30, poll_s=0.05, on_wait=waited.append):
                order.append("second")

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.6)
        order.append("first done")
    t.join(30)
    assert order == ["first done", "second"]
    assert len(waited) == 1 and "another run" in waited[0] and ".lock" in waited[0]


def test_a_writer_gives_up_after_the_timeout(tmp_path):
    with Lake(tmp_path / "lake").lock():
        t0 = time.monotonic()
        with pytest.raises(LakeBusy, match=r"another run has been writing to .* for over 0.3 s"):
            with Lake(tmp_path / "lake").lock(timeout_s=0.3, poll_s=0.05):
                pass
        assert 0.3 <= time.monotonic() - t0 < 5
    with Lake(tmp_path / "lake").lock(timeout_s=0):   # released: free at once
        pass


def test_the_lock_clears_what_a_dead_run_staged(tmp_path):
    lake = Lake(tmp_path / "lake")
    for t, data in batch({"a.txt": 1})["tables"].items():
        lake.staging.write("20260101T000000Z-deadbeef", t, "chunk-0001", data)
    assert lake.staging.runs() == ["20260101T000000Z-deadbeef"]
    with lake.lock():
        assert lake.staging.runs() == []
    assert files_under(tmp_path / "lake" / "_staging") == []


def test_an_object_store_lake_takes_no_lock(tmp_path):
    lake = Lake("memory://gwr-lock-test/lake")
    with lake.lock(timeout_s=0):
        with Lake("memory://gwr-lock-test/lake").lock(timeout_s=0):
            pass


def test_a_second_run_waits_for_the_lock_and_says_so(prefect_server, lake_copy, caplog):
    from conftest import SEEDS
    from flows.flow import gwr_lake
    from flows.settings import Settings

    holder = Lake(lake_copy)
    with holder.lock():
        out = {}
        t = threading.Thread(target=lambda: out.update(gwr_lake(settings=Settings(source=str(SEEDS),
                                                                                  lake=str(lake_copy)))))
        t.start()
        time.sleep(2.0)
        assert t.is_alive() and not out          # waiting, not failed
    t.join(120)
    assert out["status"] == "nothing_new"
    assert any("waiting for it to finish" in r.getMessage() for r in caplog.records)


def test_a_run_gives_up_on_a_held_lock_after_its_timeout(prefect_server, lake_copy):
    from conftest import SEEDS
    from flows.cli import explain
    from flows.flow import gwr_lake
    from flows.settings import Settings

    with Lake(lake_copy).lock():
        state = gwr_lake(settings=Settings(source=str(SEEDS), lake=str(lake_copy), lock_timeout_s=0.5),
                         return_state=True)
    assert state.is_failed()
    exc = state.result(raise_on_failure=False)
    assert isinstance(exc, LakeBusy)
    line = explain(exc)
    assert "another run has been writing to" in line and "wait for that run to finish" in line
    assert "\n" not in line
    assert len(Lake(lake_copy).records.manifests()) == 1      # the seeded run's: this one wrote nothing


def test_staging_refuses_a_table_of_the_wrong_shape(tmp_path):
    with pytest.raises((KeyError, pa.ArrowInvalid)):
        Lake(tmp_path / "lake").staging.write("r1", "indicator_panel", "chunk-0001", pa.table({"x": [1]}))
    assert Lake(tmp_path / "lake").staging.runs() == []
