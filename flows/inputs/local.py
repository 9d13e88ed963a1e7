"""Local sources: the files under a folder, or one file.

A folder's files are named by their path relative to the folder (posix); hidden files and
folders are skipped. Symbolic links are listed but never followed (reading one is refused, so
nothing outside the source folder is read), and so are FIFOs, sockets and devices (reading one
would block or never end). A name that is not valid UTF-8 is listed with its bad bytes escaped
(\\xNN), so it can be stored and shown, and reading it is refused.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..core.model import SourceError
from .base import Fetched, InputError, InputOptions, Source


def path_of(location: str) -> Path:
    """A local path from a path or a file:// URL."""
    if str(location).startswith("file://"):
        return Path(unquote(urlparse(str(location)).path))
    return Path(location)


def list_files(source: str | os.PathLike) -> list[Source]:
    """A Source for every file under a folder (or the one file), sorted by name, with its size
    and mtime from lstat. Raises InputError for a path that does not exist or cannot be listed."""
    src = Path(source)
    try:
        if src.is_file():
            st = src.stat()
            return [Source(_printable(src.name), str(src.resolve()), "local", st.st_size,
                           st.st_mtime_ns)]
        if not src.is_dir():
            raise InputError(f"source not found: {_printable(str(src))} is neither a folder nor "
                             "a file.")
        out = []
        for p in _walk(src):
            rel = p.relative_to(src)
            if any(part.startswith(".") for part in rel.parts):
                continue
            st = os.lstat(p)
            out.append(Source(_printable(rel.as_posix()), str(p), "local", st.st_size,
                              st.st_mtime_ns))
    except OSError as e:
        raise InputError(f"cannot list {_printable(str(src))}: {e.strerror or e} "
                         f"({_printable(str(e.filename or src))}).") from e
    return sorted(out, key=lambda s: s.name)


def _walk(root: Path):
    """Every entry under root that is not a directory; symlinked directories are not entered
    (they are returned, as entries, to be refused)."""
    stack = [root]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                else:
                    yield Path(e.path)


def _printable(name: str) -> str:
    """A file name as text that can be stored: undecodable bytes (surrogate escapes) -> \\xNN."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_local(src: Source, opts: InputOptions, known: dict | None = None) -> Fetched:
    """read() for a local Source: the file's bytes under opts.max_source_bytes (read_source's
    rules). A local file has no validators: `known` is not used."""
    return Fetched(src, read_source(Path(src.location), opts.max_source_bytes))


def _refuse_special(path: Path, st: os.stat_result) -> None:
    """SourceError for a symbolic link, a FIFO / socket / device, or a name that is not UTF-8."""
    if stat.S_ISLNK(st.st_mode):
        target = _printable(os.readlink(path))
        raise SourceError(
            f"{_printable(path.name)} is a symbolic link (to {target}); links are not followed, so "
            "that nothing outside the source folder is read: copy the file itself into the source "
            "folder.", "not_a_file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if
                stat.S_ISSOCK(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or
                stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise SourceError(f"{_printable(path.name)} is {kind}, not a regular file; it is not read. "
                          "Put the report in a regular file.", "not_a_file")
    if _printable(path.name) != path.name:
        raise SourceError(
            f"the file name {_printable(path.name)!r} is not valid UTF-8 (written by a system with "
            "another file name encoding); rename the file (e.g. convmv -f gbk -t utf8) and run "
            "again.",
            "bad_name")


def read_source(path: Path, max_bytes: int) -> bytes:
    """The bytes of one source file. Raises SourceError (code too_large, not_a_file, bad_name)
    for a file that must not be read: a symbolic link (it may point anywhere), a FIFO / socket /
    device, a name that is not valid UTF-8, a file over max_bytes (its sha256 is then computed by
    streaming, and given in the error's .sha256). A file that is gone raises SourceError
    not_found; other OSErrors pass through."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError as e:
        raise SourceError(f"{_printable(path.name)} is no longer there (removed since it was "
                          "listed).", "not_found") from e
    _refuse_special(path, st)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):  # replaced between lstat and open
            raise SourceError(f"{path.name} is not a regular file; it is not read.", "not_a_file")
        if st.st_size > max_bytes:
            err = SourceError(
                f"{path.name} is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for one "
                "source file (max_source_bytes), so it was not read: a government work report is a "
                "few hundred KB. Split it (one report per file, or JSON Lines files under the "
                "limit), or raise the limit if the machine has the memory for it.", "too_large")
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            err.sha256 = h.hexdigest()
            raise err
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise SourceError(f"{path.name} grew over the {max_bytes:,}-byte limit while being read; "
                          "it was not used.", "too_large")
    return data
