"""fsspec sources (flows/inputs/fsspec.py): an s3:// prefix on a moto S3 server on 127.0.0.1
started by the test, and memory:// for any other fsspec filesystem."""
from __future__ import annotations

import pytest

from flows.inputs import InputError, InputOptions, Source, SourceError, list_sources, read

pytestmark = pytest.mark.timeout(60)
BUCKET = "gwr-inputs"
OBJECTS = {"reports/2023/guangdong.txt": "广东省2023年政府工作报告".encode(),
           "reports/2024/beijing.txt": "北京市2024年政府工作报告".encode(),
           "reports/big.txt": b"x" * 5000,
           "reports/.keep": b"",
           "reports/sub/.hidden/a.txt": b"h",
           "other/x.txt": b"x"}
OPTS = InputOptions(max_source_bytes=1000)


def _clear_s3_instances():
    """fsspec keeps one filesystem per storage options: one made for another module's server
    (or for this one, once stopped) must not be reused."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


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
    _clear_s3_instances()
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(BUCKET)
    for key, body in OBJECTS.items():
        fs.pipe(f"{BUCKET}/{key}", body)
    yield env
    _clear_s3_instances()
    mp.undo()
    server.stop()


def test_a_prefix_lists_its_objects_by_key(s3):
    sources = list_sources(f"s3://{BUCKET}/reports/", OPTS)
    assert [s.name for s in sources] == ["2023/guangdong.txt", "2024/beijing.txt", "big.txt"]
    gd = sources[0]
    assert (gd.location, gd.kind, gd.size) == (f"s3://{BUCKET}/reports/2023/guangdong.txt",
                                               "fsspec", len(OBJECTS["reports/2023/guangdong.txt"]))
    assert all(s.etag and s.etag.strip('"') and s.mtime_ns > 1_600_000_000 * 10**9 for s in sources)
    assert len({s.etag for s in sources}) == 3
    # the same names without the trailing slash; one object by its own URL: its base name
    assert [s.name for s in list_sources(f"s3://{BUCKET}/reports", OPTS)] == [s.name for s in sources]
    (one,) = list_sources(f"s3://{BUCKET}/reports/2024/beijing.txt", OPTS)
    assert (one.name, one.location) == ("beijing.txt", f"s3://{BUCKET}/reports/2024/beijing.txt")
    assert one.etag == sources[1].etag


def test_read_gives_the_bytes_and_the_etag(s3):
    sources = list_sources(f"s3://{BUCKET}/reports/", OPTS)
    got = read(sources[0], OPTS)
    assert got.data == OBJECTS["reports/2023/guangdong.txt"] and got.etag == sources[0].etag
    assert read(sources[0], OPTS, known={"etag": sources[0].etag}).data is None   # unchanged
    assert read(sources[0], OPTS, known={"etag": '"other"'}).data == got.data
    bare = Source("g.txt", sources[0].location, "fsspec")   # not listed: size and ETag looked up
    assert read(bare, OPTS).etag == sources[0].etag


def test_the_size_cap(s3):
    big = {s.name: s for s in list_sources(f"s3://{BUCKET}/reports/", OPTS)}["big.txt"]
    with pytest.raises(SourceError, match="5,000 bytes, over the 1,000-byte limit") as e:
        read(big, OPTS)   # refused from the listed size
    assert e.value.code == "too_large"
    big.size = 10      # a listing that no longer holds: the cap holds while reading
    with pytest.raises(SourceError, match="over the 1,000-byte limit") as e:
        read(big, OPTS)
    assert e.value.code == "too_large"
    assert len(read(big, InputOptions(max_source_bytes=5000)).data) == 5000


def test_what_is_not_there(s3):
    with pytest.raises(InputError, match="cannot list s3://no-such-bucket/x"):
        list_sources("s3://no-such-bucket/x", OPTS)
    with pytest.raises(InputError, match="nothing to read at"):
        list_sources(f"s3://{BUCKET}/no/such/prefix/", OPTS)
    with pytest.raises(SourceError) as e:
        read(Source("gone.txt", f"s3://{BUCKET}/reports/gone.txt", "fsspec"), OPTS)
    assert e.value.code == "not_found"


def test_storage_options_reach_the_filesystem(s3, monkeypatch):
    """With no endpoint and no keys in the environment, InputOptions.storage_options say where."""
    for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k)
    opts = InputOptions(storage_options={"endpoint_url": s3["AWS_ENDPOINT_URL"],
                                         "key": "testing", "secret": "testing"})
    (src,) = list_sources(f"s3://{BUCKET}/other/", opts)
    assert src.name == "x.txt" and read(src, opts).data == b"x"


def test_any_fsspec_url_memory():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/gwr-inputs-test/a/one.txt", b"1")
    fs.pipe("/gwr-inputs-test/a/two/two.txt", b"22")
    try:
        sources = list_sources("memory://gwr-inputs-test/a", OPTS)
        assert [(s.name, s.size) for s in sources] == [("one.txt", 1), ("two/two.txt", 2)]
        assert sources[1].location == "memory://gwr-inputs-test/a/two/two.txt"
        assert [read(s, OPTS).data for s in sources] == [b"1", b"22"]
        with pytest.raises(SourceError) as e:
            read(Source("x", "nosuchprotocol://a/b", "fsspec"), OPTS)
        assert e.value.code == "bad_url"
    finally:
        fs.rm("/gwr-inputs-test", recursive=True)
