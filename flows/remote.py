"""Remote sources: one http(s) URL (a web page or a file) -> (name, bytes).

A download has a connect/read timeout, an overall deadline and a size cap (checked against
Content-Length first, then while streaming). Errors are sorted for the caller's retries:
TransientHTTPError (timeouts, connection errors, 5xx, 408, 429) is worth another try,
SourceError (4xx, too large) is not. The retries and their backoff are the Prefect task's
(flows/fetch.py: `download`), so each attempt shows in the UI.

Limits come from the environment: GWR_HTTP_TIMEOUT_S (default 30), GWR_HTTP_MAX_BYTES
(50 MB), GWR_HTTP_RETRIES (3), GWR_HTTP_BACKOFF_S (1: waits 1, 2, 4 ... s, with jitter).
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from .core.model import SourceError

SUFFIX_OF_TYPE = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt",
                  "text/csv": ".csv", "application/json": ".json", "application/x-ndjson": ".jsonl",
                  "application/jsonl": ".jsonl"}


class TransientHTTPError(RuntimeError):
    """A failure that another attempt may not have."""


def is_url(source: str) -> bool:
    return str(source).startswith(("http://", "https://"))


@dataclass
class HttpOptions:
    timeout_s: float = 30.0
    max_bytes: int = 50_000_000
    retries: int = 3
    backoff_s: float = 1.0

    @classmethod
    def from_env(cls) -> "HttpOptions":
        env = os.environ.get
        return cls(timeout_s=float(env("GWR_HTTP_TIMEOUT_S", cls.timeout_s)),
                   max_bytes=int(env("GWR_HTTP_MAX_BYTES", cls.max_bytes)),
                   retries=int(env("GWR_HTTP_RETRIES", cls.retries)),
                   backoff_s=float(env("GWR_HTTP_BACKOFF_S", cls.backoff_s)))


def source_name(url: str, content_type: str = "") -> str:
    """A file name for a URL: its last path segment, with a suffix from the content type when
    it has none (a page at https://host/a/b/ -> host_a_b.html)."""
    u = urlparse(url)
    path = unquote(u.path).rstrip("/")
    name = path.rsplit("/", 1)[-1] if path else ""
    if not name or "." not in name:
        name = "_".join(p for p in [u.hostname or "remote", *path.strip("/").split("/")] if p)
        name += SUFFIX_OF_TYPE.get(content_type.split(";")[0].strip().lower(), ".html")
    return re.sub(r"[^\w.\-]+", "_", name)


def download(url: str, opts: HttpOptions | None = None) -> tuple[str, bytes]:
    """GET the URL: (source name, body bytes). Raises TransientHTTPError or SourceError."""
    import httpx

    opts = opts or HttpOptions.from_env()
    deadline = time.monotonic() + 4 * opts.timeout_s
    try:
        with httpx.Client(timeout=httpx.Timeout(opts.timeout_s), follow_redirects=True,
                          headers={"User-Agent": "gwr-lake/0.1 (+https://pypi.org/project/prefect/)"}) as client:
            with client.stream("GET", url) as r:
                if r.status_code >= 500 or r.status_code in (408, 429):
                    raise TransientHTTPError(f"HTTP {r.status_code} from {url}")
                if r.status_code >= 400:
                    raise SourceError(f"HTTP {r.status_code} from {url}", code=f"http_{r.status_code}")
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > opts.max_bytes:
                    raise SourceError(f"{url} is {int(declared):,} bytes, over the cap of "
                                      f"{opts.max_bytes:,} (GWR_HTTP_MAX_BYTES)", code="too_large")
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > opts.max_bytes:
                        raise SourceError(f"{url} is over the cap of {opts.max_bytes:,} bytes "
                                          "(GWR_HTTP_MAX_BYTES)", code="too_large")
                    if time.monotonic() > deadline:
                        raise TransientHTTPError(f"{url}: download took over {4 * opts.timeout_s:g} s")
                return source_name(str(r.url), r.headers.get("content-type", "")), bytes(body)
    except httpx.TimeoutException as e:
        raise TransientHTTPError(f"timeout after {opts.timeout_s:g} s: {url} ({type(e).__name__})") from e
    except httpx.TransportError as e:
        raise TransientHTTPError(f"{type(e).__name__}: {e} ({url})") from e
