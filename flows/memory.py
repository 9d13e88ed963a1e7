"""Give freed memory back to the OS between the large steps of a run.

A run streams the lake chunk by chunk and batch by batch, but the allocators keep what they
freed: Arrow's memory pool (jemalloc / mimalloc) holds released buffers, and glibc's malloc
keeps freed heap pages, one arena per thread. Without this the resident size of a run grows
with the number of batches it went through, not with the largest one. release() after a chunk,
a validation batch or the BI tables returns both to the OS (tests: bench/run.py --only memory).
"""
from __future__ import annotations

import ctypes


def release() -> None:
    # no gc.collect(): the batches are freed by reference counting, and a full collection costs
    # ~0.2 s with Prefect and GX loaded (it was 4.6 s of a 2,000-report run)
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - best effort
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
