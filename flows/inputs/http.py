"""http(s) sources: one URL (a web page or a file) -> its bytes, with a conditional GET.

A download has a connect/read timeout (opts.http_timeout_s), an overall deadline of four times
that, and a size cap (opts.http_max_bytes: checked against Content-Length first, then while
streaming). The validators of the last download (`known`: {"etag", "last_modified"}) are sent
as If-None-Match / If-Modified-Since; a 304 gives Fetched(data=None).

Errors are sorted for the caller's retries: TransientHTTPError (timeouts, connection errors,
5xx, 408, 429) is worth another try, and on 429 and 503 carries the wait the server asked for in
Retry-After (seconds or an HTTP date, at most opts.retry_after_max_s) as .retry_after_s;
SourceError (other 4xx, too large, a URL that cannot be fetched) is not. The retries themselves
are the caller's, so that each attempt shows where the caller runs it.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlparse

from ..core.model import SourceError
from .base import Fetched, InputOptions, Source

USER_AGENT = "gwr-lake/0.1 (+https://pypi.org/project/prefect/)"
SUFFIX_OF_TYPE = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt",
                  "text/csv": ".csv", "application/json": ".json", "application/x-ndjson": ".jsonl",
                  "application/jsonl": ".jsonl"}


class TransientHTTPError(RuntimeError):
    """A failure that another attempt may not have. retry_after_s: how long the server asked
    the client to wait (Retry-After on 429 / 503, capped), or None."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def is_url(source: str) -> bool:
    """True for an http(s) URL."""
    return str(source).startswith(("http://", "https://"))


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


def retry_after_s(value: str | None, cap: float, now: datetime | None = None) -> float | None:
    """The wait a Retry-After header asks for, in seconds (0 for a date in the past), at most
    cap; None when there is no header or it cannot be read."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


def _conditional(known: dict | None) -> dict:
    """If-None-Match / If-Modified-Since headers from the validators of the last download."""
    known = known or {}
    headers = {}
    if known.get("etag"):
        headers["If-None-Match"] = known["etag"]
    if known.get("last_modified"):
        headers["If-Modified-Since"] = known["last_modified"]
    return headers


def _check_status(r, url: str, opts: InputOptions, conditional: bool) -> None:
    """Raise for a response that carries no body to use (a 304 is the caller's)."""
    code = r.status_code
    if code >= 500 or code in (408, 429):
        wait = retry_after_s(r.headers.get("retry-after"), opts.retry_after_max_s) \
            if code in (429, 503) else None
        asked = f" (Retry-After: {wait:g} s)" if wait is not None else ""
        raise TransientHTTPError(f"HTTP {code} from {url}{asked}", retry_after_s=wait)
    if code == 304 and not conditional:
        raise SourceError(f"HTTP 304 (not modified) from {url} for a request that was not "
                          "conditional; the server's cache is confused.", code="http_304")
    if code >= 400 or (300 <= code < 400 and code != 304):
        raise SourceError(f"HTTP {code} from {url}", code=f"http_{code}")


def _body(r, url: str, opts: InputOptions, deadline: float) -> bytes:
    """The response body, under the size cap and the overall deadline."""
    cap = opts.http_max_bytes
    declared = r.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise SourceError(f"{url} is {int(declared):,} bytes, over the cap of {cap:,} "
                          "(http_max_bytes)", code="too_large")
    body = bytearray()
    for chunk in r.iter_bytes():
        body += chunk
        if len(body) > cap:
            raise SourceError(f"{url} is over the cap of {cap:,} bytes (http_max_bytes)",
                              code="too_large")
        if time.monotonic() > deadline:
            raise TransientHTTPError(f"{url}: download took over {4 * opts.http_timeout_s:g} s")
    return bytes(body)


def read_http(src: Source, opts: InputOptions, known: dict | None = None) -> Fetched:
    """read() for an http(s) Source: GET it (conditional when `known` has validators). Raises
    TransientHTTPError or SourceError."""
    import httpx

    url, timeout = src.location, opts.http_timeout_s
    conditional = _conditional(known)
    headers = {"User-Agent": USER_AGENT} | conditional
    deadline = time.monotonic() + 4 * timeout
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True,
                          headers=headers) as client:
            with client.stream("GET", url) as r:
                _check_status(r, url, opts, bool(conditional))
                etag, modified = r.headers.get("etag"), r.headers.get("last-modified")
                if r.status_code == 304:
                    return Fetched(src, None, etag or (known or {}).get("etag"),
                                   modified or (known or {}).get("last_modified"))
                return Fetched(src, _body(r, url, opts, deadline), etag, modified,
                               r.headers.get("content-type"))
    except httpx.TimeoutException as e:
        raise TransientHTTPError(f"timeout after {timeout:g} s: {url} ({type(e).__name__})") from e
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as e:
        raise SourceError(f"{url} cannot be fetched: {e}", code="bad_url") from e
    except httpx.DecodingError as e:
        raise SourceError(f"{url}: the body cannot be decoded as its Content-Encoding says ({e})",
                          code="bad_encoding") from e
    except httpx.TransportError as e:
        raise TransientHTTPError(f"{type(e).__name__}: {e} ({url})") from e
