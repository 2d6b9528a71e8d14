"""The Django SECRET_KEY: random, generated on first start and kept in the data directory (mode 0600)."""

import os
import secrets
from pathlib import Path

FILE_NAME = "secret_key"


def load_or_create(data_dir: Path) -> str:
    """The key stored in `data_dir`, created first if missing.

    The new key is written to a private temporary file and linked into place, so processes starting
    together all end up with the one key that won, never a half-written one.
    """
    path = Path(data_dir) / FILE_NAME
    try:
        return read(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
    finally:
        tmp.unlink(missing_ok=True)
    return read(path)


def read(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to have a new key generated")
    return key
