"""Where a lake's files live: a local folder or any fsspec URL (s3://bucket/prefix, memory://...).

Storage gives the rest of flows/lake/ one way to write and read whole files whatever the place:
a local file is written to a temporary name and renamed (whole or absent after a crash); an
object is one PUT (whole or absent by nature). `delta_uri` and `delta_options` are what the
deltalake package needs to reach the same place (S3 credentials and endpoint come from the
usual AWS_* environment).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from .errors import LakeUrlError


def is_url(root) -> bool:
    """True for an fsspec URL such as s3://bucket/prefix (not a local path, not file://)."""
    return isinstance(root, str) and "://" in root and not root.startswith("file://")


class Storage:
    def __init__(self, root: str | os.PathLike):
        root = str(root)
        if root.startswith("file://"):
            root = root[len("file://"):]
        self.url = is_url(root)
        if self.url:
            import fsspec

            try:
                self.fs, self.base = fsspec.core.url_to_fs(root)
            except (ImportError, ValueError) as exc:
                raise LakeUrlError(f"cannot open the lake {root}: {exc}") from None
            self.base = self.base.rstrip("/")
            self.scheme = root.split("://", 1)[0]
            self.root = root.rstrip("/")
        else:
            self.fs = None
            self.root = str(Path(root).resolve())
            self.base = self.root

    # ---- names ---------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        """The path of a file of the lake, for this storage's filesystem."""
        return "/".join([self.base, *parts]) if self.url else str(Path(self.base, *parts))

    def uri(self, *parts: str) -> str:
        """The address of a file of the lake for other programs (an s3:// URL, or a local path)."""
        return "/".join([self.root, *parts]) if self.url else self.path(*parts)

    def pyarrow_fs(self):
        """A pyarrow filesystem for Parquet reads and writes (None: local paths)."""
        if not self.url:
            return None
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))

    def delta_uri(self, *parts: str) -> str:
        return self.uri(*parts)

    def delta_options(self) -> dict[str, str] | None:
        """storage_options for deltalake: the S3 endpoint and credentials of the environment."""
        if not self.url or self.scheme not in ("s3", "s3a"):
            return None
        env = os.environ
        opts = {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                    "AWS_REGION", "AWS_DEFAULT_REGION") if env.get(k)}
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        if endpoint:
            opts["AWS_ENDPOINT_URL"] = endpoint
            if endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        opts.setdefault("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1"))
        return opts

    # ---- files ---------------------------------------------------------------------------
    def exists(self, *parts: str) -> bool:
        p = self.path(*parts)
        return self.fs.exists(p) if self.url else os.path.exists(p)

    def read_bytes(self, *parts: str) -> bytes | None:
        p = self.path(*parts)
        try:
            if self.url:
                return self.fs.cat_file(p)
            with open(p, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write a whole file: a temporary name and a rename locally, one PUT on object storage.
        -> its address (uri: an s3:// URL, or the local path)."""
        p = self.path(*parts)
        if self.url:
            self.fs.pipe_file(p, data)
            return self.uri(*parts)
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{p}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return p

    def write_new(self, data: bytes, *parts: str) -> bool:
        """Write a file only when no file has the name (content-addressed bronze): False when
        one was there. Two writers of the same bytes: one wins, the other finds it there (on
        object storage a conditional PUT, If-None-Match: s3fs's exclusive "xb" mode)."""
        p = self.path(*parts)
        if self.url:
            if self.fs.exists(p):
                return False
            try:
                with self.fs.open(p, "xb") as fh:
                    fh.write(data)
            except FileExistsError:
                return False
            except (ValueError, NotImplementedError):   # a filesystem without exclusive create
                self.fs.pipe_file(p, data)
            return True
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{p}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, p)
            except FileExistsError:
                return False
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return True

    def list(self, *parts: str, suffix: str = "") -> list[str]:
        """The names of the files in a folder of the lake (not recursive), sorted."""
        p = self.path(*parts)
        try:
            if self.url:
                names = [n.rstrip("/").rsplit("/", 1)[-1] for n in self.fs.ls(p, detail=False)]
            else:
                names = [e.name for e in os.scandir(p) if e.is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if n.endswith(suffix))

    def folders(self, *parts: str) -> list[str]:
        """The names of the folders in a folder of the lake, sorted."""
        p = self.path(*parts)
        try:
            if self.url:
                return sorted(i["name"].rstrip("/").rsplit("/", 1)[-1] for i in self.fs.ls(p, detail=True)
                              if i.get("type") == "directory")
            return sorted(e.name for e in os.scandir(p) if e.is_dir(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def size(self, *parts: str) -> int:
        p = self.path(*parts)
        return int(self.fs.size(p)) if self.url else os.path.getsize(p)

    def delete(self, *parts: str) -> None:
        """Remove one file (nothing when it is not there)."""
        p = self.path(*parts)
        if self.url:
            if self.fs.exists(p):
                self.fs.rm_file(p)
        elif os.path.lexists(p):
            os.unlink(p)

    def delete_tree(self, *parts: str) -> None:
        p = self.path(*parts)
        if self.url:
            if self.fs.exists(p):
                self.fs.rm(p, recursive=True)
            return
        import shutil

        shutil.rmtree(p, ignore_errors=True)

    def move_tree(self, src: tuple[str, ...], dst: tuple[str, ...]) -> None:
        """Move a folder: one rename locally; on object storage every object copied, then the
        originals deleted (fsspec's recursive mv copies the folder's own key too, which an
        object store does not have, and fails)."""
        a, b = self.path(*src), self.path(*dst)
        if self.url:
            files = self.fs.find(a)
            for f in files:
                self.fs.copy(f, b + f[len(a):])
            if files:
                self.fs.rm(files)
        else:
            Path(b).parent.mkdir(parents=True, exist_ok=True)
            os.replace(a, b)

    def put_tree(self, src: str, *parts: str) -> str:
        """Replace the folder `parts` of the lake by a copy of the local folder src (a site)."""
        import shutil

        dst = self.path(*parts)
        if self.url:
            if self.fs.exists(dst):
                self.fs.rm(dst, recursive=True)
            self.fs.put(str(src).rstrip("/") + "/", dst, recursive=True)
            return self.uri(*parts)
        staged = f"{dst}.{uuid.uuid4().hex[:8]}.new"
        old = f"{dst}.{uuid.uuid4().hex[:8]}.old"
        shutil.copytree(src, staged)
        if os.path.exists(dst):
            os.replace(dst, old)
        os.replace(staged, dst)
        shutil.rmtree(old, ignore_errors=True)
        return dst

    def link(self, *parts: str) -> str:
        """An address a person can open: a file:// URL for a local lake, the URL otherwise."""
        return self.uri(*parts) if self.url else Path(self.path(*parts)).as_uri()

    def mkdir(self, *parts: str) -> None:
        if not self.url:
            os.makedirs(self.path(*parts), exist_ok=True)
