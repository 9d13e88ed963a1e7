"""Local sources (flows/inputs/local.py): what a folder lists and what reading refuses."""
from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path

import pytest

from flows.inputs import (InputError, InputOptions, Source, SourceError, kind_of, list_sources,
                          read)

pytestmark = pytest.mark.timeout(30)
OPTS = InputOptions()


def _names(spec, opts=OPTS) -> list[str]:
    return [s.name for s in list_sources(spec, opts)]


def test_a_folder_lists_its_files_by_relative_name(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "b.txt").write_text("bb")
    (tmp_path / "sub" / "a.csv").write_text("x")
    (tmp_path / "sub" / "deeper" / "c.html").write_text("<p>c</p>")
    for hidden in (".hidden", ".git/config", "sub/.DS_Store"):
        (tmp_path / hidden).write_text("x")
    sources = list_sources(tmp_path, OPTS)
    assert [s.name for s in sources] == ["b.txt", "sub/a.csv", "sub/deeper/c.html"]
    b = sources[0]
    st = os.stat(tmp_path / "b.txt")
    assert (b.kind, b.location, b.size, b.mtime_ns) == ("local", str(tmp_path / "b.txt"), 2,
                                                         st.st_mtime_ns)
    assert (b.etag, b.region, b.year) == (None, None, None)
    # one file, given as a path or a file:// URL, is named by its file name
    assert _names(tmp_path / "sub" / "a.csv") == ["a.csv"]
    assert _names(f"file://{tmp_path}/b.txt") == ["b.txt"]
    assert list_sources(str(tmp_path / "b.txt"), OPTS)[0].location == str((tmp_path / "b.txt").resolve())
    (tmp_path / "empty").mkdir()
    assert list_sources(tmp_path / "empty", OPTS) == []


def test_a_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="source not found"):
        list_sources(tmp_path / "missing", OPTS)
    with pytest.raises(InputError, match="cannot list .*File name too long"):
        list_sources(tmp_path / ("x" * 300), OPTS)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_a_folder_that_cannot_be_listed_is_an_input_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.txt").write_text("x")
    locked.chmod(0)
    try:
        with pytest.raises(InputError, match="cannot list"):
            list_sources(tmp_path, OPTS)
    finally:
        locked.chmod(0o755)


def test_read_gives_the_bytes(tmp_path):
    (tmp_path / "r.txt").write_bytes("政府工作报告".encode())
    src = list_sources(tmp_path, OPTS)[0]
    got = read(src, OPTS, known={"etag": "ignored"})
    assert got.source is src and got.data == "政府工作报告".encode()
    assert (got.etag, got.last_modified) == (None, None)


def test_links_are_listed_but_never_followed(tmp_path):
    links = tmp_path / "links"
    links.mkdir()
    (tmp_path / "inside.txt").write_text("x")
    os.symlink("/etc/passwd", links / "passwd_link.txt")
    os.symlink("../../../../../../../../etc/hostname", links / "relative_escape.txt")
    os.symlink("/etc", links / "etc_dir")
    os.symlink(tmp_path / "no" / "such.txt", links / "dangling.txt")
    os.symlink(tmp_path / "inside.txt", links / "inside_link.txt")
    sources = {s.name: s for s in list_sources(links, OPTS)}
    # the linked folder is an entry, not entered: nothing of /etc is listed
    assert sorted(sources) == ["dangling.txt", "etc_dir", "inside_link.txt", "passwd_link.txt",
                               "relative_escape.txt"]
    for name, src in sources.items():
        with pytest.raises(SourceError) as e:
            read(src, OPTS)
        assert e.value.code == "not_a_file", name
        assert "symbolic link" in e.value.reason and os.readlink(src.location) in e.value.reason


def test_a_fifo_is_listed_and_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo.txt")
    (src,) = list_sources(tmp_path, OPTS)
    assert src.name == "fifo.txt"
    with pytest.raises(SourceError, match="FIFO") as e:
        read(src, OPTS)      # returns at once: a FIFO is never opened
    assert e.value.code == "not_a_file"


def test_the_size_cap_gives_the_sha256_streamed(tmp_path):
    body = b"0123456789" * 300_000
    (tmp_path / "big.txt").write_bytes(body)
    src = list_sources(tmp_path, OPTS)[0]
    assert read(src, InputOptions(max_source_bytes=len(body))).data == body
    with pytest.raises(SourceError, match="over the 1,000-byte limit") as e:
        read(src, InputOptions(max_source_bytes=1000))
    assert e.value.code == "too_large"
    assert e.value.sha256 == hashlib.sha256(body).hexdigest()


def test_a_name_that_is_not_utf8_is_listed_escaped_and_refused(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/gbk_name_\xd5\xfe\xb8\xae.txt"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    (src,) = list_sources(tmp_path, OPTS)
    assert src.name == "gbk_name_\\xd5\\xfe\\xb8\\xae.txt"
    src.name.encode("utf-8")   # storable
    with pytest.raises(SourceError, match="not valid UTF-8") as e:
        read(src, OPTS)
    assert e.value.code == "bad_name" and "convmv" in e.value.reason


def test_a_file_removed_after_listing_is_not_found(tmp_path):
    (tmp_path / "gone.txt").write_text("x")
    (src,) = list_sources(tmp_path, OPTS)
    (tmp_path / "gone.txt").unlink()
    with pytest.raises(SourceError, match="no longer there") as e:
        read(src, OPTS)
    assert e.value.code == "not_found"


_opened: list[str] = []
_watch = threading.Event()


def _audit(event: str, args) -> None:
    if event == "open" and _watch.is_set() and not isinstance(args[0], int):
        _opened.append(os.fsdecode(args[0]) if isinstance(args[0], bytes) else str(args[0]))


def test_nothing_outside_the_folder_is_opened_and_no_fifo(tmp_path):
    """Listing and reading every source of a folder with links out of it and a FIFO opens the
    folder's regular files only."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_text("x")
    os.symlink("/etc/passwd", src / "passwd.txt")
    os.symlink("/etc", src / "etc_dir")
    os.mkfifo(src / "fifo.txt")
    sys.addaudithook(_audit)   # cannot be removed: it does nothing unless _watch is set
    _opened.clear()
    _watch.set()
    try:
        results = {}
        for s in list_sources(src, OPTS):
            try:
                results[s.name] = read(s, OPTS).data
            except SourceError as e:
                results[s.name] = e.code
    finally:
        _watch.clear()
    assert results == {"etc_dir": "not_a_file", "fifo.txt": "not_a_file",
                       "ok.txt": b"x", "passwd.txt": "not_a_file"}
    assert _opened == [str(src / "ok.txt")]


def test_kinds_and_dispatch():
    assert [kind_of(x) for x in ("seeds", "/a/b.txt", "file:///a/b.txt", "http://h/x",
                                 "https://h/x", "s3://b/p/", "memory://x", "zip::s3://b/a.zip",
                                 r"C:\reports\a.txt")] == \
        ["local", "local", "local", "http", "http", "fsspec", "fsspec", "fsspec", "local"]
    with pytest.raises(ValueError, match="unknown source kind"):
        read(Source("a", "a", "ftp"), OPTS)
    seeds = Path(__file__).resolve().parents[2] / "seeds"
    assert all(Path(s.location).is_file() and s.name.endswith(".txt")
               for s in list_sources(seeds, OPTS))
