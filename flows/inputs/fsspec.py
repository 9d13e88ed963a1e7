"""Sources behind an fsspec URL: s3://bucket/prefix/, memory://..., gs://..., zip::s3://....

Listing a prefix finds every object under it (fs.find(..., detail=True)) with its size, ETag
and modification time; an object is named by its key relative to the prefix (posix), an object
given by its own URL by its base name. Hidden objects (a key part that starts with a dot) and
folder markers are skipped. Reading opens the object under opts.max_source_bytes (refused from
the listed size when it is over, and checked again while reading).

The filesystem takes opts.storage_options (key, secret, endpoint_url, client_kwargs, ...); the
object store clients also read the usual environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, AWS_PROFILE ...). fsspec keeps one filesystem per set of
storage options (per process and thread).
"""
from __future__ import annotations

import posixpath
from datetime import datetime

from ..core.model import SourceError
from .base import Fetched, InputError, InputOptions, Source
from .http import TransientHTTPError


def _fs(url: str, opts: InputOptions):
    """(filesystem, path) of an fsspec URL."""
    import fsspec

    return fsspec.core.url_to_fs(url, **opts.storage_options)


def _mtime_ns(info: dict) -> int | None:
    """The modification time of an fsspec info dict in ns (s3 LastModified, gcs updated, local
    mtime, memory created), or None."""
    for key in ("LastModified", "last_modified", "mtime", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
        if isinstance(value, datetime):
            return (int(value.timestamp()) * 1_000_000_000) + value.microsecond * 1000
        if isinstance(value, (int, float)):
            return int(value * 1_000_000_000)
    return None


def _etag(info: dict) -> str | None:
    value = info.get("ETag") or info.get("etag") or info.get("md5Hash")
    return str(value) if value else None


def list_prefix(url: str, opts: InputOptions) -> list[Source]:
    """A Source for every object under an fsspec URL (or the one object it names), sorted by
    name. Raises InputError when it cannot be listed or nothing is there."""
    try:
        fs, root = _fs(url, opts)
        root = root.rstrip("/")
        fs.invalidate_cache(root)
        found = fs.find(root, detail=True)
    except Exception as e:  # the store's client raises its own types (botocore, gcsfs ...)
        raise InputError(f"cannot list {url}: {type(e).__name__}: {e}") from e
    out = []
    for path, info in found.items():
        if info.get("type", "file") != "file" or path.endswith("/"):
            continue
        if path.rstrip("/") == root:
            name, location = posixpath.basename(root), url
        else:
            name = path[len(root) + 1:] if path.startswith(root + "/") else posixpath.basename(path)
            location = url.rstrip("/") + "/" + name
        if any(part.startswith(".") for part in name.split("/")):
            continue
        out.append(Source(name, location, "fsspec", info.get("size"), _mtime_ns(info), _etag(info)))
    if not out and not found:
        raise InputError(f"nothing to read at {url}: no object under that prefix (a bucket or "
                         "prefix that does not exist, or an empty one).")
    return sorted(out, key=lambda s: s.name)


def _too_large(src: Source, size: int | None, limit: int) -> SourceError:
    said = f"{size:,} bytes, " if size is not None else ""
    return SourceError(
        f"{src.name} is {said}over the {limit:,}-byte limit for one source file "
        "(max_source_bytes), so it was not read: a government work report is a few hundred KB. "
        "Split it, or raise the limit if the machine has the memory for it.", "too_large")


def read_object(src: Source, opts: InputOptions, known: dict | None = None) -> Fetched:
    """read() for an fsspec Source: the object's bytes under opts.max_source_bytes; data None
    when its ETag is the one in `known`. Raises SourceError (gone, forbidden, too large) or
    TransientHTTPError (another error of the store: worth a retry)."""
    limit = opts.max_source_bytes
    try:
        fs, path = _fs(src.location, opts)
    except (ValueError, ImportError) as e:  # an unknown protocol, its package not installed
        raise SourceError(f"{src.location} cannot be read: {e}", "bad_url") from e
    try:
        size, etag = src.size, src.etag
        if size is None or etag is None:
            info = fs.info(path)
            size, etag = info.get("size"), _etag(info)
        if etag and (known or {}).get("etag") == etag:
            return Fetched(src, None, etag)
        if size is not None and size > limit:
            raise _too_large(src, size, limit)
        with fs.open(path, "rb") as fh:
            data = fh.read(limit + 1)
            etag = _etag(getattr(fh, "details", None) or {}) or etag
    except SourceError:
        raise
    except FileNotFoundError as e:
        raise SourceError(f"{src.name} is no longer at {src.location} (removed since it was "
                          "listed).", "not_found") from e
    except PermissionError as e:
        raise SourceError(f"{src.name}: access denied to {src.location} ({e}); check the "
                          "credentials and the bucket policy.", "forbidden") from e
    except Exception as e:  # connection errors, throttling, the store's own error types
        raise TransientHTTPError(f"{type(e).__name__}: {e} ({src.location})") from e
    if len(data) > limit:
        raise _too_large(src, None, limit)
    return Fetched(src, data, etag)
