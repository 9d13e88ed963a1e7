"""Legacy Word documents (.doc, Word 97-2003) -> one item, through antiword (Debian package
`antiword`, which scripts/setup.sh installs when it can), or catdoc. The bytes reach the program
through an in-memory file (memfd) or stdin and the text comes back on stdout: nothing is written
to disk. Without either program the file is refused with what to install or do instead."""
from __future__ import annotations

import os
import shutil
import subprocess

from ..model import SourceError, SourceItem

TIMEOUT_S = 60


def _command(data: bytes):
    """(argv, stdin bytes, fds to pass, fd to close) for the first converter available."""
    antiword, catdoc = shutil.which("antiword"), shutil.which("catdoc")
    if antiword and hasattr(os, "memfd_create"):   # antiword seeks: it cannot read a pipe
        fd = os.memfd_create("gwr-doc")
        os.write(fd, data)
        return [antiword, "-m", "UTF-8.txt", "-w", "0", f"/dev/fd/{fd}"], None, (fd,), fd
    if catdoc:
        return [catdoc, "-d", "utf-8", "-w"], data, (), None
    return None


def read_doc(source_name: str, data: bytes) -> SourceItem:
    cmd = _command(data)
    if cmd is None:
        raise SourceError(f"{source_name}: a legacy Word .doc needs the antiword (or catdoc) program to be "
                          "read, and neither is installed: apt-get install antiword (scripts/setup.sh "
                          "does), or save the document as .docx or UTF-8 .txt.", "needs_antiword")
    argv, stdin, fds, fd = cmd
    try:
        done = subprocess.run(argv, input=stdin, pass_fds=fds, capture_output=True, timeout=TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise SourceError(f"{source_name}: reading this .doc took over {TIMEOUT_S} s; save it as .docx or "
                          ".txt.", "bad_document") from None
    finally:
        if fd is not None:
            os.close(fd)
    text = done.stdout.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if done.returncode != 0 or not text.strip():
        why = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise SourceError(f"{source_name}: the .doc could not be read ({why[-1][:200] if why else 'no text'}): it "
                          "may be damaged, encrypted or not a Word document. Save it as .docx or .txt.",
                          "bad_document")
    return SourceItem(source_name, 1, "doc", "doc", text)
