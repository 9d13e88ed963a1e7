"""Source lists: a file that names the sources to read, one entry each.

    sources.csv    a header with a location column (`location`, or `url`, `path`, `source`) and
                   optional `name`, `region`, `year` columns; other columns are ignored, and so
                   are blank rows and rows whose location starts with '#'. UTF-8 (with or
                   without a BOM) or GB18030 (a spreadsheet saved on a Chinese Windows).
    sources.yaml   a list of entries, or {sources: [entries]}; an entry is a mapping with
                   location (or url / path / source) and optional name, region, year, or just
                   a location string. Any other key is an error (a misspelt `year` would
                   otherwise pass unseen).

A location is a path (relative to the list's folder), an http(s) URL or an fsspec URL; a folder
or a prefix stands for every file under it. Names: an entry's `name` when it gives one (for a
folder or a prefix, the prefix of its files' names); otherwise a path inside the list's folder
is named by its path relative to that folder, anything else as listing it alone would name it.
region and year are hints for every source of the entry. A CSV that has a text column as well
(报告全文, content, text, ...) is a vendor table of reports, not a source list.

A bad entry (no location, a year that is not a year, a location that does not exist, a name
given twice) raises InputError naming the list and the row or entry.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .base import InputError, InputOptions, Source
from .local import path_of

LOCATION_KEYS = ("location", "url", "path", "source")
HINT_KEYS = ("name", "region", "year")
LIST_SUFFIXES = (".csv", ".yaml", ".yml")
YEARS = range(1900, 2101)


def is_source_list(spec: str) -> bool:
    """True for a local .yaml / .yml file, and for a .csv file whose header has a location
    column and no text column."""
    from . import kind_of

    if kind_of(spec) != "local":
        return False
    path = path_of(spec)
    suffix = path.suffix.lower()
    if suffix not in LIST_SUFFIXES or not path.is_file():
        return False
    if suffix != ".csv":
        return True
    from ..core.read.tables import TEXT_COLUMNS

    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False   # a source like any other: reading it says what is wrong
    text = _decode(head, errors="replace").splitlines()
    header = next(csv.reader(text[:1]), [])
    keys = {_key(c) for c in header}
    return bool(keys & set(LOCATION_KEYS)) and not keys & set(TEXT_COLUMNS)


def _key(cell) -> str:
    return str(cell or "").strip().lstrip("\ufeff").strip().lower()


def _decode(raw: bytes, errors: str = "strict") -> str:
    """UTF-8 (BOM or not), else GB18030; raises UnicodeDecodeError when neither fits."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors)


def list_from_file(spec: str, opts: InputOptions) -> list[Source]:
    """Every source a list names, in the list's order (a folder's files by name)."""
    path = path_of(spec).absolute()
    label = path.name
    try:
        raw = path.read_bytes()
        entries = _csv_entries(raw) if path.suffix.lower() == ".csv" else _yaml_entries(raw)
    except InputError as e:
        raise InputError(f"{label}: {e}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the source list {label}: {e}") from e
    out: list[Source] = []
    seen: dict[str, str] = {}
    for where, entry in entries:
        try:
            sources = _entry_sources(entry, path, opts)
        except InputError as e:
            raise InputError(f"{label} {where}: {e}") from e
        for src in sources:
            if src.name in seen:
                raise InputError(f"{label} {where}: the source name {src.name!r} is given by "
                                 f"{seen[src.name]} too; give one of them another name.")
            seen[src.name] = where
            out.append(src)
    return out


def _csv_entries(raw: bytes) -> list[tuple[str, dict]]:
    """(row label, entry) of every row of a CSV source list."""
    reader = csv.reader(io.StringIO(_decode(raw), newline=""))
    header = [_key(c) for c in next(reader, [])]
    column = next((k for k in LOCATION_KEYS if k in header), None)
    if column is None:
        raise InputError(f"the header has no location column ({', '.join(LOCATION_KEYS)}).")
    out = []
    for row in reader:
        cells = dict(zip(header, (c.strip() for c in row)))
        if not any(cells.values()) or cells.get(column, "").startswith("#"):
            continue
        entry = {"location": cells.get(column, "")} | {k: cells.get(k) for k in HINT_KEYS}
        out.append((f"row {reader.line_num}", entry))
    return out


def _yaml_entries(raw: bytes) -> list[tuple[str, dict]]:
    """(entry label, entry) of every entry of a YAML source list."""
    import yaml

    try:
        doc = yaml.safe_load(_decode(raw))
    except yaml.YAMLError as e:
        raise InputError(f"not valid YAML ({' '.join(str(e).split())})") from e
    if isinstance(doc, dict) and set(doc) == {"sources"}:
        doc = doc["sources"]
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise InputError("a source list is a list of entries, or a mapping with one key, "
                         "sources, holding that list.")
    return [(f"entry {i}", _yaml_entry(item, i)) for i, item in enumerate(doc, 1)]


def _yaml_entry(item, i: int) -> dict:
    """One YAML entry as {location, name, region, year}."""
    if isinstance(item, str):
        return {"location": item}
    if not isinstance(item, dict):
        raise InputError(f"entry {i} is {type(item).__name__}, not a mapping with a location "
                         "or a location string.")
    keys = {_key(k): v for k, v in item.items()}
    unknown = sorted(set(keys) - set(LOCATION_KEYS) - set(HINT_KEYS))
    given = [k for k in LOCATION_KEYS if k in keys]
    if unknown:
        raise InputError(f"entry {i} has unknown key(s) {', '.join(unknown)} (known: "
                         f"{', '.join(LOCATION_KEYS + HINT_KEYS)}).")
    if len(given) > 1:
        raise InputError(f"entry {i} gives {' and '.join(given)}; give one location.")
    location = keys.get(given[0]) if given else None
    return {"location": location} | {k: keys.get(k) for k in HINT_KEYS}


def _year(value) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) not in YEARS:
        raise InputError(f"year {text!r} is not a year (a number such as 2023).")
    return int(text)


def _text(value, what: str) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    if isinstance(value, (dict, list)):
        raise InputError(f"{what} is a {type(value).__name__}, not a text.")
    return str(value).strip()


def _entry_sources(entry: dict, list_path: Path, opts: InputOptions) -> list[Source]:
    """The sources of one entry, named and with its hints."""
    from . import kind_of, list_location

    location = _text(entry.get("location"), "the location")
    if location is None:
        raise InputError("no location (a path, an http(s) URL or an fsspec URL).")
    name, region = _text(entry.get("name"), "the name"), _text(entry.get("region"), "the region")
    year = _year(entry.get("year"))
    kind = kind_of(location)
    inside = None   # a local path's position relative to the list's folder, when inside it
    if kind == "local":
        path = path_of(location).expanduser()
        path = path if path.is_absolute() else list_path.parent / path
        rel = os.path.relpath(os.path.normpath(path), list_path.parent)
        outside = rel == os.pardir or rel.startswith(os.pardir + os.sep)
        inside = None if outside else Path(rel).as_posix()
        location = str(path)
    found = list_location(location, opts)
    whole = kind == "http" or (kind == "local" and Path(location).is_file()) or (
        kind == "fsspec" and len(found) == 1 and found[0].location == location)
    out = []
    for src in found:
        if kind == "local" and Path(src.location).resolve() == list_path.resolve():
            continue   # the list itself, in a folder it names
        if whole:
            src.name = name or (inside if inside not in (None, ".") else src.name)
        elif name or inside not in (None, "."):
            src.name = f"{name or inside}/{src.name}"
        src.region, src.year = region, year
        out.append(src)
    return out
