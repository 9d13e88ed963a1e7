"""Stage 1: plan what to read, then read it: bytes (a local file, or an http(s) URL with retries)
keyed by sha256, new ones landed in bronze (append-only).

    plan     which sources the lake does not hold yet, or holds from other bytes or from other
             code: the lake's source index (Lake.source_index) says, per source, the sha256,
             size, mtime and code version its live rows came from. A local file whose size and
             mtime are unchanged is not even read; one whose stat changed is hashed.
    fetch    one task run per CHUNK of sources (flows/fetch.py chunks: up to 32 MiB each, at
             least two when there is work for two): read, hash, decode, land in bronze.

A file whose bytes are already in bronze is not decoded nor written again. Anything unusable
becomes a quarantine record; the run goes on.
"""
from __future__ import annotations

import os

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from . import pool, remote, work
from .core.model import SourceError
from .lake import Lake, list_source_files
from .work import Fetched, Planned, _reject, fetch_one, land, land_all  # noqa: F401  (the work, no Prefect)


def list_sources(source: str) -> list[tuple[str, str]]:
    """(source_name, location) of every input: the files under a folder, one file, or a URL."""
    if remote.is_url(source):
        return [(remote.source_name(source), source)]
    return [(name, str(path)) for name, path in list_source_files(source)]


def _log(out: Fetched) -> Fetched:
    logger = get_run_logger()
    if out.ok:
        logger.info("fetched %s: %d item(s), %s bytes, %s, %s", out.source_name, out.items,
                    f"{out.byte_size:,}", out.encoding, "new in bronze" if out.new else "already in bronze")
    for r in out.rejects:
        logger.error("QUARANTINED %s at fetch: %s", out.source_name, r["reason"])
    return out


# A chunk is one fetch and one process task run, and its rows one segment per table: with the
# year partitions, ~30 Parquet files per segment of a gold table, each written, read back and
# audited, then linked at every publish and opened by every reader of the table; and a task
# run's orchestration. Larger chunks pay these fewer times, smaller ones hold less in a worker's
# memory. 32 MiB (~600 reports of ~50 KB) against 16 MiB, on 2,000 reports (bench/RESULTS.md):
# 4 chunks instead of 8, half the files, the run ~0.5 s faster; peak memory up to +175 MiB.
CHUNK_BYTES = int(os.environ.get("GWR_CHUNK_BYTES") or 32 * 1024 * 1024)


def chunks(todo: list, parts: int = 2, chunk_bytes: int | None = None) -> list[list]:
    """Sources -> chunks of about equal bytes: at most chunk_bytes each (a chunk is one task run,
    its rows one segment per table), and a multiple of `parts` chunks when there are that many
    sources (so every worker gets work in every round). Order is kept: the same sources make the
    same chunks."""
    if not todo:
        return []
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    def size(p) -> int:
        return max(getattr(p, "size", None) or getattr(p, "byte_size", 0) or 0, 1)

    total = sum(size(p) for p in todo)
    n = max(min(parts, len(todo)), -(-total // chunk_bytes))
    # a multiple of `parts`: the workers run the chunks in rounds, and a last round of fewer
    # chunks than workers leaves a worker idle (7 chunks on 2 workers: 4 rounds, the last half
    # empty; 8 smaller ones: 4 full rounds)
    n = min(len(todo), -(-n // parts) * parts)
    target = total / n
    out: list[list] = [[]]
    acc = 0
    for p in todo:
        if out[-1] and acc + size(p) / 2 > target * len(out) and len(out) < n:
            out.append([])
        out[-1].append(p)
        acc += size(p)
    return out


@task(name="plan", cache_policy=NO_CACHE, persist_result=False)
def plan(sources: list[tuple[str, str]], lake: str, code_version: str) -> dict:
    """Which local files to read: those the lake's source index does not hold with the same
    size, mtime and code version. -> {todo: [Planned], unchanged: [source_name]}"""
    index = Lake(lake).source_index()
    todo, unchanged = [], []
    for name, loc in sources:
        try:
            st = os.stat(loc)
        except OSError:
            todo.append(Planned(name, loc))   # fetch says what is wrong with it
            continue
        have = index.get(name) or {}
        if (have.get("size"), have.get("mtime_ns"), have.get("code_version")) == \
                (st.st_size, st.st_mtime_ns, code_version):
            unchanged.append(name)
        else:
            todo.append(Planned(name, loc, st.st_size, st.st_mtime_ns))
    get_run_logger().info("plan: %d source(s), %d unchanged in the lake, %d to read",
                          len(sources), len(unchanged), len(todo))
    return {"todo": todo, "unchanged": unchanged}


@task(name="fetch", task_run_name="fetch chunk {index} ({n} files)", cache_policy=NO_CACHE,
      persist_result=False)
def fetch_chunk(chunk: list[Planned], lake: str, index: int = 1, n: int = 0,
                in_pool: bool = False) -> list[Fetched]:
    """Local files -> bronze, one chunk of them (in_pool: in a worker process, flows/pool.py)."""
    out = pool.run(work.fetch_files, chunk, lake) if in_pool else work.fetch_files(chunk, lake)
    logger = get_run_logger()
    landed = [f for f in out if f.ok]
    logger.info("fetched %d file(s), %s bytes: %d new in bronze, %d already there, %d quarantined",
                len(out), f"{sum(f.byte_size for f in out):,}", sum(f.new for f in landed),
                sum(not f.new for f in landed), len(out) - len(landed))
    for f in out:
        for r in f.rejects:
            logger.error("QUARANTINED %s at fetch: %s", f.source_name, r["reason"])
    return out


def _transient(task, task_run, state) -> bool:
    """Retry a download only when another attempt may succeed."""
    return isinstance(getattr(state, "data", None), remote.TransientHTTPError)


@task(name="download", task_run_name="download {name}", cache_policy=NO_CACHE, persist_result=False,
      retries=3, retry_delay_seconds=exponential_backoff(1.0), retry_jitter_factor=0.2,
      retry_condition_fn=_transient)
def download(name: str, url: str, lake: str) -> list[Fetched]:
    """An http(s) source -> bronze (an archive: each of its files). Raises TransientHTTPError to
    be retried (Prefect retries)."""
    try:
        got_name, data = remote.download(url)
    except SourceError as exc:  # not worth a retry: quarantined at once
        out = Fetched(name, url)
        _reject(out, exc)
        return [_log(out)]
    return [_log(f) for f in land_all(got_name, url, data, lake)]


def download_task():
    """download with the retries of the environment (GWR_HTTP_RETRIES, GWR_HTTP_BACKOFF_S)."""
    opts = remote.HttpOptions.from_env()
    return download.with_options(retries=opts.retries,
                                 retry_delay_seconds=exponential_backoff(opts.backoff_s)(max(opts.retries, 1)))


def failed_fetch(name: str, location: str, exc: BaseException) -> Fetched:
    """The record of a fetch that raised (a download whose every attempt failed)."""
    out = Fetched(name, location)
    _reject(out, exc)
    get_run_logger().error("QUARANTINED %s at fetch: %s", name, out.rejects[0]["reason"])
    return [out]
