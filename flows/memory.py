"""Give freed memory back to the OS between the large steps of a run.

A run streams the lake chunk by chunk and batch by batch, but the allocators keep what they
freed: Arrow's memory pool (jemalloc / mimalloc) holds released buffers, and glibc's malloc
keeps freed heap pages, one arena per thread. Without this the resident size of a run grows
with the number of batches it went through, not with the largest one. release() after a chunk,
a validation batch or the BI tables returns both to the OS (tests: bench/run.py --only memory).
"""
from __future__ import annotations

import ctypes
import gc


def settle() -> None:
    """After the big imports (Prefect, Great Expectations): move every object alive now out of
    the garbage collector's sight (gc.freeze). A full collection then walks only what the run
    made since: ~0.2 ms instead of ~0.2 s with Prefect and GX loaded. No collection first (it
    would cost those 0.2 s at every run's start): what little garbage gets frozen is freed after
    unsettle()."""
    gc.freeze()


def unsettle() -> None:
    """The end of a run: what settle() froze is collectable again (a serving process runs many)."""
    gc.unfreeze()


def release() -> None:
    # GX's results and pandas frames hold reference cycles: without a collection they pile up
    # batch after batch (peak RSS 1,334 vs 1,035 MiB for 10,000 reports)
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - best effort
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def releases(fn):
    """Mark a job function that ends with release(): a worker process (flows/pool.py) that ran it
    does not release again (~15-20 ms per job, a full collection and a trim)."""
    fn.releases_memory = True
    return fn
