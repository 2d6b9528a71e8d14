"""Content-addressed file stores: files named by their SHA256, written atomically."""

import hashlib
import os
import re
import tempfile
from pathlib import Path

HASH_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


def is_sha256(value) -> bool:
    return isinstance(value, str) and bool(HASH_RE.match(value))


def sha256_file(path, chunk=CHUNK) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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

    def put_bytes(self, sha256: str, ext: str, data: bytes) -> Path:
        target = self.path(sha256, ext)
        if target.exists():
            return target
        with self.temp_file() as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        return self.adopt(tmp.name, sha256, ext)

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
