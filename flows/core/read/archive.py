"""ZIP archives -> the source files they hold, each a source of its own named
`archive.zip/member` (nested archives: `outer.zip/inner.zip/member`).

- Member names are decoded right: UTF-8 when the archive says so (flag bit 11), else the bytes
  as written (GBK / GB18030, as Chinese archivers write them), tried as UTF-8 then GB18030.
- A name is data, never a path: `../../x`, `/etc/x` and `C:\\x` become `x` inside the archive's
  name; nothing is ever written where a member name says.
- Caps stop zip bombs: members per archive tree, bytes unpacked in all, bytes per member, the
  compression ratio of a member, nesting depth. Sizes are checked as declared and again while
  reading (a declared size can lie).
- An encrypted member, or one that fails its CRC, is an error of its own; the others are read.
  A damaged archive (no central directory) is an error of the whole file.
"""
from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass

from ..model import SourceError


@dataclass(frozen=True)
class Caps:
    members: int = 5000                      # files in one archive tree
    total_bytes: int = 1024 * 1024 * 1024    # unpacked, all members together
    member_bytes: int = 64 * 1024 * 1024     # one member, unpacked
    ratio: int = 200                         # unpacked / packed size of one member
    depth: int = 3                           # archives inside archives


OFFICE_MARKERS = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx"}


def zip_kind(data: bytes) -> str | None:
    """'docx' / 'xlsx' for an Office Open XML package, 'zip' for another ZIP archive, None for
    bytes that are not a ZIP."""
    if not data.startswith(b"PK\x03\x04") and not data.startswith(b"PK\x05\x06"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return "zip"          # damaged: read as an archive, which says what is wrong
    for marker, kind in OFFICE_MARKERS.items():
        if marker in names:
            return kind
    return "zip"


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as the archiver meant it."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")      # zipfile decoded the raw bytes as cp437
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def safe_name(name: str) -> str:
    """A member path as data: separators unified, no root, no drive, no '..' or '.' parts."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":
        parts = parts[1:]
    return posixpath.join(*parts) if parts else ""


class _Budget:
    def __init__(self, caps: Caps):
        self.caps, self.members, self.bytes = caps, 0, 0


def expand(source_name: str, data: bytes, caps: Caps = Caps()
           ) -> tuple[list[tuple[str, bytes]], list[SourceError]]:
    """A ZIP archive's bytes -> ([(name, bytes)] of its files, errors of single members). Raises
    SourceError when the archive itself cannot be read or a cap is passed."""
    files: list[tuple[str, bytes]] = []
    errors: list[SourceError] = []
    _expand(source_name, data, caps, _Budget(caps), 1, files, errors)
    if not files and not errors:
        raise SourceError(f"{source_name}: the archive holds no file.", "empty")
    return files, errors


def _member_error(name: str, reason: str, code: str) -> SourceError:
    err = SourceError(f"{name}: {reason}", code)
    err.source_name = name
    return err


def _unique(inner: str, taken: set[str]) -> str:
    base, n = inner, 2
    while inner in taken:
        stem, dot, ext = base.rpartition(".")
        inner = f"{stem}~{n}.{ext}" if dot else f"{base}~{n}"
        n += 1
    taken.add(inner)
    return inner


def _read_member(zf, info, name: str, inner: str, full: str, caps: Caps, budget: _Budget) -> bytes | SourceError:
    """One member's bytes, or the error of that member alone; a cap of the whole tree raises."""
    if info.flag_bits & 0x1:
        return _member_error(full, "the member is encrypted: unpack it with its password and load the file.",
                             "encrypted")
    if info.file_size > caps.member_bytes:
        return _member_error(full, f"the member unpacks to {info.file_size:,} bytes, over the "
                             f"{caps.member_bytes:,} allowed per file: refused.", "too_large")
    if info.compress_size and info.file_size / info.compress_size > caps.ratio and info.file_size > 1 << 20:
        raise SourceError(f"{name}: member {inner!r} would unpack {info.file_size / info.compress_size:,.0f} "
                          f"times its packed size (over {caps.ratio}): refused as a zip bomb.", "archive_bomb")
    if budget.bytes + info.file_size > caps.total_bytes:
        raise SourceError(f"{name}: the archive unpacks to more than {caps.total_bytes:,} bytes: refused (a zip "
                          "bomb?). Unpack it and load the folder.", "archive_too_large")
    try:
        with zf.open(info) as fh:
            body = fh.read(caps.member_bytes + 1)
    except (zipfile.BadZipFile, zlib_error(), OSError, EOFError, NotImplementedError, ValueError) as exc:
        return _member_error(full, f"the member cannot be unpacked ({type(exc).__name__}: {str(exc)[:200]}): the "
                             "archive is damaged there.", "bad_archive")
    if len(body) > caps.member_bytes:
        return _member_error(full, f"the member unpacks to more than {caps.member_bytes:,} bytes: refused.",
                             "too_large")
    budget.bytes += len(body)
    return body


def _expand(name: str, data: bytes, caps: Caps, budget: _Budget, depth: int,
            files: list, errors: list) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise SourceError(f"{name}: the ZIP archive cannot be read ({type(exc).__name__}: {str(exc)[:200]}): "
                          "it is damaged or truncated. Get it again, or unpack it with another tool.",
                          "bad_archive") from None
    with zf:
        taken: set[str] = set()
        for info in (i for i in zf.infolist() if not i.is_dir()):
            budget.members += 1
            if budget.members > caps.members:
                raise SourceError(f"{name}: the archive holds more than {caps.members:,} files: refused "
                                  "(a zip bomb?). Unpack it and load the folder.", "archive_too_large")
            inner = safe_name(member_name(info))
            if not inner:
                continue
            full = f"{name}/{_unique(inner, taken)}"
            body = _read_member(zf, info, name, inner, full, caps, budget)
            if isinstance(body, SourceError):
                errors.append(body)
            elif zip_kind(body) != "zip":
                files.append((full, body))
            elif depth >= caps.depth:
                errors.append(_member_error(full, f"an archive nested more than {caps.depth} deep: refused.",
                                            "archive_too_deep"))
            else:
                try:
                    _expand(full, body, caps, budget, depth + 1, files, errors)
                except SourceError as exc:
                    if exc.code in ("archive_too_large", "archive_bomb"):
                        raise
                    exc.source_name = full
                    errors.append(exc)


def zlib_error():
    import zlib

    return zlib.error
