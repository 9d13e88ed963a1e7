"""The lake on object storage: the same Delta tables on s3:// (a moto server on 127.0.0.1
started here; Delta's conditional put keeps commits apart, no DynamoDB, no lock), and two
writers committing to the same tables at the same time without losing a commit."""
from __future__ import annotations

import json
import threading

import pytest

from conftest import SEEDS
from flows.lake import Lake
from flows.lake.versions import resolve
from flows.schemas import DELTA_TABLES, KEYS
from lake_kit import batch, bronze_rows, content, moto_s3, publish, rows_of, s3fs


@pytest.fixture(scope="module")
def s3():
    with moto_s3() as env:
        yield env


def _objects(prefix: str) -> dict[str, str]:
    return {p: i["ETag"] for p, i in s3fs().find(prefix, detail=True).items()}


@pytest.mark.timeout(300)
def test_the_lake_on_s3(prefect_server, s3, seeded_lake):
    from flows.flow import gwr_lake
    from flows.settings import Settings

    url = "s3://gwr-test/lake"
    out = gwr_lake(settings=Settings(source=str(SEEDS), lake=url))
    assert out["status"] == "published" and out["lake"] == url
    lake, local = Lake(url), Lake(seeded_lake[0])
    for t in DELTA_TABLES:            # the same rows as the local lake of the same input
        a, b = lake.read(t, resolve(lake, None)), local.read(t, resolve(local, None))
        if t == "sources":
            a, b = a.drop(["run_id"]), b.drop(["run_id"])
        assert rows_of(a) == rows_of(b), t
    items = [lk.read("source_items").drop(["fetched_at"]) for lk in (lake, local)]
    assert rows_of(items[0]) == rows_of(items[1])
    objs = _objects("gwr-test/lake")
    assert sum(k.startswith("gwr-test/lake/bronze/source_items/") for k in objs) == 5
    for t in DELTA_TABLES:
        assert any(k.startswith(f"gwr-test/lake/{'silver' if t in ('reports', 'sources') else 'gold'}/{t}/_delta_log/")
                   for k in objs), t
    assert any(k.startswith("gwr-test/lake/gold/indicator_panel/year=") for k in objs)
    pointer = json.loads(s3fs().cat_file("gwr-test/lake/_current.json"))
    assert pointer["versions"] == lake.latest_versions() == out["versions"]
    assert [m["run_id"] for m in lake.records.manifests()] == [out["run_id"]]
    assert "gwr-test/lake/.lock" not in objs and not [k for k in objs if "/_staging/" in k]
    # the report is written (a DuckDB file of relative paths is for a local lake only)
    assert out["report"] == f"{url}/reports/index.html" and "gwr-test/lake/reports/index.html" in objs
    assert "gwr-test/lake/lake.duckdb" not in objs
    # Delta's commits on S3 by conditional PUT alone: no DynamoDB lock table was made or asked for
    import boto3

    assert boto3.client("dynamodb", endpoint_url=s3["AWS_ENDPOINT_URL"]).list_tables()["TableNames"] == []
    assert not any("LOCKING" in k or "DYNAMO" in k for k in lake.storage.delta_options())

    # a run with nothing new writes nothing, changes nothing
    again = gwr_lake(settings=Settings(source=str(SEEDS), lake=url))
    assert again["status"] == "nothing_new" and again["work"]["unchanged"] == 5
    assert _objects("gwr-test/lake") == objs


ROUNDS = 4


def test_two_concurrent_writers_lose_no_commit(s3, monkeypatch):
    """Two writers publish at the same time, round after round, to the same tables: each its own
    source, and both the same shared source (the same rows: a real conflict, written again).
    Every commit of both is in the tables' history, the tables end as the last round left them,
    and the pointer names the latest set."""
    from flows.lake.tables import DeltaTables

    url = "s3://gwr-test/concurrent"
    barrier, errors, done = threading.Barrier(2), [], {0: [], 1: []}
    attempts = []
    write = DeltaTables._write

    def counted(self, *args, **kw):
        attempts.append(args[0])
        return write(self, *args, **kw)

    monkeypatch.setattr(DeltaTables, "_write", counted)

    def writer(k):
        try:
            for j in range(1, ROUNDS + 1):
                barrier.wait(60)
                b = batch({f"s{k}.txt": j, "a.txt": j})
                done[k].append((f"w{k}-{j}", publish(url, f"w{k}-{j}", b)))
        except BaseException as e:  # noqa: BLE001
            import traceback
            errors.append(traceback.format_exc())
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert errors == []
    lake = Lake(url)
    want = content_of(batch({"s0.txt": ROUNDS, "s1.txt": ROUNDS, "a.txt": ROUNDS}))
    got = content(lake)
    assert {t: got[t] for t in want} == want
    assert sorted(r["source_name"] for r in lake.read("sources").to_pylist()) == ["a.txt", "s0.txt", "s1.txt"]
    # every commit made it: one version per publish and table, made by that run
    made = {}
    for t in DELTA_TABLES:
        hist = lake.tables.history(t)
        for h in hist:         # no version has a row twice (e.g. the shared source's, from both)
            keys = lake.read(t, {t: h["version"]}, columns=list(KEYS[t])).to_pylist()
            assert len(keys) == len({tuple(k.values()) for k in keys}), (t, h["version"], h["run_id"])
        writes = [h for h in hist if h["operation"] == "WRITE"]
        assert sorted(h["run_id"] for h in writes) == sorted(r for k in (0, 1) for r, _ in done[k]), t
        assert {h["run_id"] for h in hist if h not in writes} <= {"w0-1", "w1-1"}   # the table made first
        made.update({(t, h["run_id"]): h["rows"] for h in writes})
    for k in (0, 1):           # what each publish says it made is what its commit made
        for run, pub in done[k]:
            assert sorted(pub.committed) == sorted(DELTA_TABLES)
            assert pub.rows == {t: made[(t, run)] for t in DELTA_TABLES}, run
    retries = sum((h.get("operationMetrics") or {}).get("num_retries", 0) or 0
                  for t in DELTA_TABLES for h in Lake(url).tables.open(t).history())
    commits = 2 * ROUNDS * len(DELTA_TABLES)
    print(f"deltalake's own commit retries: {retries}; conflicts written again: {len(attempts) - commits}")
    assert len(attempts) > commits          # the writers did collide: some commits were written again
    assert lake.pointer_is_current()
    assert content(lake, resolve(lake, None)) == got


def content_of(b: dict) -> dict:
    return {t: rows_of(data) for t, data in b["tables"].items()}


def test_a_pointer_written_after_another_publish_still_names_it(s3, monkeypatch):
    """A publish reads the latest versions, and before it writes the pointer another run's
    publish commits and points: the late pointer must not hide the other run's commits."""
    import flows.lake as lake_pkg

    url = "s3://gwr-test/late-pointer"
    publish(url, "r0", batch({"a.txt": 1}), whole_bi=True)
    real, at_pointer, other_done = lake_pkg.crashpoint, threading.Event(), threading.Event()

    def point(name):
        if name == "publish:pointer:before" and threading.current_thread().name == "late":
            at_pointer.set()
            assert other_done.wait(60)
        real(name)

    monkeypatch.setattr(lake_pkg, "crashpoint", point)
    late = threading.Thread(target=publish, args=(url, "late", batch({"b.txt": 1})), name="late")
    late.start()
    assert at_pointer.wait(60)
    publish(url, "other", batch({"c.txt": 1}))
    other_done.set()
    late.join(60)
    lake = Lake(url)
    assert lake.records.current()["run_id"] == "late"
    assert lake.pointer_is_current()
    seen = content(lake, resolve(lake, None))
    assert {r[0][1] for r in seen["indicator_panel"]} == {"a.txt", "b.txt", "c.txt"}


@pytest.mark.timeout(300)
def test_a_run_that_fails_validation_on_s3_publishes_nothing_and_leaves_nothing_staged(prefect_server, s3,
                                                                                      tmp_path):
    """No lock on object storage, so no next run clears what a run staged: the run does, when it
    ends without publishing."""
    import shutil

    from conftest import REPO
    from flows.flow import gwr_lake
    from flows.settings import Settings

    suites = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", suites)
    suite = json.loads((suites / "reports.json").read_text(encoding="utf-8"))
    suite["expectations"].append({"type": "expect_column_values_to_be_null", "kwargs": {"column": "text"},
                                  "meta": {"why": "a test: every report fails"}})
    (suites / "reports.json").write_text(json.dumps(suite), encoding="utf-8")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SEEDS / "001_9eeac6bb57bd8a70.txt", src)
    url = "s3://gwr-test/refused"
    state = gwr_lake(settings=Settings(source=str(src), lake=url, expectations=str(suites)), return_state=True)
    assert state.is_failed() and "validation" in state.message
    lake = Lake(url)
    assert lake.latest_versions() == {} and lake.records.current() is None
    [m] = lake.records.manifests()
    assert m["status"] == "failed_validation" and not m["versions"]
    # where the records are: addresses a person can open
    assert m["validation"]["markdown"] == f"{url}/validation/{m['run_id']}.md"
    assert f"full report: {url}/validation/" in m["error"]
    objs = _objects("gwr-test/refused")
    assert sum(k.startswith("gwr-test/refused/bronze/source_items/") for k in objs) == 1
    assert [k for k in objs if "/_staging/" in k] == []


def test_racing_bronze_writers_on_s3_one_wins(s3):
    """Content-addressed bronze on object storage: of writers racing to land the same file one
    writes it (a conditional PUT), the others find it there; the object is the winner's, whole."""
    sha = "cd" * 32
    url = "s3://gwr-test/bronze-race"
    results, barrier = {}, threading.Barrier(8)

    def write(i):
        lake = Lake(url)
        barrier.wait(60)
        results[i] = lake.bronze.write(sha, bronze_rows(f"n{i}.txt", sha, [f"t{i}"]))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) == [False] * 7 + [True]
    [winner] = [i for i, won in results.items() if won]
    assert Lake(url).read("source_items").to_pylist()[0]["text"] == f"t{winner}"
    assert list(_objects("gwr-test/bronze-race")) == [f"gwr-test/bronze-race/bronze/source_items/{sha}.parquet"]


def test_an_old_lake_on_s3_is_set_aside_and_its_index_found(s3, seeded_lake, tmp_path):
    """The upgrade's moves on object storage: the old layout found, its tables set aside whole,
    the rest where it was, the unfinished upgrade's index found aside."""
    from flows.lake.storage import Storage
    from flows.lake.upgrade import ASIDE, old_sources, set_aside, unfinished
    from lake_kit import make_old_lake

    keep = make_old_lake(tmp_path / "old", seeded_lake[0])
    s3fs().put(str(tmp_path / "old") + "/", "gwr-test/old", recursive=True)
    s = Storage("s3://gwr-test/old")
    want = {n: e["sha256"] for n, e in Lake(seeded_lake[0]).source_index().items()}
    assert {n: e["sha256"] for n, e in old_sources(s).items()} == want
    where = set_aside(s)
    assert where.startswith(f"s3://gwr-test/old/{ASIDE}/")
    objs = _objects("gwr-test/old")
    stamp = where.rsplit("/", 1)[-1]
    for rel in keep:
        moved = rel.startswith(("silver/", "gold/"))
        assert (f"gwr-test/old/{ASIDE}/{stamp}/{rel}" if moved else f"gwr-test/old/{rel}") in objs, rel
    assert not [k for k in objs if k.startswith(("gwr-test/old/silver/", "gwr-test/old/gold/", "gwr-test/old/_trash/"))]
    assert old_sources(s) is None
    aside, index = unfinished(s)
    assert aside == where and {n: e["sha256"] for n, e in index.items()} == want
