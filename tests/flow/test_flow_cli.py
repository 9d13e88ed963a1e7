"""The command line as people use it: `python -m flows run` and `evaluate` in a process of their
own, and the errors a run can end with, each ONE line saying what happened and what to do, the
details (the traceback) in the log file that line names (flows/cli.py: explain)."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowkit import GOLD_CSV, REPO, SEEDS, lake_of

pytestmark = pytest.mark.timeout(300)
ONE = "000_c9b0bbd917161d38.txt"     # a small seed: a fast run


def failure_line(err: str, marker: str = "FAILED: ") -> str:
    """The CLI's one line about the failure: it is there once, and it is one line."""
    found = [line for line in err.splitlines() if line.startswith(marker)]
    assert len(found) == 1, err[-3000:]
    return found[0][len(marker):]


@pytest.fixture
def cli(prefect_server, tmp_path, monkeypatch, capsys):
    """flows.cli.main in this process, its log in the test's folder; -> call(*argv) giving
    (exit code, stdout, stderr, the log's text)."""
    import flows.cli as cli_module

    log = tmp_path / "cli.log"
    monkeypatch.setattr(cli_module, "LOG", log)
    monkeypatch.setenv("GWR_WORKERS", "0")    # patches of this process reach the work

    def call(*argv):
        capsys.readouterr()
        rc = cli_module.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err, log.read_text(encoding="utf-8") if log.exists() else ""
    return call


@pytest.fixture
def one_seed(tmp_path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SEEDS / ONE, src)
    return src


def test_cli_run_and_evaluate(prefect_server, tmp_path, one_seed):
    """`python -m flows run` and `evaluate` as a user types them (against the test server)."""
    env = dict(os.environ, PREFECT_API_URL=prefect_server, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(tmp_path / "cache"))
    lake = tmp_path / "lake"
    run = subprocess.run([sys.executable, "-m", "flows", "run", "--source", str(one_seed), "--lake", str(lake)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=280)
    assert run.returncode == 0, run.stderr[-3000:]
    assert ": published" in run.stdout and "| gold | indicator_panel |" in run.stdout
    assert f"- manifest: {lake}/manifests/" in run.stdout
    ev = subprocess.run([sys.executable, "-m", "flows", "evaluate", "--gold", str(GOLD_CSV), "--lake", str(lake),
                         "--min-precision", "0.5"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert ev.returncode == 0, ev.stderr
    assert "precision" in ev.stdout and "recall" in ev.stdout
    missing = subprocess.run([sys.executable, "-m", "flows", "run", "--source", str(tmp_path / "nope")],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert missing.returncode == 2
    assert failure_line(missing.stderr, "error: ").startswith(f"source not found: {tmp_path / 'nope'}")
    # a lake the run cannot open: the last line the user sees says so, once
    bad = subprocess.run([sys.executable, "-m", "flows", "run", "--source", str(one_seed), "--lake",
                          "nosuchscheme://bucket/lake"], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    assert bad.returncode == 1
    line = failure_line(bad.stderr)
    assert bad.stderr.rstrip().endswith(line) and "nosuchscheme://bucket/lake" in line
    assert (tmp_path / "cache" / "gwr-lake" / "cli.log").read_text(encoding="utf-8").count("Traceback") == 1


def _assert_logged(log: str, exc_name: str) -> None:
    """The log has the details: the traceback of the failure."""
    assert "Traceback (most recent call last)" in log and exc_name in log, log[-2000:]


def test_disk_full(cli, tmp_path, one_seed, monkeypatch):
    from flows.lake.storage import Storage

    def full(self, data, *parts):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.path(*parts))

    monkeypatch.setattr(Storage, "write_bytes", full)
    rc, _, err, log = cli("run", "--source", one_seed, "--lake", tmp_path / "lake")
    line = failure_line(err)
    assert rc == 1
    assert line.startswith("the disk is full: free space where the lake is (or point --lake elsewhere) and run again")
    assert f"(details: {tmp_path / 'cli.log'})" in line
    _assert_logged(log, "No space left on device")
    assert lake_of(tmp_path / "lake").records.current() is None     # nothing published


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_permission_denied_on_a_read_only_lake(cli, tmp_path, one_seed):
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(0o500)
    try:
        rc, _, err, log = cli("run", "--source", one_seed, "--lake", lake)
    finally:
        lake.chmod(0o700)
    line = failure_line(err)
    assert rc == 1 and line.startswith(f"permission denied on {lake}")
    assert "give this user write access to the lake (or point --lake elsewhere) and run again" in line
    _assert_logged(log, "PermissionError")


def test_permission_denied_as_root_too(cli, tmp_path, one_seed, monkeypatch):
    """The same line when a write is refused (for root, who writes into read-only folders, the
    refusal is simulated where the lake writes its files)."""
    from flows.lake.storage import Storage

    def refused(self, data, *parts):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.path(*parts))

    monkeypatch.setattr(Storage, "write_bytes", refused)
    rc, _, err, log = cli("run", "--source", one_seed, "--lake", tmp_path / "lake")
    line = failure_line(err)
    assert rc == 1 and line.startswith(f"permission denied on {tmp_path / 'lake'}/")
    assert "give this user write access to the lake (or point --lake elsewhere) and run again" in line
    _assert_logged(log, "PermissionError")


def test_lake_locked(cli, tmp_path, one_seed, monkeypatch):
    lake = tmp_path / "lake"
    monkeypatch.setenv("GWR_LOCK_TIMEOUT_S", "1")
    with lake_of(lake).lock():          # another run holds the lake
        rc, _, err, log = cli("run", "--source", one_seed, "--lake", lake)
    line = failure_line(err)
    assert rc == 1
    assert line.startswith(f"another run has been writing to {lake} for over 1 s (its lock is {lake}/.lock)")
    assert "wait for that run to finish, or stop it, and run again" in line
    _assert_logged(log, "LakeBusy")
    assert not (lake / "_current.json").exists()


def test_no_input(cli, tmp_path):
    rc, _, err, _ = cli("run", "--source", tmp_path / "missing", "--lake", tmp_path / "lake")
    assert rc == 2
    line = failure_line(err, "error: ")
    assert line == f"source not found: {tmp_path / 'missing'} (a folder, a file, a URL or a source list)"
    # a URL is not looked for before the run: the run says it cannot list it
    rc, _, err, log = cli("run", "--source", "nosuchscheme://bucket/reports/", "--lake", tmp_path / "lake")
    line = failure_line(err)
    assert rc == 1 and line.startswith("cannot list nosuchscheme://bucket/reports/") and line.endswith(
        f": check --source (details: {tmp_path / 'cli.log'})")
    _assert_logged(log, "InputError")


def test_no_usable_input(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "empty.txt").write_bytes(b"")
    rc, _, err, _ = cli("run", "--source", src, "--lake", tmp_path / "lake")
    line = failure_line(err)
    assert rc == 1 and line.startswith("no usable input: all 1 file(s) quarantined (see the quarantine table)")


def test_validation_failed(cli, tmp_path, one_seed):
    suites = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", suites)
    suite = json.loads((suites / "reports.json").read_text(encoding="utf-8"))
    suite["expectations"].append({"type": "expect_column_values_to_be_null", "kwargs": {"column": "text"},
                                  "meta": {"why": "test: impossible"}})
    (suites / "reports.json").write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    lake = tmp_path / "lake"
    rc, _, err, log = cli("run", "--source", one_seed, "--lake", lake, "--expectations", suites)
    line = failure_line(err)
    assert rc == 1 and line.startswith("validation failed (reports: 1 of ")
    assert "nothing was published, the previous tables stay; full report: " in line
    report = line.split("full report: ")[1].split(" (details: ")[0]
    assert Path(report).is_file() and "test: impossible" in Path(report).read_text(encoding="utf-8")
    _assert_logged(log, "RunFailed")
    assert lake_of(lake).records.current() is None


def test_bad_lake_url(cli, tmp_path, one_seed):
    rc, _, err, log = cli("run", "--source", one_seed, "--lake", "nosuchscheme://bucket/lake")
    line = failure_line(err)
    assert rc == 1 and line.startswith("cannot open the lake nosuchscheme://bucket/lake: ")
    assert "check the lake's address (a folder, or s3://bucket/prefix with AWS_* credentials)" in line
    _assert_logged(log, "LakeUrlError")
    # the commands that read a lake say it the same way
    rc, _, err, _ = cli("history", "--lake", "nosuchscheme://bucket/lake")
    assert rc == 1 and failure_line(err).startswith("cannot open the lake nosuchscheme://bucket/lake: ")
