"""A fork server for tests that run the whole flow many times in fresh processes (the crash tests).

    python tests/flow/forkserver.py   (started by tests/flow/test_flow_crash.py, PREFECT_API_URL set)

It imports Prefect, Great Expectations and the flow ONCE (~4 s), then answers one JSON request
per line on stdin with one JSON line on stdout:

    {"argv": ["run", "--source", S, "--lake", L], "env": {"GWR_CRASH_AT": "..."}, "log": PATH}
 -> {"rc": 0 | 1 | -9 ..., "pid": N, "timed_out": false, "seconds": 1.9, "cpu": 1.2}

by forking a child that runs `python -m flows <argv>` (flows.__main__.main) with that environment,
its output in PATH (a child still running after req["timeout"] seconds, default 300, is
killed and reported timed_out). The child is a separate process: a crash point kills it with SIGKILL and
nothing else. rc is the child's exit status as subprocess gives it (-9: killed by SIGKILL); cpu
the CPU seconds of the child (and of the processes it waited for).
Nothing runs in this process but imports, so a forked child starts clean: no threads, no Prefect
client yet. The child's own worker pool (flows/runtime/workers.py) starts as in any run.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations  # noqa: E402,F401  (the heavy imports the children inherit)
import pyarrow.dataset  # noqa: E402,F401

import flows.__main__  # noqa: E402
import flows.flow  # noqa: E402,F401
import flows.quality.validate  # noqa: E402,F401
from flows.runtime import faults  # noqa: E402


def child(req: dict) -> None:
    """In the forked process: run the command, exit without running the parent's atexit hooks."""
    rc = 70
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.environ.update(req.get("env", {}))
        if req.get("cwd"):
            os.chdir(req["cwd"])
        faults.reset()
        # the run's __main__ is flows.__main__, as under `python -m flows`: the run's worker
        # processes (forkserver start method) import __main__, and this file imports GX
        sys.modules["__main__"] = flows.__main__
        rc = flows.__main__.main(req["argv"])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        rc = 71
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def main() -> None:
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            child(req)
        deadline = t0 + float(req.get("timeout", 300))
        timed_out = False
        while True:  # wait, but never forever: a hung run is killed and reported
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline and not timed_out:
                os.kill(pid, signal.SIGKILL)
                timed_out = True
            time.sleep(0.02)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status), "pid": pid,
                          "timed_out": timed_out,
                          "seconds": round(time.monotonic() - t0, 3),
                          "cpu": round(usage.ru_utime + usage.ru_stime, 3)}), flush=True)


if __name__ == "__main__":
    main()
