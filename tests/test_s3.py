"""The whole lake on object storage (issue 6): --lake s3://bucket/prefix against a moto S3
server on 127.0.0.1 started by the test."""
from __future__ import annotations

import json

import pytest

from conftest import SEEDS

TABLES = ("reports", "indicator_mentions", "indicator_panel")


@pytest.fixture(scope="module")
def s3():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    import fsspec

    fsspec.filesystem("s3", skip_instance_cache=True).mkdir("gwr-test")
    yield env
    mp.undo()
    server.stop()


def _fs():
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    return fs


def _objects(prefix: str) -> dict[str, str]:
    return {p: i["ETag"] for p, i in _fs().find(prefix, detail=True).items()}


@pytest.mark.timeout(180)
def test_the_lake_on_s3(prefect_server, s3, seeded_lake):
    from flows.flow import gwr_lake
    from flows.lake import Lake, ObjectStoreLake

    url = "s3://gwr-test/lake"
    state = gwr_lake(source=str(SEEDS), lake=url, return_state=True)
    assert state.is_completed(), state.message
    lake = Lake(url)
    assert isinstance(lake, ObjectStoreLake)
    local = Lake(seeded_lake[0])
    for t in TABLES:  # the same rows as the local lake of the same input
        assert lake.read_table(t).equals(local.read_table(t)), t
    objs = _objects("gwr-test/lake")
    assert sum(k.startswith("gwr-test/lake/bronze/source_items/") for k in objs) == 5
    assert any(k.startswith("gwr-test/lake/gold/indicator_panel/year=") for k in objs)
    pointer = json.loads(_fs().cat_file("gwr-test/lake/_current.json"))
    assert set(TABLES) <= set(pointer["tables"])
    assert all(f"gwr-test/{f}".startswith("gwr-test/") for f in lake.table_files("indicator_panel"))
    assert len(lake.manifests()) == 1 and lake.manifests()[0]["status"] == "published"
    assert not _fs().exists("gwr-test/lake/.lock")  # released

    # a re-run with no new input writes no Parquet object and changes none
    parquet = {k: v for k, v in objs.items() if k.endswith(".parquet")}
    state = gwr_lake(source=str(SEEDS), lake=url, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["work"]["unchanged"] == 5
    after = _objects("gwr-test/lake")
    assert {k: v for k, v in after.items() if k.endswith(".parquet")} == parquet


def test_a_changed_table_is_published_through_the_pointer(s3):
    """stage + publish: new files first, then one PUT of the pointer; the old version's files
    stay for readers until the grace period is over."""
    import pyarrow as pa

    from flows.lake import Lake
    from flows.schemas import schema

    lake = Lake("s3://gwr-test/unit")
    sch = schema("reports")
    row = {n: None for n in sch.names} | dict(source_name="a.txt", doc_index=1, item_index=1,
                                              is_report=True, text="t", glossary="",
                                              removed_lines=0, removed_detail="{}", sha256="0" * 64)
    v1 = pa.Table.from_pylist([row], schema=sch)
    v2 = pa.Table.from_pylist([row, row | {"doc_index": 2}], schema=sch)
    assert lake.stage("r1", "reports", v1) is not None
    assert lake.read_table("reports").num_rows == 0  # staged, not published
    lake.publish("r1")
    assert lake.read_table("reports").num_rows == 1
    assert lake.stage("r2", "reports", v1) is None  # same rows: nothing to write
    lake.stage("r3", "reports", v2)
    old = lake.table_files("reports")
    lake.publish("r3")
    assert lake.read_table("reports").num_rows == 2
    assert all(_fs().exists(f) for f in old)  # readers of the old pointer still find its files
    lake.stage("r4", "reports", v1)
    lake.discard("r4")  # unpublished files go, the live ones stay
    assert lake.read_table("reports").num_rows == 2


def test_the_s3_lock_is_exclusive(s3):
    from flows.lake import Lake, LakeBusy

    a, b = Lake("s3://gwr-test/locked"), Lake("s3://gwr-test/locked")
    with a.lock():
        with pytest.raises(LakeBusy, match="another run"):
            with b.lock():
                pass
    with b.lock():  # released: free again
        pass


def test_a_failed_validation_is_never_published_on_s3(s3):
    """The object-store lake refuses, like a local one, a run whose validation report failed;
    its staged objects go."""
    import pyarrow as pa

    from flows.lake import Lake, LakeAuditError
    from flows.schemas import schema

    lake = Lake("s3://gwr-test/refuse")
    sch = schema("reports")
    row = {n: None for n in sch.names} | dict(source_name="a.txt", doc_index=1, item_index=1,
                                              is_report=True, text="t", glossary="",
                                              removed_lines=0, removed_detail="{}", sha256="0" * 64)
    lake.stage("r1", "reports", pa.Table.from_pylist([row], schema=sch))
    lake.publish("r1")
    lake.stage("r2", "reports", pa.Table.from_pylist([row, row | {"doc_index": 2}], schema=sch))
    lake.write_text("validation", "r2.json", json.dumps({"success": False, "tables": {"reports": {}}}))
    with pytest.raises(LakeAuditError, match="did not pass validation"):
        lake.publish("r2")
    assert lake.read_table("reports").num_rows == 1
    assert not _fs().exists("gwr-test/refuse/_staging/r2")
    # a failed report about tables this publish does not carry does not stop it
    lake.stage("r3", "reports", pa.Table.from_pylist([row, row | {"doc_index": 3}], schema=sch))
    lake.write_text("validation", "r3-bi.json", json.dumps({"success": False,
                                                            "tables": {"indicator_wide": {}}}))
    lake.publish("r3")
    assert lake.read_table("reports").num_rows == 2
