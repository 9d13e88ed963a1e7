"""Against a REAL Prefect server (issue 6): `prefect server start` on 127.0.0.1 (a free port, its
own PREFECT_HOME), one per module. The flow runs through the command line as a user runs it; the
UI is checked with headless Chromium (screenshot kept in ci-output/), a served deployment is
triggered through the API, and the Dask task runner gives the same tables as the default one.

Marked `server` (pytest -m "not server" leaves them out). Chromium: Debian's `chromium`; without
it these UI checks skip with a reason, unless CI is set (then they fail: .ci/run installs it).
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

import pytest

from conftest import REPO, SEEDS
from flows.localserver import prefect_server

pytestmark = pytest.mark.server
CI_OUTPUT = REPO / "ci-output"
TABLES = ("reports", "indicator_mentions", "indicator_panel")
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """A `prefect server start` of our own; yields (api_url, ui_url, env for clients)."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = dict(os.environ, PYTHONPATH=str(REPO), PREFECT_RUNNER_POLL_FREQUENCY="1")
    env.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
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


def _flow_run_id(output: str) -> str:
    m = re.search(r"runs/flow-run/([0-9a-f-]{36})", output)
    assert m, "no flow run URL in the output"
    return m.group(1)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (CI is set: .ci/run should have installed it)")
    pytest.skip("chromium is not installed: apt-get install -y chromium (the UI checks need it)")


def _browse(url: str, tmp: Path, screenshot: Path | None = None) -> str:
    """Headless Chromium on a page: its DOM after 15 s of virtual time (and a screenshot)."""
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


@pytest.fixture(scope="module")
def served_run(real_server, tmp_path_factory):
    """`python -m flows serve` (a cron deployment on seeds/), one run triggered through the API
    and run by the serving process (default task runner). Yields (lake, flow run id, deployment)."""
    api, _, env = real_server
    lake = tmp_path_factory.mktemp("served") / "lake"
    serve = subprocess.Popen([sys.executable, "-m", "flows", "serve", "--name", "ci-test",
                              "--cron", "30 5 * * *", "--source", str(SEEDS), "--lake", str(lake)],
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
            fr = c.create_flow_run_from_deployment(dep.id)
            while not (fr := c.read_flow_run(fr.id)).state.is_final():
                assert time.monotonic() - t0 < 240, f"flow run stuck in {fr.state.name}"
                time.sleep(0.5)
        TIMES["deployment: registered + triggered run completed"] = time.monotonic() - t0
        yield lake, str(fr.id), dep, fr
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        try:
            serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)


@pytest.mark.timeout(300)
def test_served_deployment_runs_on_trigger(served_run):
    from flows.lake import Lake

    lake, _, dep, fr = served_run
    assert fr.state.is_completed(), fr.state.message
    assert [s.schedule.cron for s in dep.schedules] == ["30 5 * * *"]
    assert dep.parameters == {"source": str(SEEDS), "lake": str(lake)}
    assert dep.entrypoint == "flows.flow.gwr_lake" or dep.entrypoint.endswith("gwr_lake")
    assert [m["status"] for m in Lake(lake).manifests()] == ["published"]
    assert Lake(lake).read_table("indicator_panel").num_rows > 100


@pytest.mark.timeout(300)
def test_flow_run_page_shows_tasks_and_artifacts(real_server, served_run, tmp_path):
    api, ui, _ = real_server
    lake, run_id = served_run[:2]
    with _client(api) as c:
        fr = c.read_flow_run(run_id)
        assert fr.state.is_completed()
        keys = {a.key for a in c.read_artifacts() if a.flow_run_id and str(a.flow_run_id) == run_id}
    assert {"gwr-lake-summary", "gwr-lake-counts", "gwr-lake-panel", "gwr-lake-validation",
            "gwr-lake-growth-chart"} <= keys
    page = f"{ui}/v2/runs/flow-run/{run_id}"
    tasks = _browse(f"{page}?tab=TaskRuns", tmp_path)
    for name in ("plan", "fetch chunk 1", "process chunk 1", "validate", "publish", "artifacts"):
        assert name in tasks, f"task {name!r} not on the flow run page"
    assert "Completed" in tasks
    arts = _browse(f"{page}?tab=Artifacts", tmp_path, screenshot=CI_OUTPUT / "flow-run.png")
    for key in keys & {"gwr-lake-summary", "gwr-lake-panel", "gwr-lake-validation", "gwr-lake-growth-chart"}:
        assert key in arts, f"artifact {key} not on the flow run page"
    # the chart's own page (/v2/artifacts/artifact/<id>) shows it as an image: see README


@pytest.mark.timeout(300)
def test_dask_runner_gives_the_same_tables(real_server, served_run, tmp_path):
    """--task-runner dask: a LocalCluster of worker processes (they talk to the real server);
    the same silver and gold rows as the served run with the default runner."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from flows.lake import Lake

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
        ref = Lake(served_run[0]).read_table(t)
        ref = ref.filter(pc.is_in(ref["source_name"], pa.array(names)))
        assert Lake(lake).read_table(t).equals(ref), t
    # the Data Docs, built and published by a worker (work.data_docs) while the page rendered
    docs = lake / "reports" / "data_docs"
    assert (docs / "index.html").is_file() and (lake / "reports" / "index.html").is_file()
    assert any(docs.glob("validations/indicator_panel/*/*/*.html")), "no page of this run's results"


@pytest.mark.timeout(300)
def test_dask_scheduler_with_one_worker(real_server, served_run, tmp_path):
    """--dask-address: a running scheduler with ONE worker (one thread). Every task run, the
    BI tables' too, is a Dask task that never waits for other Dask tasks of its own: it would
    wait for the thread it holds. Same tables as the served run; the BI tables those of the panel."""
    import pyarrow.compute as pc
    from distributed import LocalCluster

    from flows.bi import BI_TABLES, bi_tables
    from flows.lake import Lake, sort_rows

    _, _, env = real_server
    src, lake = tmp_path / "src", tmp_path / "lake"
    src.mkdir()
    name = "000_c9b0bbd917161d38.txt"
    shutil.copy(SEEDS / name, src)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        out, took = _run_cli(env, "--source", str(src), "--lake", str(lake), "--task-runner",
                             "dask", "--dask-address", cluster.scheduler_address, timeout=240)
    TIMES["run of 1 file, a running Dask scheduler with 1 worker"] = took
    lk = Lake(lake)
    for t in TABLES:
        ref = Lake(served_run[0]).read_table(t)
        assert lk.read_table(t).equals(ref.filter(pc.equal(ref["source_name"], name))), t
    expected = bi_tables(lk.read_table("indicator_panel"))
    for t in BI_TABLES:
        assert sort_rows(t, lk.read_table(t)).equals(sort_rows(t, expected[t])), t


def test_report_times():
    print("\n" + "\n".join(f"{k}: {v:.1f} s" for k, v in TIMES.items()))
