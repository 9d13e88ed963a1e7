"""Where reports come from: folders, files, fsspec URLs (s3://...), http(s) URLs and source lists.

    list_sources(spec, opts) -> [Source]      what there is to read (cheap: no body is read)
    read(src, opts, known)   -> Fetched       the bytes of one source, or None when `known`
                                              says they have not changed

A spec is a folder or a file (local.py), an http(s) URL (http.py), an fsspec URL such as
s3://bucket/prefix/ or memory://... (fsspec.py), or a source list: a CSV with a `location`
column or a YAML list (lists.py). Every Source has a stable name: a folder's files their path
relative to the folder, an fsspec prefix's objects their key relative to the prefix, a URL the
name http.source_name gives, a list entry the `name` it gives.

Reading never writes anything. A source that must not or cannot be used raises SourceError
(with a code: too_large, not_a_file, bad_name, not_found, http_404, ...); a failure that another
attempt may not have raises TransientHTTPError (with .retry_after_s when the server said how
long to wait); a spec that cannot be listed raises InputError. Every message is one sentence a
person can act on.
"""
from __future__ import annotations

import os

from ..core.model import SourceError
from .base import Fetched, InputError, InputOptions, Source
from .http import TransientHTTPError

__all__ = ["Source", "Fetched", "InputOptions", "InputError", "SourceError", "TransientHTTPError",
           "list_sources", "read", "kind_of"]


def kind_of(location: str) -> str:
    """The reader a location needs: http for an http(s) URL, fsspec for another URL (s3://,
    memory://, zip::...), local for a path or a file:// URL."""
    loc = str(location)
    if loc.startswith(("http://", "https://")):
        return "http"
    if loc.startswith("file://"):
        return "local"
    return "fsspec" if "://" in loc or "::" in loc else "local"


def list_sources(spec: str | os.PathLike, opts: InputOptions | None = None) -> list[Source]:
    """Every source a spec names, in a stable order (a folder's and a prefix's by name, a
    list's in the list's order). Raises InputError for a spec that cannot be listed."""
    from . import lists

    opts = opts or InputOptions()
    spec = os.fspath(spec)
    if lists.is_source_list(spec):
        return lists.list_from_file(spec, opts)
    return list_location(spec, opts)


def list_location(location: str, opts: InputOptions) -> list[Source]:
    """The sources of one location (not a source list): a folder, a file, a URL, a prefix."""
    from . import fsspec, http, local

    kind = kind_of(location)
    if kind == "http":
        return [Source(http.source_name(location), location, "http")]
    if kind == "fsspec":
        return fsspec.list_prefix(location, opts)
    return local.list_files(local.path_of(location))


def read(src: Source, opts: InputOptions | None = None, known: dict | None = None) -> Fetched:
    """The bytes of one source. known: the validators of the last read ({"etag": ...,
    "last_modified": ...}); when the source says it has not changed, Fetched.data is None.
    Raises SourceError (not usable: do not retry) or TransientHTTPError (worth a retry)."""
    from . import fsspec, http, local

    opts = opts or InputOptions()
    readers = {"local": local.read_local, "http": http.read_http, "fsspec": fsspec.read_object}
    if src.kind not in readers:
        raise ValueError(f"unknown source kind {src.kind!r} (local, http or fsspec)")
    return readers[src.kind](src, opts, known)
