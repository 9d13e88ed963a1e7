"""What every part of the benchmark suite shares: the machine, quiet-machine checks, best_of,
the generated corpora, and a watcher of a process tree (CPU by process, peak PSS summed)."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = os.environ.get("GWR_BENCH_PYTHON") or sys.executable


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores ({cpu}), "
            f"{mem:.0f} GiB")


def best_of(fn, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_env(**extra) -> dict:
    """The environment of a child the suite starts: no analytics, unbuffered output (lines are
    time-stamped as they arrive), no PREFECT_API_URL unless given."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", GX_ANALYTICS_ENABLED="false",
               PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


# ---- a quiet machine ---------------------------------------------------------------------------
_OTHERS = re.compile(r"pytest|prefect|uvicorn|forkserver|valgrind|distributed\.cli|dask")


def others(mine: set[int] | None = None) -> list[str]:
    """Command lines of running processes that would compete for the CPU (test runs, Prefect
    servers, profilers) and are not this suite's."""
    mine = set(mine or ()) | set(tree(os.getpid()))   # this suite's own server and drivers
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in mine:
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        if cmd and _OTHERS.search(cmd) and "bench" not in cmd:
            out.append(f"{d.name} {cmd[:120]}")
    return out


def cpu_snapshot(mine: set[int]) -> dict[int, float]:
    """CPU seconds of every process that is not the suite's."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) not in mine:
            t = cpu_s(int(d.name))
            if t is not None:
                out[int(d.name)] = t
    return out


def hogs(before: dict[int, float], after: dict[int, float], seconds: float, share: float = 0.3) -> int:
    """Processes that used more than `share` of a core between two snapshots."""
    return sum(1 for pid, t in after.items() if pid in before and (t - before[pid]) / seconds > share)


def busy_now(interval: float = 1.0) -> list[str]:
    """others(), and processes of anyone else busy on the CPU over `interval` seconds."""
    mine = set(tree(os.getpid()))
    a = cpu_snapshot(mine)
    time.sleep(interval)
    n = hogs(a, cpu_snapshot(mine), interval)
    return others() + ([f"{n} other busy process(es)"] if n else [])


def load1() -> float:
    return os.getloadavg()[0]


def wait_quiet(max_load: float = 1.5, max_wait_s: float = 2400, log=print, mine=None) -> dict:
    """Wait (60 s at a time, up to max_wait_s) until the 1-minute load is under max_load and no
    other test run or Prefect server runs. -> what was seen when the wait ended."""
    t0 = time.monotonic()
    while True:
        busy, load = busy_now(), load1()
        if load < max_load and not busy:
            return {"load1": round(load, 2), "waited_s": round(time.monotonic() - t0), "quiet": True}
        if time.monotonic() - t0 > max_wait_s:
            log(f"machine still busy after {max_wait_s:.0f} s (load {load:.2f}, {len(busy)} other processes): "
                "measuring anyway")
            return {"load1": round(load, 2), "waited_s": round(time.monotonic() - t0), "quiet": False,
                    "others": busy[:5]}
        log(f"busy (load {load:.2f}; {len(busy)} other: {busy[:2]}): waiting 60 s")
        time.sleep(60)


GATE = {"max_wait_s": 600.0, "log": print}


def gate() -> int:
    """Before a timed run: wait (20 s at a time, up to GATE["max_wait_s"]) until no other test run,
    Prefect server or profiler is running. -> how many there still are (0: none)."""
    t0 = time.monotonic()
    while busy := busy_now():
        if time.monotonic() - t0 > GATE["max_wait_s"]:
            GATE["log"](f"  still {len(busy)} other process(es) after {GATE['max_wait_s']:.0f} s: timing anyway")
            return len(busy)
        GATE["log"](f"  waiting for {len(busy)} other process(es): {busy[0][:90]}")
        time.sleep(20)
    return 0


# ---- corpora -----------------------------------------------------------------------------------
def make_corpus(n: int, where: Path, per_file: int = 10) -> Path:
    """bench/generate.py's n reports under where/corpus<n> (made once; its size beside it)."""
    from bench.generate import generate

    out = where / f"corpus{n}"
    if not out.with_suffix(".n").exists():
        if out.exists():
            shutil.rmtree(out)
        generate(n, out, per_file=per_file, seed=n)
        out.with_suffix(".n").write_text(str(n))   # beside the folder: the flow reads every file in it
    return out


def corpus_bytes(corpus: Path) -> int:
    return sum(p.stat().st_size for p in corpus.iterdir())


def linked_copy(corpus: Path, to: Path) -> Path:
    """A folder of hard links to the corpus's files (same bytes, size and time): a source a run can
    add files to without changing the corpus."""
    if to.exists():
        shutil.rmtree(to)
    to.mkdir(parents=True)
    for p in sorted(corpus.iterdir()):
        os.link(p, to / p.name)
    return to


def one_more(where: Path, k: int) -> Path:
    """A file with one new generated report, different for every k."""
    from bench.generate import generate

    return generate(1, where / f"one_more_{k}", per_file=1, seed=900_000 + k)[0]


# ---- a process tree: CPU by kind of process, peak memory -----------------------------------------
def tree(root: int) -> list[int]:
    """root and every process descending from it (worker processes, the fork server, a temporary
    Prefect server)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _proc_kib(pid: int, file: str, field: str) -> int:
    """A field in kB of /proc/<pid>/<file> (0: the process is gone or has no such field)."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size: pages shared by several processes (a fork server's imports) are
    counted once across them, so the sum over a process tree is the memory it really holds."""
    return _proc_kib(pid, "smaps_rollup", "Pss:")


def hwm_kib(pid: int) -> int:
    """VmHWM: the process's own peak resident set so far."""
    return _proc_kib(pid, "status", "VmHWM:")


def kind_of(pid: int, root: int) -> str:
    if pid == root:
        return "main"
    try:
        cmd = (Path(f"/proc/{pid}/cmdline").read_bytes()).replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return "other"
    if not cmd.strip():     # a zombie (exited, not yet reaped) has no command line
        return "other"
    if "uvicorn" in cmd or "prefect server" in cmd or "server start" in cmd:
        return "server"
    return "workers"


def cpu_s(pid: int) -> float | None:
    """user + system CPU seconds of a running process (None: gone)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Watch:
    """Samples a process tree every `every` seconds while it runs: the peak of its PSS summed
    (and by kind: main, server, workers), the main process's own peak (VmHWM), and the CPU of each
    process as last seen, summed by kind (a process that exits between two samples loses at most
    `every` seconds of CPU)."""

    def __init__(self, root: int, every: float = 0.25, memory: bool = True, extra: list[int] | None = None):
        self.root, self.every, self.memory, self.extra = root, every, memory, list(extra or [])
        self.peak_kib, self.peak_by_kind, self.main_hwm_kib = 0, {}, 0
        self.cpu: dict[int, tuple[str, float]] = {}
        self.seen: dict[int, str] = {}      # every process of the tree seen, by kind
        self.kinds: dict[int, str] = {}     # the last kind read from each process's command line
        self.samples, self.others = 0, 0    # the most processes of other runs seen at once
        self._snap = None
        # a long-lived process (a warm driver, a server) counts from now on
        self.base = {pid: cpu_s(pid) or 0.0 for pid in tree(root) + self.extra}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()
        return False

    def sample(self) -> None:
        pids = tree(self.root)
        for pid in pids:
            if pid not in self.seen and pid not in self.base:
                self.seen[pid] = self._kind(pid)
        for pid in pids + self.extra:
            t = cpu_s(pid)
            if t is not None:   # (a process gone keeps its last sample)
                kind = "server" if pid in self.extra else self._kind(pid)
                self.cpu[pid] = (kind, t - self.base.get(pid, 0.0))
        self.samples += 1
        if self.samples % 4 == 1:      # every fourth sample: anything else competing for the CPU?
            mine = set(pids) | set(self.extra) | set(tree(os.getpid()))
            snap, now = cpu_snapshot(mine), time.monotonic()
            n = len(others(mine))
            if self._snap is not None:
                n += hogs(self._snap[0], snap, max(now - self._snap[1], 0.1))
            self._snap = (snap, now)
            self.others = max(self.others, n)
        if self.memory:
            by: dict[str, int] = {}
            for pid in pids:
                k = self._kind(pid)
                by[k] = by.get(k, 0) + pss_kib(pid)
            if sum(by.values()) > self.peak_kib:
                self.peak_kib, self.peak_by_kind = sum(by.values()), by
            self.main_hwm_kib = max(self.main_hwm_kib, hwm_kib(self.root))

    def _kind(self, pid: int) -> str:
        """The process's kind from its command line now, or as last known when it has none (it
        exited: a temporary server's last CPU sample, taken as a zombie, was counted as a worker's)."""
        k = kind_of(pid, self.root)
        if k == "other":
            return self.kinds.get(pid, "workers")
        self.kinds[pid] = k
        return k

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def cpu_by_kind(self) -> dict:
        out = {"main": 0.0, "server": 0.0, "workers": 0.0}
        for kind, t in self.cpu.values():
            out[kind if kind in out else "workers"] += t
        return {k: round(v, 2) for k, v in out.items()}

    def started(self) -> dict:
        """Processes the tree started while watched, by kind."""
        out: dict[str, int] = {}
        for kind in self.seen.values():
            out[kind] = out.get(kind, 0) + 1
        return out

    def memory_mib(self) -> dict:
        return {"tree_mib": round(self.peak_kib / 1024, 1), "main_hwm_mib": round(self.main_hwm_kib / 1024, 1),
                "by_kind_mib": {k: round(v / 1024, 1) for k, v in self.peak_by_kind.items()}}


def run_watched(cmd: list[str], cwd: Path, env: dict, every: float = 0.25, memory: bool = False,
                extra: list[int] | None = None, timeout: float = 3600) -> dict:
    """cmd in a fresh process: wall time, exit code, its output lines with the seconds at which
    each arrived, CPU by kind of process, the tree's CPU from wait4 (the process and the children it
    reaped), and (memory=True) its peak PSS."""
    waited = gate()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", bufsize=1)
    lines: list[tuple[float, str]] = []
    with Watch(proc.pid, every, memory, extra) as w:
        reader = threading.Thread(target=lambda: [lines.append((time.perf_counter() - t0, ln.rstrip("\n")))
                                                  for ln in proc.stdout], daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join(timeout=10)
    out = {"wall_s": round(wall, 3), "rc": proc.returncode, "lines": lines, "cpu_by_kind": w.cpu_by_kind(),
           "cpu_tree_s": round(usage.ru_utime + usage.ru_stime, 2), "started": w.started(),
           "others": max(w.others, waited)}
    if memory:
        out.update(w.memory_mib())
    return out
