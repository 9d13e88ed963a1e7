"""Helpers of the flow tests (tests/flow/): run the flow in this process, read a lake back, list
its files, serve files over HTTP on 127.0.0.1.

    run(source, lake, **settings)       the flow, in this process; its summary (it must complete)
    run_state(source, lake, **settings) the flow's final Prefect state (it may fail)
    table(lake, name)                   a table of the lake as of its current set (pyarrow)
    duck(lake)                          a DuckDB connection with a view per table (flows sql)
    files(lake)                         every file of the lake: {relative path: (size, mtime_ns)}
    Served                              a ThreadingHTTPServer on 127.0.0.1 with a handler per path
"""
from __future__ import annotations

import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DATA = REPO / "tests" / "data"
GOLD_CSV = DATA / "seeds_indicators.csv"
ROW_TABLES = ("reports", "indicator_mentions", "indicator_panel")
BI_TABLES = ("indicator_wide", "target_attainment")


def settings(source, lake, **kw):
    from flows.settings import Settings

    return Settings(source=str(source), lake=str(lake), **kw)


def run_state(source, lake, **kw):
    from flows.flow import gwr_lake

    return gwr_lake(settings=settings(source, lake, **kw), return_state=True)


def run(source, lake, **kw) -> dict:
    """The flow on `source` into `lake`; its summary. Fails the test unless the run completed."""
    state = run_state(source, lake, **kw)
    assert state.is_completed(), state.message
    return state.result()


def lake_of(lake):
    from flows.lake import Lake

    return Lake(str(lake))


def table(lake, name: str, columns: list[str] | None = None):
    """A table as readers see it: the lake's current set of versions."""
    from flows.lake.versions import resolve

    lk = lake_of(lake)
    return lk.read(name, resolve(lk, None), columns=columns)


def duck(lake, as_of: str | None = None):
    """A DuckDB connection with a view per table of the lake (flows/outputs/sql.py)."""
    from flows.outputs.sql import connect

    con, _state, _versions = connect(str(lake), as_of)
    return con


def rows(con, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def files(lake) -> dict[str, tuple[int, int]]:
    """Every file under the lake folder (the lock file too): {relative path: (size, mtime_ns)}."""
    lake = Path(lake)
    out = {}
    for dirpath, _dirs, names in os.walk(lake):
        for n in names:
            p = Path(dirpath, n)
            st = p.lstat()
            out[p.relative_to(lake).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def by_source(t, names) -> "object":
    """The rows of a table whose source_name is one of names."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return t.filter(pc.is_in(t["source_name"], value_set=pa.array(sorted(names), pa.string())))


def sort_rows(t, keys: tuple[str, ...] | None = None):
    """A table in a stable order (its key columns, then every other column)."""
    names = list(keys or ()) + [n for n in t.column_names if n not in (keys or ())]
    sortable = [n for n in names if not str(t.schema.field(n).type).startswith(("list", "struct", "map"))]
    return t.sort_by([(n, "ascending") for n in sortable])


def same_rows(a, b, name: str = "") -> None:
    """Two tables with the same rows (in any order)."""
    from flows.schemas import KEYS

    keys = tuple(KEYS.get(name, ())) if name else ()
    import pyarrow as pa

    # the columns in one order, without the schemas' nullability and metadata
    a, b = (pa.Table.from_arrays(t.select(sorted(t.column_names)).columns, names=sorted(t.column_names))
            for t in (a, b))
    assert a.num_rows == b.num_rows, (name, a.num_rows, b.num_rows)
    assert sort_rows(a, keys).equals(sort_rows(b, keys)), name


# ---- an HTTP server on 127.0.0.1 --------------------------------------------------------------
class Served:
    """A threaded HTTP server on 127.0.0.1 serving `routes`: {path: callable(handler, n)} where n
    is how many times the path was asked for (1 the first time); `hits` counts requests per path
    and `headers` keeps every request's headers per path. Use as a context manager."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.hits: Counter = Counter()
        self.headers: dict[str, list] = {}
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                served.hits[self.path] += 1
                served.headers.setdefault(self.path, []).append(dict(self.headers))
                route = served.routes.get(self.path)
                if route is None:
                    send(self, 404, b"no such report")
                else:
                    route(self, served.hits[self.path])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def send(handler, code: int, body: bytes = b"", headers: dict | None = None,
         ctype: str = "text/plain; charset=utf-8") -> None:
    handler.send_response(code)
    for k, v in ({"Content-Type": ctype} | (headers or {})).items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def static(body: bytes, etag: str | None = None, last_modified: str | None = None,
           ctype: str = "text/plain; charset=utf-8"):
    """A route serving `body` with validators, answering a matching conditional GET with 304."""
    def route(handler, n):
        validators = {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}
        inm, ims = handler.headers.get("If-None-Match"), handler.headers.get("If-Modified-Since")
        fresh = (inm is not None and etag is not None and inm == etag) or (
            inm is None and ims is not None and last_modified is not None and ims == last_modified)
        send(handler, 304 if fresh else 200, b"" if fresh else body, validators, ctype)
    return route
