"""Stage 1, fetch: what to read (plan), then read it into bronze (fetch_chunk, download).

    plan          every source of the run's source spec beside the lake's source index: a source
                  the lake holds from the same file as listed (size and mtime; an ETag) and the
                  same code version is not even read
    fetch_chunk   a chunk of sources -> their bytes -> archives expanded (each file a source of
                  its own) -> sha256 -> decoded, screened items -> bronze (append-only). A file
                  whose bytes are in bronze already is neither decoded nor written again.
    download      one http(s) source, with a conditional GET (nothing is downloaded again when the
                  server says it has not changed), retries with backoff honouring Retry-After

Anything unusable becomes a quarantine record (a dict of the quarantine table's columns) and the
rest goes on. Plain functions: no Prefect; the lake is reached through flows.lake only.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath

from ..core.model import SourceError

log = logging.getLogger(__name__)


@dataclass
class Landed:
    """One source file after fetch: in bronze (ok), or rejected (rejects say why)."""
    source_name: str
    location: str
    sha256: str = ""
    byte_size: int = 0
    items: int = 0
    encoding: str = ""
    new: bool = False            # this run wrote it to bronze
    ok: bool = False             # its items are in bronze
    not_modified: bool = False   # an HTTP source the server says has not changed
    size: int | None = None      # the file as listed (local stat, object size; an archive's)
    mtime_ns: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    rejects: list[dict] = field(default_factory=list)

    def __post_init__(self):
        # recorded (the source index, the summary): a local path that is not UTF-8 is kept with
        # its bytes escaped (\xNN), as its source name is
        self.location = self.location.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

    def reject(self, exc: BaseException, item_index: int | None = None) -> None:
        if isinstance(exc, SourceError):
            reason, error = exc.reason, exc.code
        else:
            reason, error = f"{type(exc).__name__}: {exc}", type(exc).__name__
        self.rejects.append(dict(source_name=self.source_name, item_index=item_index, stage="fetch",
                                 reason=reason[:2000], error=error, sha256=self.sha256))


@dataclass
class Plan:
    sources: list                  # every inputs.Source of the spec
    todo: list                     # the ones to read
    unchanged: list[str]           # names held by the lake as listed: not read
    chunks: list[list]             # todo in chunks of about chunk_bytes


def _entries(src, index: dict) -> list[dict]:
    """The index entries of a source: its own, or its members' (an archive)."""
    own = index.get(src.name)
    if own is not None:
        return [own]
    prefix = src.name + "/"
    return [e for n, e in index.items() if n.startswith(prefix)]


def held_as_listed(src, index: dict, versions) -> bool:
    """The lake holds this source's rows from the file as listed now and from this code (and
    these corrections: versions(name) is a source's version)."""
    entries = _entries(src, index)
    if not entries or any(e.get("code_version") != versions(e["source_name"]) for e in entries):
        return False
    if src.kind == "local":
        return all((e.get("size"), e.get("mtime_ns")) == (src.size, src.mtime_ns) and src.size is not None
                   for e in entries)
    if src.kind == "fsspec" and src.etag:
        return all(e.get("etag") == src.etag for e in entries)
    return False


def chunks(todo: list, parts: int, chunk_bytes: int) -> list[list]:
    """Sources in chunks of about equal bytes, at most chunk_bytes each and a multiple of
    `parts` when there are that many (every worker gets work in every round); order kept."""
    if not todo:
        return []

    def size(s) -> int:
        return max(getattr(s, "size", None) or 0, 1)

    total = sum(size(s) for s in todo)
    n = max(min(parts, len(todo)), -(-total // chunk_bytes))
    n = min(len(todo), -(-n // parts) * parts)
    target = total / n
    out: list[list] = [[]]
    acc = 0
    for s in todo:
        if out[-1] and acc + size(s) / 2 > target * len(out) and len(out) < n:
            out.append([])
        out[-1].append(s)
        acc += size(s)
    return out


def plan(sources: list, index: dict, versions, parts: int, chunk_bytes: int) -> Plan:
    todo, unchanged = [], []
    for src in sources:
        (unchanged if held_as_listed(src, index, versions) else todo).append(src)
    local = [s for s in todo if s.kind != "http"]
    return Plan(sources, todo, [s.name for s in unchanged], chunks(local, parts, chunk_bytes))


# ---- landing bytes in bronze -------------------------------------------------------------------

def land_one(lake, name: str, src, data: bytes) -> Landed:
    """One file's bytes -> bronze (when new) and its Landed record."""
    from ..core.read import SUFFIXES, read_items_with_errors, reading_family, screen_items
    from ..schemas import from_objects

    out = Landed(name, src.location, hashlib.sha256(data).hexdigest(), len(data), size=src.size,
                 mtime_ns=src.mtime_ns, etag=src.etag)
    try:
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in SUFFIXES:
            raise SourceError(f"unsupported file type {suffix or '(none)'}: expected one of "
                              f"{' '.join(SUFFIXES)}", code="unsupported_type")
        landed = lake.bronze.summary(out.sha256) if lake.bronze.has(out.sha256) else None
        if landed and reading_family(landed["containers"]) == reading_family(name):
            out.items, out.encoding, out.ok = landed["items"], landed["encoding"], True
            return out
        items, errors = screen_items(*read_items_with_errors(name, data))
        for err in errors:
            out.reject(err, getattr(err, "item_index", None))
        if not items:
            raise SourceError(f"{name}: no usable item" + (f" ({len(errors)} record(s) rejected)"
                                                           if errors else " (empty?)"), code="no_items")
        if landed:   # bronze holds these bytes read another way (a .txt and a .csv of one content)
            raise SourceError(f"{name}: the same bytes were landed before under a name that reads them as "
                              f"{reading_family(landed['containers'])}, and this name reads them as "
                              f"{reading_family(name)}: bronze keeps one reading per content. Load one of "
                              "the two files, or give them the same kind of name.", code="reading_conflict")
        # bronze holds the file as found: a source list's hints are the listing's, not the
        # file's (the same bytes may be listed twice, or a hint corrected later)
        bronze = from_objects("source_items", items,
                              {"sha256": out.sha256, "byte_size": len(data),
                               "fetched_at": datetime.now(timezone.utc)})
        out.new = lake.bronze.write(out.sha256, bronze)
        out.items, out.encoding, out.ok = len(items), items[0].encoding, True
    except Exception as exc:  # noqa: BLE001 - every failure becomes a quarantine record
        out.ok = False
        out.reject(exc)
    return out


def land(lake, src, data: bytes) -> list[Landed]:
    """A source's bytes -> bronze: the file itself, or each file of an archive as a source of its
    own (`archive.zip/member`, listed with the archive's size and time)."""
    from ..core.read import expand_source

    listed = dict(size=src.size, mtime_ns=src.mtime_ns, etag=src.etag)
    try:
        members, errors = expand_source(src.name, data)
    except SourceError as exc:
        out = Landed(src.name, src.location, hashlib.sha256(data).hexdigest(), len(data), **listed)
        out.reject(exc)
        return [out]
    outs = []
    for err in errors:
        out = Landed(getattr(err, "source_name", src.name), src.location, **listed)
        out.reject(err)
        outs.append(out)
    outs += [land_one(lake, name, src, body) for name, body in members]
    return outs


def fetch_chunk(lake_url: str, chunk: list, opts) -> list[Landed]:
    """Local and fsspec sources -> bronze, one chunk of them (runs in a worker process)."""
    from ..inputs import read
    from ..lake import Lake

    lake = Lake(lake_url)
    out: list[Landed] = []
    for src in chunk:
        try:
            got = read(src, opts)
        except (OSError, SourceError) as exc:   # unreadable, a link, a FIFO, over the size limit
            failed = Landed(src.name, src.location, getattr(exc, "sha256", "") or "",
                            size=src.size, mtime_ns=src.mtime_ns, etag=src.etag)
            failed.reject(exc)
            out.append(failed)
            continue
        landed = land(lake, src, got.data)
        for one in landed:
            one.etag = got.etag or one.etag
        out += landed
    return out


def download(lake_url: str, src, opts, known: dict | None = None, sleep=time.sleep) -> list[Landed]:
    """One http(s) source -> bronze, unless the server says it has not changed since `known`
    ({etag, last_modified}). Retries what may succeed next time (timeouts, connection errors,
    5xx, 408, 429) up to opts.http_retries times, waiting 1, 2, 4 ... x http_backoff_s, or the
    server's Retry-After (capped)."""
    from ..inputs import read
    from ..inputs.http import TransientHTTPError
    from ..lake import Lake

    attempt = 0
    while True:
        try:
            got = read(src, opts, known)
            break
        except TransientHTTPError as exc:
            if attempt >= opts.http_retries:
                failed = Landed(src.name, src.location)
                failed.reject(exc)
                return [failed]
            wait = max(opts.http_backoff_s * 2 ** attempt, getattr(exc, "retry_after_s", 0) or 0)
            log.warning("%s: %s; attempt %d of %d in %.1f s", src.name, exc, attempt + 2,
                        opts.http_retries + 1, wait)
            sleep(wait)
            attempt += 1
        except SourceError as exc:     # not worth a retry
            failed = Landed(src.name, src.location)
            failed.reject(exc)
            return [failed]
    if got.data is None:
        return [Landed(src.name, src.location, not_modified=True, ok=True, etag=got.etag,
                       last_modified=got.last_modified)]
    outs = land(Lake(lake_url), src, got.data)
    for one in outs:
        one.etag, one.last_modified = got.etag, got.last_modified
    return outs


@dataclass
class Planned:
    plan: object                 # fetch.Plan
    index: dict                  # the lake's source index before the run
    known: dict                  # URL -> {etag, last_modified} from the last time
    rebuild: list                # (name, sha256) of an old-layout lake, read again from bronze
    upgraded_from: str | None = None
    bi_whole: bool = False       # the BI tables must be rebuilt whole
    versions: object = None      # process.Versions: each source's version
    corrections: list = field(default_factory=list)   # the analysts' corrections (core.corrections)
    repoint: bool = False        # a run died while publishing: the pointer is behind the tables, or its
                                 # run left no report nor manifest (this run points again)


def plan_run(settings, code_version: str, parts: int, log) -> Planned:
    """The run's plan: the sources, what the lake holds of them, an old lake to rebuild, whether
    the BI tables must be rebuilt whole."""
    from ..inputs import list_sources
    from ..lake import Lake
    from ..lake.upgrade import old_sources, set_aside, unfinished

    lake = Lake(settings.lake)
    rebuild, upgraded = [], None
    old = old_sources(lake.storage)
    if old is not None:
        upgraded = set_aside(lake.storage)
        how = "its tables were in the previous layout; they are moved to"
    elif (left := unfinished(lake.storage)) is not None:
        upgraded, old = left
        how = "a run began it and died before publishing; the old tables are at"
    if old is not None:
        rebuild = [(n, e["sha256"]) for n, e in sorted(old.items()) if e.get("sha256") and lake.bronze.has(e["sha256"])]
        log.warning("upgrading the lake: %s %s and rebuilt as Delta tables from bronze (%d source(s))", how,
                    upgraded, len(rebuild))
        missing = sorted(n for n, e in old.items() if not (e.get("sha256") and lake.bronze.has(e["sha256"])))
        if missing:
            log.warning("upgrading the lake: %d source(s) of the old tables have no bronze file and are not "
                        "rebuilt (their rows stay in %s; read them again from their source): %s", len(missing),
                        upgraded, ", ".join(missing[:20]))
    from .process import Versions

    corrections = load_corrections(lake, settings.corrections)
    sources = list_sources(settings.source, settings.input_options())
    versions = Versions(code_version, corrections, {s.name: (s.region, s.year) for s in sources})
    index = lake.source_index()
    p = plan(sources, index, versions, parts, settings.chunk_bytes)
    cur = lake.records.current() or {}
    bi = cur.get("bi") or {}
    # a run that died while publishing: commits the pointer does not name (the BI tables may
    # lack them: the dead run's regions are rebuilt with all the others), or a pointer whose run
    # left no report, lake.duckdb nor manifest
    ahead = not lake.pointer_is_current()
    unreported = not ahead and lake.pointer_unreported()
    bi_whole = bool(upgraded) or ahead or not lake.tables.exists("indicator_wide") or bi.get("stale", False) \
        or (bool(cur) and bi.get("tolerance") != settings.attainment_tolerance)
    log.info("plan: %d source(s), %d unchanged in the lake, %d to read%s", len(sources), len(p.unchanged),
             len(p.todo), f"; {len(rebuild)} to rebuild from bronze" if rebuild else "")
    repoint = ahead or unreported
    if ahead:
        log.warning("the tables are ahead of the lake's pointer (_current.json): a run died after its commits; "
                    "this run points at them, the BI tables rebuilt whole")
    elif unreported:
        log.warning("the last publish (run %s) has no report nor manifest: its run died after its pointer; this "
                    "run points again and writes them", cur.get("run_id"))
    return Planned(p, index, _validators(lake.records.input_state(), p.todo, index, versions), rebuild,
                   upgraded, bi_whole, versions, corrections, repoint)


def _validators(state: dict, todo: list, index: dict, versions) -> dict:
    """The HTTP validators (ETag, Last-Modified) to send for each URL: only for a source whose
    rows the lake holds at this version. Otherwise (the code, the corrections or the hints
    changed) a 304 would leave its rows as they are: the download is not conditional."""
    out = {}
    for src in todo:
        entry = index.get(src.name)
        if src.location in state and entry and entry.get("code_version") == versions(src.name):
            out[src.location] = state[src.location]
    return out


def load_corrections(lake, path: str | None) -> list:
    """The analysts' corrections: the file Settings.corrections names, else <lake>/corrections.csv
    when the lake has one."""
    from ..core.corrections import parse
    from ..core.vocab import load

    if path:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    else:
        text = lake.records.read_text("corrections.csv")
    return parse(text, set(load().indicators)) if text else []
