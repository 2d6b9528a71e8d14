"""Content-addressed file stores: files named by their SHA256, written atomically."""

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

HASH_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


def is_sha256(value) -> bool:
    return isinstance(value, str) and bool(HASH_RE.fullmatch(value))


def read_chunks(path, chunk=CHUNK):
    """The bytes of the file at `path`, `chunk` bytes at a time."""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            yield block


class ContentStore:
    """A folder of files named `<ab>/<sha256><ext>`; `put_*` never leave a partial file."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, sha256: str, ext: str = "") -> Path:
        if not is_sha256(sha256):
            raise ValueError("not a SHA256 hex digest")
        if ext and not ext.startswith("."):
            ext = "." + ext
        return self.root / sha256[:2] / f"{sha256}{ext}"

    def temp_file(self, suffix=".part"):
        """A named temporary file inside the store (same filesystem, so the final move is atomic)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=suffix, delete=False)

    def write_temp(self, chunks) -> tuple[str, str, int]:
        """Write `chunks` (bytes) to a temporary file of the store and fsync it: (temp path, sha256, size).

        The caller adopts or deletes the file; on any failure here (a full disk included: then closing the
        file fails too) it is removed before the error propagates.
        """
        digest = hashlib.sha256()
        size = 0
        tmp = self.temp_file()
        try:
            with tmp:
                for block in chunks:
                    digest.update(block)
                    tmp.write(block)
                    size += len(block)
                tmp.flush()
                os.fsync(tmp.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.close()
            Path(tmp.name).unlink(missing_ok=True)
            raise
        return tmp.name, digest.hexdigest(), size

    def put_file(self, chunks, ext: str, key: str | None = None) -> Path:
        """Store the bytes of `chunks` under `key` (default: their SHA256): temporary file, fsync, atomic move.

        Nothing partial is left behind on any failure.
        """
        tmp_path, digest, _ = self.write_temp(chunks)
        try:
            return self.adopt(tmp_path, key or digest, ext)
        except BaseException:
            Path(tmp_path).unlink(missing_ok=True)
            raise

    def put_bytes(self, sha256: str, ext: str, data: bytes) -> Path:
        target = self.path(sha256, ext)
        try:
            os.utime(target)  # bytes already stored: refreshed, a concurrent sweep keeps them (core.store_sweep)
            return target
        except FileNotFoundError:
            return self.put_file([data], ext, sha256)

    def adopt(self, tmp_path, sha256: str, ext: str) -> Path:
        """Move a complete temporary file into place (atomic rename)."""
        target = self.path(sha256, ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, target)
        return target

    def delete(self, sha256: str, ext: str = "") -> None:
        try:
            self.path(sha256, ext).unlink()
        except FileNotFoundError:
            pass
