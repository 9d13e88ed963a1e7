"""Stage 2, per chunk of source files: clean -> split -> extract -> panel, staged as segments.

One task run per chunk (`process chunk <i>`), so a task runner (threads, Dask) spreads the work
and the run pays Prefect's per-task cost a few times, not once per file. The work itself is
flows/work.py process_sources, without Prefect: it reads each source's items from bronze (the
lake is the only input, never the source again), runs the core per source (a source that fails
a stage is quarantined, the others go on) and STAGES the chunk's rows as one segment per table
(Lake.stage_segment): nothing of a run is held in memory beyond a chunk, and the flow gets back
counts and rejects only. With the thread runner and a large input, the work runs in a worker
process (flows/pool.py): two chunks on two cores.

What is done again is decided by the lake, not by a cache: a source is processed when the lake's
source index does not hold it with the same sha256 and the same CODE VERSION (a hash of
flows/core/*.py, flows/vocab/*.csv and the shell code that calls them): a changed file or a
changed extractor runs again, everything else is left as it is.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from . import pool, work
from .work import ChunkResult, Fetched, SourceResult, describe, items_of, run_core  # noqa: F401

HERE = Path(__file__).resolve().parent
# what the result of a source depends on besides its bytes
CODE_FILES = ("core/*.py", "vocab/*.csv", "__init__.py", "process.py", "work.py")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A short hash of the code and vocabulary the per-source stages run."""
    h = hashlib.sha256()
    for pattern in CODE_FILES:
        for p in sorted(HERE.glob(pattern)):
            h.update(p.relative_to(HERE).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@task(name="process", task_run_name="process chunk {index} ({n} files)", cache_policy=NO_CACHE,
      persist_result=False)
def process_chunk(sources: list[tuple[str, str]], run_id: str, code_version: str, lake: str,
                  index: int = 1, n: int = 0, in_pool: bool = False) -> ChunkResult:
    """clean -> split -> extract -> panel for the (source_name, sha256) of one chunk (their items
    read from bronze); the rows staged as one segment per table of the run. in_pool: the work
    runs in a worker process (flows/pool.py)."""
    out = (pool.run(work.process_sources, sources, run_id, lake) if in_pool
           else work.process_sources(sources, run_id, lake))
    logger = get_run_logger()
    for s in out.sources:
        logger.debug("%s: %s", s["source_name"], describe(s["stats"]))
    logger.info("%d source(s): %s (%.2f s%s)", len(sources), describe(out.stats),
                out.stats["seconds"], ", in a worker process" if in_pool else "")
    return out


def holds(entry: dict | None, sha256: str, version: str) -> bool:
    """Whether a lake's source-index entry says its rows are of these bytes and this code."""
    return bool(entry) and entry.get("sha256") == sha256 and entry.get("code_version") == version


@task(name="process", task_run_name="process chunk {index} ({n} files)", cache_policy=NO_CACHE,
      persist_result=False)
def process_fetched(fetched: list[Fetched], held: dict, run_id: str, code_version: str, lake: str,
                    index: int = 1, n: int = 0, in_pool: bool = False) -> ChunkResult:
    """process_chunk on what one fetch task read, as soon as it has (the flow passes that task's
    future: the chunks go from fetch to process one by one, no chunk waits for the slowest
    fetch): its usable files whose rows the lake does not hold from these bytes and this code
    (`held`: the lake's source-index entries of the chunk's files)."""
    sources = [(f.source_name, f.sha256) for f in fetched
               if f.ok and not holds(held.get(f.source_name), f.sha256, code_version)]
    if not sources:
        get_run_logger().info("nothing to process: the lake holds these sources' rows")
        return ChunkResult(stats={"seconds": 0.0})
    return process_chunk.fn(sources, run_id, code_version, lake, index, n, in_pool)
