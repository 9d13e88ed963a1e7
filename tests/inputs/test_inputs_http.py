"""http(s) sources (flows/inputs/http.py) against an HTTP server on 127.0.0.1 started by the test:
a conditional GET, Retry-After, the error types the caller's retries go by, timeouts, the cap."""
from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flows.inputs import (Fetched, InputOptions, Source, SourceError, TransientHTTPError,
                          list_sources, read)
from flows.inputs.http import retry_after_s

pytestmark = pytest.mark.timeout(30)
REPORT = "二〇二三年政府工作报告\n地区生产总值增长5.2%。\n".encode() * 50
ETAG = '"v1"'
MODIFIED = "Wed, 01 Mar 2023 08:00:00 GMT"
OPTS = InputOptions(http_timeout_s=0.4, http_max_bytes=200_000, retry_after_max_s=60)


class Handler(BaseHTTPRequestHandler):
    hits: Counter = Counter()
    seen: dict = {}

    def log_message(self, *a):  # quiet
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(code)
        for k, v in ({"Content-Type": "text/plain; charset=utf-8"} | (headers or {})).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _conditional(self) -> None:
        """ETag and Last-Modified; 304 when the client's validators match."""
        validators = {"ETag": ETAG, "Last-Modified": MODIFIED}
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if inm is not None:
            fresh = inm == ETAG
        elif ims is not None:
            fresh = parsedate_to_datetime(ims) >= parsedate_to_datetime(MODIFIED)
        else:
            fresh = False
        self._send(304, b"", validators) if fresh else self._send(200, REPORT, validators)

    def _streamed(self, total: int) -> None:
        """A body without Content-Length: the cap has to hold while reading."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        for _ in range(total // 10_000):
            self.wfile.write(b"y" * 10_000)

    def do_GET(self):
        self.hits[self.path] += 1
        self.seen[self.path] = dict(self.headers)
        n = self.hits[self.path]
        routes = {
            "/reports/ok.txt": lambda: self._send(200, REPORT),
            "/reports/cond.txt": self._conditional,
            "/page": lambda: self._send(200, b"<html><body><p>r</p></body></html>",
                                        {"Content-Type": "text/html; charset=utf-8"}),
            "/busy/seconds": lambda: self._send(429, b"slow down", {"Retry-After": "7"}),
            "/busy/date": lambda: self._send(429, b"slow down", {"Retry-After": formatdate(
                time.time() + 30, usegmt=True)}),
            "/busy/long": lambda: self._send(503, b"maintenance", {"Retry-After": "86400"}),
            "/busy/plain": lambda: self._send(503, b"maintenance"),
            "/flaky": lambda: self._send(500, b"busy") if n == 1 else self._send(200, REPORT),
            "/slow": lambda: (time.sleep(1.0), self._send(200, REPORT)),
            "/big": lambda: self._send(200, b"x" * 300_000),
            "/streamed-big": lambda: self._streamed(400_000),
            "/gone": lambda: self._send(410, b"gone"),
        }
        routes.get(self.path, lambda: self._send(404, b"no such report"))()


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a client that gave up: not a failure
        pass


@pytest.fixture(scope="module")
def server():
    srv = QuietServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def _fresh():
    Handler.hits.clear()
    Handler.seen.clear()


def _source(url: str) -> Source:
    (src,) = list_sources(url, OPTS)
    return src


def test_a_200_gives_the_body_and_its_validators(server):
    src = _source(f"{server}/reports/cond.txt")
    assert (src.name, src.location, src.kind) == ("cond.txt", f"{server}/reports/cond.txt", "http")
    got = read(src, OPTS)
    assert isinstance(got, Fetched) and got.source is src and got.data == REPORT
    assert (got.etag, got.last_modified) == (ETAG, MODIFIED)
    assert got.content_type == "text/plain; charset=utf-8"
    seen = Handler.seen["/reports/cond.txt"]
    assert "If-None-Match" not in seen and "If-Modified-Since" not in seen
    page = _source(f"{server}/page")
    assert page.name == "127.0.0.1_page.html"   # remote.source_name's name: stable, no request
    assert read(page, OPTS).data.startswith(b"<html>")


def test_a_304_for_the_same_etag(server):
    src = _source(f"{server}/reports/cond.txt")
    got = read(src, OPTS, known={"etag": ETAG, "last_modified": MODIFIED})
    assert got.data is None and (got.etag, got.last_modified) == (ETAG, MODIFIED)
    seen = Handler.seen["/reports/cond.txt"]
    assert seen["If-None-Match"] == ETAG and seen["If-Modified-Since"] == MODIFIED
    changed = read(src, OPTS, known={"etag": '"v0"'})
    assert changed.data == REPORT and changed.etag == ETAG


def test_a_304_for_the_same_last_modified(server):
    src = _source(f"{server}/reports/cond.txt")
    got = read(src, OPTS, known={"last_modified": MODIFIED})
    assert got.data is None and got.last_modified == MODIFIED
    before = format_datetime(parsedate_to_datetime(MODIFIED) - timedelta(days=1), usegmt=True)
    assert read(src, OPTS, known={"last_modified": before}).data == REPORT


def test_retry_after_on_429_and_503(server):
    cases = {"/busy/seconds": 7, "/busy/date": 30, "/busy/long": OPTS.retry_after_max_s,
             "/busy/plain": None}
    for path, wait in cases.items():
        with pytest.raises(TransientHTTPError) as e:
            read(_source(f"{server}{path}"), OPTS)
        if path == "/busy/date":   # an HTTP date: the seconds until then (whole seconds on the wire)
            assert 27 <= e.value.retry_after_s <= 30, e.value.retry_after_s
        else:
            assert e.value.retry_after_s == wait, path
        assert ("HTTP 429" if "429" in str(e.value) else "HTTP 503") in str(e.value)


def test_a_500_then_200_is_the_callers_retry(server):
    src = _source(f"{server}/flaky")
    with pytest.raises(TransientHTTPError, match="HTTP 500") as e:
        read(src, OPTS)
    assert e.value.retry_after_s is None
    assert read(src, OPTS).data == REPORT   # the caller's second attempt
    assert Handler.hits["/flaky"] == 2


def test_a_timeout_is_transient(server):
    t0 = time.monotonic()
    with pytest.raises(TransientHTTPError, match="timeout after 0.4 s"):
        read(_source(f"{server}/slow"), OPTS)
    assert time.monotonic() - t0 < 1.0


def test_a_body_over_the_cap_is_refused(server):
    for path in ("/big", "/streamed-big"):   # Content-Length over the cap; no Content-Length
        with pytest.raises(SourceError, match="over the cap of 200,000") as e:
            read(_source(f"{server}{path}"), OPTS)
        assert e.value.code == "too_large"
    assert read(_source(f"{server}/big"), InputOptions(http_max_bytes=300_000)).data == b"x" * 300_000


def test_client_errors_are_not_retried_and_a_refused_connection_is(server):
    for path, code in (("/missing.txt", "http_404"), ("/gone", "http_410")):
        with pytest.raises(SourceError, match=f"HTTP {code[5:]}") as e:
            read(_source(f"{server}{path}"), OPTS)
        assert e.value.code == code
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientHTTPError, match="ConnectError"):
        read(_source(f"http://127.0.0.1:{port}/a.txt"), OPTS)


def test_retry_after_values():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_s("120", 300, now) == 120
    assert retry_after_s(" 0 ", 300, now) == 0
    assert retry_after_s("600", 300, now) == 300
    assert retry_after_s("Thu, 01 Jan 2026 12:01:30 GMT", 300, now) == 90
    assert retry_after_s("Thu, 01 Jan 2026 11:00:00 GMT", 300, now) == 0   # in the past
    assert retry_after_s("-5", 300, now) == 0
    for bad in (None, "", "soon", "nan"):
        assert retry_after_s(bad, 300, now) is None
