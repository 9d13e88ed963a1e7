"""A real `prefect server start` on 127.0.0.1 (a free port, its own PREFECT_HOME), for the
tests that need one and for the benchmarks (Dask worker processes must reach a server)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def prefect_server(home: Path, env: dict | None = None, timeout: float = 120):
    """Start the server, wait for /api/health, yield (api_url, ui_url, seconds it took to start,
    the environment clients should use); stop it (SIGTERM, then SIGKILL) on exit."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    env = dict(env if env is not None else os.environ)
    env.update(PREFECT_HOME=str(home), PREFECT_API_URL=f"{ui}/api", PREFECT_UI_API_URL=f"{ui}/api",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    t0 = time.monotonic()
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{ui}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() - t0 > timeout:
                raise RuntimeError("prefect server did not start:\n" + (home / "server.log").read_text()[-3000:])
            time.sleep(0.3)
        yield f"{ui}/api", ui, time.monotonic() - t0, env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
