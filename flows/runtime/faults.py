"""Named crash points, for the crash tests (tests/flow/test_flow_crash.py).

    crashpoint("publish:indicator_panel:committed")

kills the process with SIGKILL (no cleanup, no finally, no atexit: as a power cut or the OOM
killer would) when the environment variable GWR_CRASH_AT names that point; otherwise it does
nothing (one string comparison). GWR_CRASH_AT=name#N kills at the N-th time the point is
reached in one process (e.g. validation:written#2: the second validation record of a run).

GWR_PAUSE_AT=name:seconds sleeps there instead (tests/test_concurrency.py holds the lake's lock a
moment with it, so that two runs really overlap however fast a run is).

The points are where a run's writes land: flows/lake/ (the lock, bronze, staging, quarantine,
the manifest, each table's commit and the pointer), flows/stages/ (validation records, the
report) and flows/flow.py (the stage boundaries); the list the crash tests kill at is in
tests/flow/test_flow_crash.py. A point reached in a worker process (flows/runtime/workers.py)
kills the run's process too.
"""
from __future__ import annotations

import os
import signal
import time

ENV = "GWR_CRASH_AT"

_UNSET = object()
_target: object = _UNSET      # (name, n) or None, read from the environment at the first call
_hits = 0
PARENT: int | None = None     # in a worker process of flows/pool.py: the run's process


def crashpoint(name: str) -> None:
    """SIGKILL this process if GWR_CRASH_AT names this point (and its count is reached)."""
    global _target, _hits
    if _target is _UNSET:
        _target = _parse(os.environ.get(ENV))
    pause = os.environ.get("GWR_PAUSE_AT")
    if pause and pause.rpartition(":")[0] == name:
        time.sleep(float(pause.rpartition(":")[2]))
    if _target is None or _target[0] != name:
        return
    _hits += 1
    if _hits >= _target[1]:
        if PARENT:   # the run dies, as it would have with the work in its own thread
            os.kill(PARENT, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def _parse(value: str | None):
    if not value:
        return None
    name, _, n = value.partition("#")
    return name, int(n) if n.isdigit() and int(n) > 0 else 1


def reset() -> None:
    """Read GWR_CRASH_AT again at the next crashpoint (for a process that changed it, e.g. a
    forked child)."""
    global _target, _hits
    _target, _hits = _UNSET, 0
