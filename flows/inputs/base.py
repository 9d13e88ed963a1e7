"""The types of flows.inputs, exported by the package: Source, Fetched, InputOptions, InputError."""
from __future__ import annotations

from dataclasses import dataclass, field


class InputError(ValueError):
    """A spec (folder, URL, prefix, source list) that cannot be listed; the message says why."""


@dataclass
class Source:
    """One thing to read: a local file, an http(s) URL or an object behind an fsspec URL."""
    name: str                  # stable source_name: relative posix path, key, or URL-derived name
    location: str              # a local path, an http(s) URL or an fsspec URL
    kind: str                  # "local" | "http" | "fsspec"
    size: int | None = None    # from a stat or an object listing, when it was cheap
    mtime_ns: int | None = None
    etag: str | None = None    # the object store's ETag, when listed
    region: str | None = None  # hints from a source list, for metadata the text leaves out
    year: int | None = None


@dataclass
class Fetched:
    """What reading one source gave. data is None when the source has not changed since the
    validators passed as `known` (HTTP 304, or the same ETag)."""
    source: Source
    data: bytes | None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None   # http(s) only: the Content-Type the server sent


@dataclass(frozen=True)
class InputOptions:
    """The limits of reading. Settings builds one; nothing here reads the environment except
    the object store clients, which take the usual AWS_* variables."""
    max_source_bytes: int = 32 * 1024 * 1024   # local files and fsspec objects
    http_timeout_s: float = 30.0               # connect / read timeout; a download has 4x overall
    http_max_bytes: int = 50_000_000
    http_retries: int = 3                      # the caller's retries of a TransientHTTPError
    http_backoff_s: float = 1.0                # the caller's first backoff (then 2x, 4x, ...)
    retry_after_max_s: float = 120.0           # the longest Retry-After that is honoured
    storage_options: dict = field(default_factory=dict)   # fsspec options (key, endpoint_url...)
