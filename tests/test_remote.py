"""Remote sources (issue 6): an http(s) URL fetched with retries and backoff, a timeout and a size
cap, against an HTTP server on 127.0.0.1 started by the test."""
from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

from conftest import SEEDS

REPORT = (SEEDS / "001_9eeac6bb57bd8a70.txt").read_bytes()


class Handler(BaseHTTPRequestHandler):
    hits: Counter = Counter()

    def log_message(self, *a):  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.hits[self.path] += 1
        n = self.hits[self.path]
        if self.path == "/reports/ok.txt":
            self._send(200, REPORT)
        elif self.path == "/reports/flaky.txt":  # 500 first, then 200
            self._send(500, b"busy") if n == 1 else self._send(200, REPORT)
        elif self.path == "/page":  # a web page, no suffix in the URL
            body = ("<html><head><title>report</title></head><body><p>"
                    + REPORT.decode("utf-8").replace("\n", "</p><p>") + "</p></body></html>").encode()
            self._send(200, body, "text/html; charset=utf-8")
        elif self.path == "/reports/slow.txt":  # never answers in time
            time.sleep(1.5)
            self._send(200, REPORT)
        elif self.path == "/reports/big.txt":
            self._send(200, b"x" * 300_000)
        elif self.path == "/reports/streamed-big.txt":  # no Content-Length: the cap holds while reading
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"y" * 10_000)
        else:
            self._send(404, b"no such report")


@pytest.fixture(scope="module")
def http_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def fast_limits(monkeypatch):
    monkeypatch.setenv("GWR_HTTP_TIMEOUT_S", "0.4")
    monkeypatch.setenv("GWR_HTTP_MAX_BYTES", "200000")
    monkeypatch.setenv("GWR_HTTP_RETRIES", "2")
    monkeypatch.setenv("GWR_HTTP_BACKOFF_S", "0.05")
    Handler.hits.clear()


def test_download_sorts_errors_for_retries(http_server):
    from flows.core.model import SourceError
    from flows.remote import TransientHTTPError, download

    assert download(f"{http_server}/reports/ok.txt") == ("ok.txt", REPORT)
    name, body = download(f"{http_server}/page")
    assert name == "127.0.0.1_page.html" and body.startswith(b"<html>")
    with pytest.raises(TransientHTTPError, match="HTTP 500"):
        Handler.hits.clear()
        download(f"{http_server}/reports/flaky.txt")
    with pytest.raises(TransientHTTPError, match="timeout"):
        download(f"{http_server}/reports/slow.txt")
    for path in ("big.txt", "streamed-big.txt"):
        with pytest.raises(SourceError, match="over the cap") as e:
            download(f"{http_server}/reports/{path}")
        assert e.value.code == "too_large"
    with pytest.raises(SourceError, match="HTTP 404"):
        download(f"{http_server}/reports/missing.txt")


def _quarantine(lake):
    return duckdb.connect().execute(
        f"select source_name, stage, error, reason from read_parquet('{lake}/quarantine/*.parquet')").fetchall()


@pytest.mark.timeout(120)
def test_a_500_then_200_is_retried_and_lands(prefect_server, http_server, tmp_path):
    from flows.flow import gwr_lake
    from flows.lake import Lake

    lake = tmp_path / "lake"
    state = gwr_lake(source=f"{http_server}/reports/flaky.txt", lake=str(lake), return_state=True)
    assert state.is_completed(), state.message
    assert Handler.hits["/reports/flaky.txt"] == 2  # one retry
    s = state.result()
    assert [i["source_name"] for i in s["inputs"]] == ["flaky.txt"] and s["new_in_bronze"] == 1
    panel = Lake(lake).read_table("indicator_panel")
    assert panel.num_rows > 5 and set(panel["source_name"].to_pylist()) == {"flaky.txt"}


@pytest.mark.timeout(120)
def test_a_web_page_is_a_source(prefect_server, http_server, tmp_path):
    from flows.flow import gwr_lake
    from flows.lake import Lake

    lake = tmp_path / "lake"
    state = gwr_lake(source=f"{http_server}/page", lake=str(lake), return_state=True)
    assert state.is_completed(), state.message
    items = Lake(lake).read_table("source_items").to_pylist()
    assert [(i["source_name"], i["container"]) for i in items] == [("127.0.0.1_page.html", "html")]
    assert Lake(lake).read_table("indicator_panel").num_rows > 5


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path, attempts, error", [("slow.txt", 3, "TransientHTTPError"),
                                                   ("big.txt", 1, "too_large")])
def test_timeouts_and_oversized_files_are_quarantined(prefect_server, http_server, tmp_path,
                                                      path, attempts, error):
    """A timeout is retried (GWR_HTTP_RETRIES=2: 3 attempts) then quarantined; a file over the
    cap is quarantined at once. Nothing usable: the run fails, saying so."""
    from flows.flow import gwr_lake

    lake = tmp_path / "lake"
    t0 = time.monotonic()
    state = gwr_lake(source=f"{http_server}/reports/{path}", lake=str(lake), return_state=True)
    assert state.is_failed() and "no usable input" in state.message
    assert Handler.hits[f"/reports/{path}"] == attempts
    rows = _quarantine(lake)
    assert len(rows) == 1 and rows[0][:3] == (path, "fetch", error)
    if path == "slow.txt":
        assert "timeout after 0.4 s" in rows[0][3]
        assert time.monotonic() - t0 < 30
