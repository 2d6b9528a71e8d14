"""Content-addressed file stores: files named by their SHA256, written atomically.

A temporary file is named `<pid>@<host>@<random>.part` after the process writing it, and that process holds a
lock (flock) on it while it is open; core.store_sweep removes the temporaries whose writer is gone (`writer_gone`)
without waiting for the grace period.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import socket
import tempfile
from pathlib import Path

HASH_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024
WRITER_SEPARATOR = "@"


def writer_host() -> str:
    """This machine's name as it appears in the names of temporary files (no separator, no path characters)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "_"


def writer_prefix() -> str:
    return f"{os.getpid()}{WRITER_SEPARATOR}{writer_host()}{WRITER_SEPARATOR}"


def process_exists(pid: int) -> bool:
    """Whether a process `pid` exists on this machine (a zombie counts: it may not be reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def writer_gone(path) -> bool:
    """Whether the process that wrote the temporary file `path` is known to be gone: its name says it was written
    on this machine by a process that no longer exists, and no process holds its lock. False when unsure (another
    machine's writer, a name of another form)."""
    pid, host, rest = (Path(path).name.split(WRITER_SEPARATOR, 2) + ["", ""])[:3]
    if not (pid.isdecimal() and pid.isascii() and rest and host == writer_host()) or process_exists(int(pid)):
        return False
    try:
        with open(path, "rb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on close
    except BlockingIOError:  # a live writer holds it (same host name, another pid namespace)
        return False
    except FileNotFoundError:
        return False
    return True


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
        """A named temporary file inside the store (same filesystem, so the final move is atomic), named after
        this process and locked while open (see the module docstring)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix=writer_prefix(), suffix=suffix, delete=False)
        fcntl.flock(tmp.fileno(), fcntl.LOCK_EX)  # a new file: nobody else holds it
        return tmp

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
