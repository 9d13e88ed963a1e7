"""Against a REAL Prefect server: `prefect server start` on 127.0.0.1 (a free port, its own
PREFECT_HOME; flows/runtime/localserver.py), one per module. A served deployment (`python -m
flows serve`) is triggered through the API with a Settings parameter of its own; the UI's flow run
page is checked with headless Chromium (screenshot kept in ci-output/); the Dask task runner (a
LocalCluster of worker processes, and a running scheduler with one worker) gives the same tables
as the default runner.

Marked `server` (pytest -m "not server" leaves them out). Chromium: Debian's `chromium`; without
it the UI checks skip with a reason, unless CI is set (then they fail: .ci/run installs it).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from flowkit import REPO, SEEDS
from flows.runtime.localserver import prefect_server
from helpers import sort_rows

pytestmark = pytest.mark.server
CI_OUTPUT = REPO / "ci-output"
TABLES = ("reports", "indicator_mentions", "indicator_panel")
TIMES: dict[str, float] = {}
TOLERANCE = 0.3    # the triggered run's Settings differ from the deployment's defaults here


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """A `prefect server start` of our own; yields (api_url, ui_url, env for clients)."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = dict(os.environ, PYTHONPATH=str(REPO), PREFECT_RUNNER_POLL_FREQUENCY="1",
               XDG_CACHE_HOME=str(home / "cache"))
    env.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
    for name in [k for k in env if k.startswith("GWR_")]:
        env.pop(name)
    with prefect_server(home, env) as (api, ui, started, client_env):
        TIMES["server start"] = started
        yield api, ui, client_env


def _client(api: str):
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(api=api)


def _run_cli(env: dict, *args: str, timeout: float = 300) -> tuple[str, float]:
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "flows", "run", *args], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=timeout)
    took = time.monotonic() - t0
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout + out.stderr, took


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (CI is set: .ci/run should have installed it)")
    pytest.skip("chromium is not installed: apt-get install -y chromium (the UI checks need it)")


def _browse(url: str, tmp: Path, screenshot: Path | None = None) -> str:
    """Headless Chromium on a page: its text after 15 s of virtual time (and a screenshot)."""
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1600,1200",
            "--virtual-time-budget=15000"]
    ud = tmp / f"chromium-{time.monotonic_ns()}"
    dom = subprocess.run(base + [f"--user-data-dir={ud}", "--dump-dom", url], capture_output=True,
                         text=True, timeout=90).stdout
    if screenshot:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(base + [f"--user-data-dir={ud}-shot", f"--screenshot={screenshot}", url],
                       capture_output=True, timeout=90)
        assert screenshot.exists() and screenshot.stat().st_size > 20_000, "no screenshot"
        print(f"\nscreenshot: {screenshot}")
    text = re.sub(r"<style.*?</style>|<script.*?</script>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def _read(lake: Path, table: str) -> pa.Table:
    from flows.lake import Lake

    return Lake(lake).read(table)


@pytest.fixture(scope="module")
def served_run(real_server, tmp_path_factory):
    """`python -m flows serve` (a cron deployment on seeds/ into one lake), one run triggered
    through the API with Settings of its own (another lake, another tolerance), run by the
    serving process (default task runner). Yields (the triggered run's lake, the deployment's
    default lake, flow run id, deployment, flow run)."""
    api, _, env = real_server
    root = tmp_path_factory.mktemp("served")
    default_lake, lake = root / "default-lake", root / "lake"
    serve = subprocess.Popen([sys.executable, "-m", "flows", "serve", "--name", "ci-test",
                              "--cron", "30 5 * * *", "--source", str(SEEDS), "--lake", str(default_lake)],
                             env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    t0 = time.monotonic()
    try:
        with _client(api) as c:
            dep = None
            while dep is None:
                try:
                    dep = c.read_deployment_by_name("gwr-lake/ci-test")
                except Exception:  # noqa: BLE001 - not registered yet
                    assert serve.poll() is None, serve.stdout.read()[-3000:]
                    assert time.monotonic() - t0 < 90, "deployment never appeared"
                    time.sleep(0.5)
            TIMES["deployment registered"] = time.monotonic() - t0
            settings = {"source": str(SEEDS), "lake": str(lake), "attainment_tolerance": TOLERANCE}
            fr = c.create_flow_run_from_deployment(dep.id, parameters={"settings": settings})
            while not (fr := c.read_flow_run(fr.id)).state.is_final():
                assert time.monotonic() - t0 < 300, f"flow run stuck in {fr.state.name}"
                time.sleep(0.5)
        TIMES["deployment: registered + triggered run completed"] = time.monotonic() - t0
        yield lake, default_lake, str(fr.id), dep, fr
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        try:
            serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)


@pytest.mark.timeout(400)
def test_served_deployment_runs_on_trigger_with_its_settings(served_run):
    from flows.lake import Lake

    lake, default_lake, _, dep, fr = served_run
    assert fr.state.is_completed(), fr.state.message
    assert [s.schedule.cron for s in dep.schedules] == ["30 5 * * *"]
    # the deployment's defaults: the Settings the serve command was given (the rest default)
    assert dep.parameters == {"settings": {"source": str(SEEDS), "lake": str(default_lake)}}
    assert dep.entrypoint == "flows.flow:gwr_lake" or dep.entrypoint.endswith("gwr_lake")
    assert "settings" in dep.parameter_openapi_schema["properties"]    # the UI's form
    # the run used the Settings it was triggered with, not the deployment's
    assert fr.parameters["settings"]["attainment_tolerance"] == TOLERANCE
    assert not default_lake.exists()
    lk = Lake(lake)
    assert [m["status"] for m in lk.records.manifests()] == ["published"]
    assert lk.records.current()["bi"]["tolerance"] == TOLERANCE
    assert lk.read("indicator_panel").num_rows > 100


@pytest.mark.timeout(400)
def test_flow_run_page_shows_tasks_and_artifacts(real_server, served_run, tmp_path):
    api, ui, _ = real_server
    run_id = served_run[2]
    with _client(api) as c:
        fr = c.read_flow_run(run_id)
        assert fr.state.is_completed()
        keys = {a.key for a in c.read_artifacts() if a.flow_run_id and str(a.flow_run_id) == run_id}
    assert {"gwr-lake-summary", "gwr-lake-counts", "gwr-lake-panel", "gwr-lake-validation",
            "gwr-lake-growth-chart", "gwr-lake-report"} <= keys
    page = f"{ui}/v2/runs/flow-run/{run_id}"
    tasks = _browse(f"{page}?tab=TaskRuns", tmp_path)
    for name in ("plan", "fetch chunk 1", "process chunk 1", "validate", "publish", "report", "artifacts"):
        assert name in tasks, f"task {name!r} not on the flow run page"
    assert "Completed" in tasks
    arts = _browse(f"{page}?tab=Artifacts", tmp_path, screenshot=CI_OUTPUT / "flow-run.png")
    for key in keys & {"gwr-lake-summary", "gwr-lake-panel", "gwr-lake-validation", "gwr-lake-growth-chart"}:
        assert key in arts, f"artifact {key} not on the flow run page"


@pytest.mark.timeout(400)
def test_dask_runner_gives_the_same_tables(real_server, served_run, tmp_path):
    """--task-runner dask: a LocalCluster of worker processes (they talk to the real server);
    the same silver and gold rows as the served run with the default runner."""
    _, _, env = real_server
    src, lake = tmp_path / "src", tmp_path / "lake"
    src.mkdir()
    names = ["000_c9b0bbd917161d38.txt", "001_9eeac6bb57bd8a70.txt", "003_10be600c11dd0ddc.txt"]
    for n in names:
        shutil.copy(SEEDS / n, src)
    out, took = _run_cli(env, "--source", str(src), "--lake", str(lake), "--task-runner", "dask")
    TIMES["run of 3 files, dask runner (LocalCluster, 2 processes)"] = took
    assert "3 source(s) processed in" in out and "0 unchanged in the lake" in out
    for t in TABLES:
        ref = _read(served_run[0], t)
        ref = ref.filter(pc.is_in(ref["source_name"], pa.array(names)))
        assert sort_rows(t, _read(lake, t)).equals(sort_rows(t, ref)), t
    docs = lake / "reports" / "data_docs"
    assert (docs / "index.html").is_file() and (lake / "reports" / "index.html").is_file()
    assert any(docs.glob("validations/indicator_panel/*/*/*.html")), "no page of this run's results"
    assert (lake / "lake.duckdb").is_file()


@pytest.mark.timeout(400)
def test_dask_scheduler_with_one_worker(real_server, served_run, tmp_path):
    """--dask-address: a running scheduler with ONE worker (one thread). Every task run, the
    BI tables' too, is a Dask task that never waits for other Dask tasks of its own: it would
    wait for the thread it holds. Same tables as the served run; the BI tables those of the panel."""
    from distributed import LocalCluster

    from flows.core.bi import bi_tables
    from flows.schemas import BI_TABLES

    _, _, env = real_server
    src, lake = tmp_path / "src", tmp_path / "lake"
    src.mkdir()
    name = "000_c9b0bbd917161d38.txt"
    shutil.copy(SEEDS / name, src)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        out, took = _run_cli(env, "--source", str(src), "--lake", str(lake), "--task-runner",
                             "dask", "--dask-address", cluster.scheduler_address, timeout=300)
    TIMES["run of 1 file, a running Dask scheduler with 1 worker"] = took
    for t in TABLES:
        ref = _read(served_run[0], t)
        assert sort_rows(t, _read(lake, t)).equals(sort_rows(t, ref.filter(pc.equal(ref["source_name"], name)))), t
    expected = bi_tables(_read(lake, "indicator_panel"))
    for t in BI_TABLES:
        assert sort_rows(t, _read(lake, t)).equals(sort_rows(t, expected[t])), t


def test_report_times():
    print("\n" + "\n".join(f"{k}: {v:.1f} s" for k, v in TIMES.items()))
