"""Every knob of a run in one typed object. The flow takes it as a parameter (the Prefect UI shows
it as a form), the command line builds it from its arguments, and a deployment from the
environment (Settings.from_env: GWR_<FIELD> in upper case, e.g. GWR_WORKERS=0). Nothing else in
the project reads GWR_* variables, except the crash-test hooks of flows/runtime/faults.py.
"""
from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field

MiB = 1024 * 1024


class Settings(BaseModel):
    source: str = Field("seeds", description="where the reports are: a folder, a file, an http(s) URL, an "
                        "fsspec URL (s3://bucket/prefix/), or a source list (.csv / .yaml)")
    lake: str = Field("lake", description="the lake: a folder or an fsspec URL (s3://bucket/lake)")
    expectations: str | None = Field(None, description="a folder of Great Expectations suites "
                                     "(default: expectations/ of the project)")
    corrections: str | None = Field(None, description="an analysts' corrections CSV applied at publish "
                                    "(default: <lake>/corrections.csv when it exists)")
    task_runner: Literal["thread", "dask"] = Field("thread", description="thread: Prefect's threads, the "
                                                   "CPU work in the worker processes; dask: a Dask cluster")
    dask_address: str | None = Field(None, description="a Dask scheduler (tcp://host:8786); none: a local "
                                     "cluster")
    workers: int | None = Field(None, ge=0, description="worker processes for the CPU work with the thread "
                                "runner (none: one per CPU; 0: none, the work runs in the task's thread)")
    chunk_bytes: int = Field(32 * MiB, gt=0, description="sources per task run, in bytes of input")
    max_source_bytes: int = Field(32 * MiB, gt=0, description="a source file over this is quarantined "
                                  "unread")
    http_timeout_s: float = Field(30.0, gt=0, description="connect / read timeout of a download")
    http_max_bytes: int = Field(50_000_000, gt=0, description="a download over this is quarantined")
    http_retries: int = Field(3, ge=0, description="retries of a download that may succeed next time")
    http_backoff_s: float = Field(1.0, ge=0, description="first wait between retries (doubles)")
    retry_after_max_s: float = Field(300.0, ge=0, description="longest Retry-After a download waits")
    lock_timeout_s: float = Field(3600.0, ge=0, description="how long a run waits for another run's lock "
                                  "on a local lake")
    attainment_tolerance: float = Field(0.5, ge=0, description="percentage points within which a rate "
                                        "qualified 左右 (about) counts as met_about")
    retention_days: float = Field(30.0, ge=0, description="flows vacuum keeps every version younger than "
                                  "this (and every tagged one)")
    check_rows: int = Field(60_000, gt=0, description="rows per validation batch")

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        """Settings from GWR_<FIELD> variables (and keyword overrides, which win)."""
        env = os.environ if env is None else env
        values = {}
        for name in cls.model_fields:
            raw = env.get(f"GWR_{name.upper()}")
            if raw not in (None, ""):
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def input_options(self):
        from .inputs import InputOptions

        return InputOptions(max_source_bytes=self.max_source_bytes, http_timeout_s=self.http_timeout_s,
                            http_max_bytes=self.http_max_bytes, http_retries=self.http_retries,
                            http_backoff_s=self.http_backoff_s, retry_after_max_s=self.retry_after_max_s)
