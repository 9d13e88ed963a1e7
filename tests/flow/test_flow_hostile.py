"""Hostile input: the flow on a generated corpus of 120+ bad (and a few good) inputs.

tests/hostile_corpus.py writes the corpus at test time: empty and binary files, truncated and
damaged UTF-8, GBK / Big5 / UTF-16 / UTF-32 without declaration, HTML, a 50 MB file, archives
(a zip bomb, traversal names, nested archives, an encrypted member, a corrupt central directory,
GBK member names), texts with
no number or only boilerplate, CSV without a text column, malformed JSON Lines, JSON fields that
look like paths, odd file names (spaces, non-ASCII, 255 bytes, leading dashes, a newline, bytes
that are not UTF-8), symlinks out of the source, a FIFO. The run must complete; each unusable
input is quarantined with a reason saying what to do; every usable one (decodable GBK / Big5 /
UTF-16 included) is published; nothing is opened or written outside the source and the lake.

The run does its work in this process (Settings.workers=0) so that the audit hook sees every
file the reading and the stages open.
"""
from __future__ import annotations

import collections
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from flowkit import duck, rows, run_state
from hostile_corpus import BIG_BYTES, write_corpus

pytestmark = pytest.mark.timeout(300)

# every file open / os.open of the process while `_watch` is set: (path, writing?)
_opened: list[tuple[str, bool]] = []
_watch = threading.Event()
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _audit(event: str, args) -> None:
    if event != "open" or not _watch.is_set():
        return
    path, mode, flags = (list(args) + [None, None, None])[:3]
    if isinstance(path, int) or path is None:
        return
    path = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    writing = bool(mode and any(c in str(mode) for c in "wax+")) or bool(
        isinstance(flags, int) and flags & _WRITE_FLAGS)
    _opened.append((path, writing))


_hooked = False


def _install_hook() -> None:
    global _hooked
    if not _hooked:
        sys.addaudithook(_audit)   # cannot be removed: it does nothing unless _watch is set
        _hooked = True


def listing(root: Path, skip: tuple[Path, ...]) -> set[str]:
    out = set()
    for dirpath, dirs, names in os.walk(root):
        here = Path(dirpath)
        dirs[:] = [d for d in dirs if here / d not in skip]
        out |= {str(here / f) for f in names}
    return out


@pytest.fixture(scope="module")
def hostile_run(prefect_server, tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    src, lake = work / "src", work / "lake"
    t0 = time.monotonic()
    cases = write_corpus(src)
    t_write = time.monotonic() - t0
    before = listing(work.parent, (src, lake))   # pytest's base temp folder: every test's files
    src_before = listing(src, ())
    _install_hook()
    _opened.clear()
    _watch.set()
    t0 = time.monotonic()
    try:
        state = run_state(src, lake, workers=0)
    finally:
        _watch.clear()
    seconds = time.monotonic() - t0
    return dict(cases=cases, src=src, lake=lake, work=work, state=state, seconds=seconds,
                t_write=t_write, before=before, after=listing(work.parent, (src, lake)),
                src_before=src_before, src_after=listing(src, ()), opened=list(_opened))


def test_the_corpus_is_big_and_varied(hostile_run):
    cases = hostile_run["cases"]
    kinds = collections.Counter(c.kind for c in cases)
    assert len(cases) >= 120 and len(kinds) >= 40
    assert os.path.getsize(hostile_run["src"] / "big" / "fifty_megabytes.txt") == BIG_BYTES
    for needed in ("empty", "binary", "truncated utf-8", "gbk", "big5", "utf-16 bom", "html",
                   "50 MB", "no numbers", "boilerplate", "csv no text", "jsonl malformed",
                   "path-like json fields", "spaces", "non-ascii", "255-byte name", "leading dash",
                   "FIFO", "symlink out of the source", "name not UTF-8", "zip bomb",
                   "zip traversal name", "zip nested", "zip encrypted member",
                   "zip corrupt central directory", "zip gbk member name"):
        assert kinds[needed], needed


def test_the_run_completes_and_sorts_every_input(hostile_run):
    state, lake = hostile_run["state"], hostile_run["lake"]
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["status"] == "published"
    con = duck(lake)
    published = {r[0] for r in rows(con, "select distinct source_name from reports")}
    quarantine = collections.defaultdict(list)
    for name, reason, error, sha in rows(con, "select source_name, reason, error, sha256 from quarantine"):
        quarantine[name].append((reason, error, sha))
    wrong = []
    for c in hostile_run["cases"]:
        got_pub, got_q = c.name in published, c.name in quarantine
        reasons = " | ".join(r for r, _, _ in quarantine.get(c.name, []))
        if c.expect == "publish" and (not got_pub or got_q):
            wrong.append(f"{c.name!r} ({c.kind}) should be published; quarantined: {reasons[:300]}")
        elif c.expect == "quarantine" and (got_pub or not got_q):
            wrong.append(f"{c.name!r} ({c.kind}) should be quarantined (published={got_pub})")
        elif c.expect == "quarantine" and c.hint.lower() not in reasons.lower():
            wrong.append(f"{c.name!r} ({c.kind}): the reason does not say {c.hint!r}: {reasons[:300]}")
        elif c.expect == "partial" and not (got_pub and got_q):
            wrong.append(f"{c.name!r} ({c.kind}): good records published and bad ones quarantined? "
                         f"published={got_pub} quarantined={got_q}")
        elif c.expect == "skip" and (got_pub or got_q):
            wrong.append(f"{c.name!r} ({c.kind}) should be skipped")
    assert not wrong, "\n".join(wrong)
    # reasons a person can act on: a sentence, not an exception dump
    for name, recs in quarantine.items():
        for reason, error, sha in recs:
            assert len(reason) > 40 and "Traceback" not in reason, (name, reason)
    big = quarantine["big/fifty_megabytes.txt"][0]
    assert big[1] == "too_large" and len(big[2]) == 64   # the sha256 of the unread file, streamed
    # nothing of a quarantined input reached gold
    gold = {r[0] for r in rows(con, "select distinct source_name from indicator_panel")}
    assert gold <= published
    assert {c.name for c in hostile_run["cases"] if c.expect == "publish"
            and c.kind in ("gbk", "big5", "utf-16 bom", "good seed")} <= gold
    # the summary says the same as the quarantine table
    assert len(summary["quarantined"]) == sum(len(v) for v in quarantine.values())
    counts = collections.Counter(c.expect for c in hostile_run["cases"])
    print(f"\nhostile corpus: {len(hostile_run['cases'])} inputs written in {hostile_run['t_write']:.1f} s; "
          f"expected {dict(counts)}; published {len(published)} source(s), quarantined "
          f"{len(quarantine)} source(s) ({sum(len(v) for v in quarantine.values())} record(s)); "
          f"flow run {hostile_run['seconds']:.1f} s")


def test_a_second_run_reads_nothing_again(hostile_run, tmp_path):
    """The source index holds the quarantined files as well: the same corpus again is nothing new
    (the files the listing refuses, links and the FIFO, are refused again, unread)."""
    state = run_state(hostile_run["src"], hostile_run["lake"], workers=0)
    assert state.is_completed(), state.message
    s = state.result()
    assert s["status"] == "nothing_new" and s["work"]["processed"] == 0 and s["inputs"] == []


def test_nothing_is_opened_or_written_outside_the_source_and_the_lake(hostile_run):
    # no new file beside the source and the lake, and the source itself unchanged
    assert hostile_run["after"] == hostile_run["before"]
    assert hostile_run["src_after"] == hostile_run["src_before"]
    work = str(hostile_run["work"])
    lake = str(hostile_run["lake"])
    opened = hostile_run["opened"]
    assert opened, "the audit hook saw no open: it is not working"
    assert any(p.startswith(str(hostile_run["src"])) for p, _ in opened), "the sources were read elsewhere"
    # the path-like JSON fields and the symlink targets were never opened
    for path, _ in opened:
        for bad in ("/etc/passwd", "/etc/shadow", "etc/hosts", "id_rsa", "server\\share",
                    "/etc/hostname", "no/such/file.txt"):
            assert bad not in path, f"{path} was opened"
    # every write under the test's folder went into the lake
    stray = [p for p, w in opened if w and p.startswith(work) and not p.startswith(lake)]
    assert not stray, stray[:5]
    # the FIFO was never opened (it would have blocked)
    assert not [p for p, _ in opened if p.endswith("fifo.txt")]


def test_bronze_keeps_names_and_metadata_as_data(hostile_run):
    con = duck(hostile_run["lake"])
    got = rows(con, "select source_name, title, url from source_items where source_name like 'paths/%' "
                    "order by source_name")
    assert got and all(name.startswith("paths/path_fields_") for name, _, _ in got)
    assert {url for _, _, url in got} >= {"../../etc/passwd", "/etc/shadow"}
    # (bronze keeps one file per distinct bytes: the odd names below share theirs, silver has each)
    names = {r[0] for r in rows(con, "select source_name from reports")}
    assert {"names/-leading-dash.txt", "names/--help.txt", "names/new\nline.txt",
            "names/" + "a" * 251 + ".txt", "names/sub dir/deeper/nested report.txt"} <= names
    index = {r[0] for r in rows(con, "select source_name from sources")}
    assert names <= index


def test_a_leading_dash_is_not_taken_for_an_option(hostile_run, monkeypatch, capsys):
    """`python -m flows extract -- -leading-dash.txt`: after `--` a name is a name."""
    from flows.cli import main

    monkeypatch.chdir(hostile_run["src"] / "names")
    assert main(["extract", "--format", "csv", "--", "-leading-dash.txt", "--help.txt"]) == 0
    out = capsys.readouterr().out
    assert "-leading-dash.txt" in out and "--help.txt" in out
