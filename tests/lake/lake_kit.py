"""What the tests of flows/lake/ share: rows of any table, small batches of a run's tables
published through the real publish stage, a lake's content for comparisons, an exception where
a crash would be, a moto S3 server. (A module, not a conftest: tests/conftest.py stays the one
`conftest`.)"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from flows.schemas import DELTA_TABLES, TABLES, to_table

CV = "test-code-1"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
REGIONS = {"a.txt": "甲市", "b.txt": "乙市", "c.txt": "丙县", "s0.txt": "子市", "s1.txt": "丑市"}

_DEFAULTS = {pa.string(): "x", pa.int32(): 0, pa.int64(): 0, pa.float64(): 0.0, pa.bool_(): False,
             pa.timestamp("us", tz="UTC"): T0}


def row(table: str, **values) -> dict:
    """A row of `table`: the given values, a plain value in every other column that may not be
    null, null elsewhere."""
    out = {}
    for f in TABLES[table][1]:
        out[f.name] = values.pop(f.name) if f.name in values else (None if f.nullable else _DEFAULTS[f.type])
    assert not values, f"not columns of {table}: {sorted(values)}"
    return out


def bronze_rows(source: str, sha: str, texts: list[str]) -> pa.Table:
    return to_table("source_items", [row("source_items", source_name=source, item_index=i + 1, container="txt",
                                         encoding="utf-8", text=t, sha256=sha, byte_size=len(t.encode()))
                                     for i, t in enumerate(texts)])


def source_rows(source: str, n: int) -> dict[str, list[dict]]:
    """Version n of one source's rows in the three per-source tables (n + 1 rows each, values n,
    years 2020 + n ..., so that two versions differ in rows, values and partitions)."""
    region = REGIONS[source]
    reports = [row("reports", source_name=source, doc_index=d, item_index=1, is_report=True,
                   text=f"{source} v{n} 全年实现地区生产总值增长{n}%。" * 3, sha256=f"{n:x}" * 64)
               for d in range(1, n + 2)]
    mentions = [row("indicator_mentions", source_name=source, doc_index=1, region=region, indicator="gdp",
                    kind="actual", measure="growth_pct", period="annual", year=2020 + n + i, value=float(n),
                    unit="percent", value_text=f"{n}%", quote="q", sentence="s", start=i, end=i + 2,
                    status="reported")
                for i in range(n + 1)]
    panel = [row("indicator_panel", source_name=source, doc_index=1, region=region, tier="city",
                 indicator=ind, kind="actual", measure="growth_pct", year=2020 + n + i, value=float(n),
                 unit="percent", value_text=f"{n}%", quote="q", start=i, end=i + 2, status="reported")
             for i, ind in enumerate(["gdp", "cpi", "retail_sales", "exports"][:n + 1])]
    return {"reports": reports, "indicator_mentions": mentions, "indicator_panel": panel}


def bi_rows(source: str, n: int) -> dict[str, list[dict]]:
    region = REGIONS[source]
    wide = [row("indicator_wide", region=region, year=2020 + n + i, kind="actual", n_values=n, sources=source,
                gdp_growth_pct=float(n)) for i in range(n + 1)]
    att = [row("target_attainment", region=region, indicator="gdp", measure="growth_pct", year=2020 + n + i,
               target_status="set", status="met", target_source=f"{source}#1", target_quote="q")
           for i in range(n + 1)]
    return {"indicator_wide": wide, "target_attainment": att}


def index_row(source: str, n: int, run_id: str) -> dict:
    return row("sources", source_name=source, sha256=f"{n:x}" * 64, code_version=CV, byte_size=100 + n,
               size=100 + n, mtime_ns=n, location=f"/src/{source}", status="published", run_id=run_id)


def batch(versions: dict[str, int]) -> dict:
    """A run's batch: {source: version} -> the staged tables and what the publish replaces."""
    tables: dict[str, list] = {t: [] for t in DELTA_TABLES if t != "sources"}
    for src, n in versions.items():
        for t, rows in {**source_rows(src, n), **bi_rows(src, n)}.items():
            tables[t] += rows
    return {"tables": {t: to_table(t, rows) for t, rows in tables.items()}, "sources": dict(versions)}


def stage(lake, run_id: str, b: dict) -> None:
    for t, data in b["tables"].items():
        lake.staging.write(run_id, t, "chunk-0001", data)


def publish(lake_url, run_id: str, b: dict, whole_bi: bool = False, stage_first: bool = True):
    """Stage a batch and publish it through the publish stage, as a run does: the batch's sources
    replace theirs, its regions' BI rows replace theirs (or the whole BI tables)."""
    from flows.lake import Lake
    from flows.stages.publish import publish as run_publish

    lake = Lake(lake_url)
    if stage_first:
        stage(lake, run_id, b)
    names = sorted(b["sources"])
    regions = None if whole_bi else sorted({REGIONS[s] for s in names})
    return run_publish(str(lake_url), run_id, CV, names, [index_row(s, b["sources"][s], run_id) for s in names],
                       regions, True, {"bi": {"tolerance": 0.5, "stale": False}})


def rows_of(t: pa.Table) -> list:
    """A table's rows in a canonical order (to compare content, not file layout)."""
    return sorted((tuple(r.items()) for r in t.to_pylist()), key=repr)


def content(lake, versions: dict | None = None, tables=DELTA_TABLES, skip=("run_id",)) -> dict:
    """{table: canonical rows} of the lake's Delta tables (as of `versions`; latest when None);
    the source index without its run ids (another run writes the same index)."""
    out = {}
    for t in tables:
        data = lake.read(t, versions)
        if t == "sources":
            data = data.drop([c for c in skip if c in data.column_names])
        out[t] = rows_of(data)
    return out


# ---- a lake of the previous layout (`git show 56291aa:flows/lake.py`), by hand ----------------
OLD_RUN = "20251101T080000Z-0a1d1a4e"
OLD_CODE = "0123456789abcdef"
OLD_TABLES = ("reports", "indicator_mentions", "indicator_panel", "indicator_wide", "target_attainment")


def _digest(t: pa.Table) -> str:
    return hashlib.sha256(repr(t.to_pylist()).encode()).hexdigest()[:16]


def make_old_lake(root: Path, seeded: Path) -> dict:
    """The lake the previous version made of the seeds, file by file; -> {relative path: bytes}
    of the files a person would not want to lose."""
    from flows.lake import Lake

    new = Lake(seeded)
    shutil.copytree(seeded / "bronze", root / "bronze")
    index = {n: {"sha256": e["sha256"], "code_version": OLD_CODE, "size": e["size"], "mtime_ns": e["mtime_ns"]}
             for n, e in new.source_index().items()}
    markers: dict[str, dict] = {"silver": {"sources": index}, "gold": {}}
    for t in OLD_TABLES:
        layer, _, part = TABLES[t]
        data = new.read(t).drop([c for c in ("correction",) if c in new.read(t).column_names])  # older schema
        v = _digest(data)
        folder = root / layer / t
        if part:
            ds.write_dataset(data, folder, format="parquet", partitioning=[part], partitioning_flavor="hive",
                             basename_template=f"part-{v}-{{i}}.parquet", existing_data_behavior="overwrite_or_ignore")
        else:
            folder.mkdir(parents=True)
            pq.write_table(data, folder / f"part-{v}-0.parquet")
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet"))
        markers[layer].setdefault("segments", {})[t] = {v: {"rows": data.num_rows, "sources": sorted(index),
                                                           "files": files}}
        markers[layer].setdefault("tables", {})[t] = v
    for layer, m in markers.items():
        m.update(publish_id=f"1762000000-{OLD_RUN}-a1b2c3", run_id=OLD_RUN, meta={})
        (root / layer / "_version.json").write_text(json.dumps(m, indent=1), encoding="utf-8")
    (root / "_current.json").write_text(json.dumps({
        "run_id": OLD_RUN, "publish_id": f"1762000000-{OLD_RUN}-a1b2c3", "published_at": "2025-11-01T08:01:00+00:00",
        "tables": {t: {"version": markers[TABLES[t][0]]["tables"][t]} for t in OLD_TABLES},
        "inputs": [{"source_name": n, "sha256": e["sha256"]} for n, e in index.items()]}), encoding="utf-8")
    (root / "_trash" / f"1761000000-{OLD_RUN}-000000" / "gold").mkdir(parents=True)   # a replaced version
    quarantine = pa.Table.from_pylist([row("quarantine", source_name="broken.pdf", stage="fetch",
                                           reason="not a PDF", error="bad_input", sha256="0" * 64,
                                           run_id=OLD_RUN, time=T0)], schema=TABLES["quarantine"][1])
    (root / "quarantine").mkdir()
    pq.write_table(quarantine, root / "quarantine" / f"{OLD_RUN}-fetch.parquet")
    (root / "manifests").mkdir()
    (root / "manifests" / f"{OLD_RUN}.json").write_text(json.dumps({
        "run_id": OLD_RUN, "source": "seeds", "lake": str(root), "status": "published",
        "started_at": "2025-11-01T08:00:00+00:00", "finished_at": "2025-11-01T08:01:00+00:00",
        "published": {t: 1 for t in OLD_TABLES}, "manifest": str(root / "manifests" / f"{OLD_RUN}.json")}),
        encoding="utf-8")
    (root / "validation").mkdir()
    (root / "validation" / f"{OLD_RUN}.json").write_text(json.dumps({"success": True}), encoding="utf-8")
    (root / "validation" / f"{OLD_RUN}.md").write_text("# passed\n", encoding="utf-8")
    keep = {}
    for f in files_under(root):
        rel = Path(f).relative_to(root).as_posix()
        if not rel.startswith(("_trash/", "_current.json")):
            keep[rel] = Path(f).read_bytes()
    return keep



# ---- an exception where a crash would be -------------------------------------------------------
class Crash(BaseException):
    """Raised at a crash point (a BaseException: nothing on the way catches it, as nothing
    survives a SIGKILL)."""


@pytest.fixture
def crash_at(monkeypatch):
    """crash_at(name): the next crashpoint(name) of flows.lake raises Crash (the other crash
    points, and GWR_PAUSE_AT, behave as usual); crash_at(None) stops it."""
    import flows.lake as lake_pkg

    real = lake_pkg.crashpoint
    target = {"name": None}

    def point(name):
        if name == target["name"]:
            raise Crash(name)
        real(name)

    monkeypatch.setattr(lake_pkg, "crashpoint", point)
    return lambda name: target.update(name=name)


def publish_points() -> list[str]:
    """Every crash point of a publish, in the order a publish passes them."""
    return [f"publish:{t}:{w}" for t in DELTA_TABLES for w in ("before", "committed")] + \
        ["publish:pointer:before", "publish:pointer:written"]


# ---- S3 -------------------------------------------------------------------------------------
@contextlib.contextmanager
def moto_s3(bucket: str = "gwr-test"):
    """A moto S3 server on 127.0.0.1 with one bucket; the AWS_* environment pointing at it. The
    server runs in a process of its own: deltalake holds the GIL in some calls that wait for
    the server (DeltaTable.is_deltatable), so a server on a thread of the test process would
    never answer them."""
    import socket
    import subprocess
    import sys
    import time

    from flows.runtime.localserver import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    mp = pytest.MonkeyPatch()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        for k in ("AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
            mp.delenv(k, raising=False)
        for k, v in env.items():
            mp.setenv(k, v)
        s3fs().mkdir(bucket)
        yield env
    finally:
        mp.undo()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def s3fs():
    import fsspec

    return fsspec.filesystem("s3", skip_instance_cache=True)


def files_under(root) -> list[str]:
    """Files left under a local folder (e.g. a run's staging)."""
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
