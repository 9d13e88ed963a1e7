"""Stage 1, per source file: read its bytes (a local file, or an http(s) URL with retries),
key them by sha256 and land new ones in bronze (append-only).

A file whose bytes are already in bronze is not decoded nor written again: its items are read
back from bronze. Anything unusable becomes a quarantine record; the run goes on.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from . import remote
from .core.model import SourceError
from .lake import SOURCE_SUFFIXES, Lake, list_source_files, read_source
from .schemas import to_table


@dataclass
class Fetched:
    source_name: str
    location: str               # path or URL it was read from
    sha256: str = ""
    byte_size: int = 0
    items: int = 0
    encoding: str = ""
    new: bool = False           # True when this run landed it in bronze
    bronze: pa.Table | None = None   # its source_items rows (for the run's validation batch)
    rejects: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bronze is not None


def list_sources(source: str) -> list[tuple[str, str]]:
    """(source_name, location) of every input: the files under a folder, one file, or a URL."""
    if remote.is_url(source):
        return [(remote.source_name(source), source)]
    return [(name, str(path)) for name, path in list_source_files(source)]


def _reject(out: Fetched, exc: BaseException, item_index: int | None = None) -> None:
    if isinstance(exc, SourceError):
        reason, error = exc.reason, exc.code
    else:
        reason, error = f"{type(exc).__name__}: {exc}", type(exc).__name__
    out.rejects.append(dict(source_name=out.source_name, item_index=item_index, stage="fetch",
                            reason=reason[:2000], error=error, sha256=out.sha256))


def land(name: str, location: str, data: bytes, lake: str) -> Fetched:
    """Bytes of one source file -> bronze (when new) and a Fetched record."""
    from .core.sources import read_items_with_errors, screen_items

    out = Fetched(name, location, hashlib.sha256(data).hexdigest(), len(data))
    lk = Lake(lake)
    try:
        if Path(name).suffix.lower() not in SOURCE_SUFFIXES:
            raise SourceError(f"unsupported file type {Path(name).suffix or '(none)'}: expected one "
                              f"of {' '.join(SOURCE_SUFFIXES)}", code="unsupported_type")
        if lk.has_bronze(out.sha256):  # already landed: no decoding, no write
            bronze = lk.read_bronze(out.sha256)
            out.bronze = bronze.set_column(bronze.schema.get_field_index("source_name"),
                                           "source_name", pa.array([name] * bronze.num_rows))
            out.items = bronze.num_rows
            out.encoding = bronze["encoding"][0].as_py() if bronze.num_rows else ""
            return out
        items, errors = screen_items(*read_items_with_errors(name, data))  # no Chinese / no number: out
        for err in errors:  # bad records of a file that has good ones
            _reject(out, err, getattr(err, "item_index", None))
        if not items:
            raise SourceError(f"{name}: no usable item" + (f" ({len(errors)} record(s) rejected)"
                                                           if errors else " (empty?)"), code="no_items")
        fetched_at = datetime.now(timezone.utc)
        out.bronze = to_table("source_items", [dict(vars(it), sha256=out.sha256, byte_size=len(data),
                                                    fetched_at=fetched_at) for it in items])
        out.new = lk.write_bronze(out.sha256, out.bronze)
        out.items, out.encoding = len(items), items[0].encoding
    except Exception as exc:  # noqa: BLE001 - every failure becomes a quarantine record
        out.bronze = None
        _reject(out, exc)
    return out


def _log(out: Fetched) -> Fetched:
    logger = get_run_logger()
    if out.ok:
        logger.info("fetched %s: %d item(s), %s bytes, %s, %s", out.source_name, out.items,
                    f"{out.byte_size:,}", out.encoding, "new in bronze" if out.new else "already in bronze")
    for r in out.rejects:
        logger.error("QUARANTINED %s at fetch: %s", out.source_name, r["reason"])
    return out


@task(name="fetch", task_run_name="fetch {name}", cache_policy=NO_CACHE, persist_result=False)
def fetch_file(name: str, location: str, lake: str) -> Fetched:
    """A local file -> bronze."""
    try:
        data = read_source(Path(location))
    except (OSError, SourceError) as exc:  # unreadable, a link, a FIFO, over the size limit
        out = Fetched(name, location, getattr(exc, "sha256", ""))
        _reject(out, exc)
        return _log(out)
    return _log(land(name, location, data, lake))


def _transient(task, task_run, state) -> bool:
    """Retry a download only when another attempt may succeed."""
    return isinstance(getattr(state, "data", None), remote.TransientHTTPError)


@task(name="download", task_run_name="download {name}", cache_policy=NO_CACHE, persist_result=False,
      retries=3, retry_delay_seconds=exponential_backoff(1.0), retry_jitter_factor=0.2,
      retry_condition_fn=_transient)
def download(name: str, url: str, lake: str) -> Fetched:
    """An http(s) source -> bronze. Raises TransientHTTPError to be retried (Prefect retries)."""
    try:
        got_name, data = remote.download(url)
    except SourceError as exc:  # not worth a retry: quarantined at once
        out = Fetched(name, url)
        _reject(out, exc)
        return _log(out)
    return _log(land(got_name, url, data, lake))


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
    return out
