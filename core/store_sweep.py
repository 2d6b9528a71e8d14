"""Self-healing content stores: remove what a crash left behind (temporary files, files without a row).

Every writer follows one order: write a temporary file, move it into place (adopt), then insert the row
that refers to it. A crash between two steps leaves a temporary file or an unreferenced store file, never a
row without its file. The sweep removes such leftovers once they are older than a grace period (age = time
since the last write), so a file another process is still writing or about to insert a row for survives. A
temporary file whose writer is known to be gone (a `kill -9` while storing: its name carries the writer's pid and
host, and no process holds its lock; core.content_store.writer_gone) is removed at once, whatever its age, so the
start-up sweep clears what the previous run left.

A store file about to be reused (`ContentStore.put_bytes` on bytes already stored) has its time refreshed
first; the sweep moves a candidate aside before deleting it and puts it back if its time changed meanwhile,
so such a reuse never loses its file. Apps register their stores in `AppConfig.ready()`.
"""

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .content_store import ContentStore, is_sha256, writer_gone

log = logging.getLogger(__name__)
CHUNK = 500  # hashes per "which of these have rows?" question


@dataclass
class SweepResult:
    store: str
    temp_files: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return len(self.temp_files) + len(self.orphans)


@dataclass
class SweptStore:
    """A folder to sweep: `referenced(hashes) -> the subset still referenced by a row`."""

    name: str
    store: ContentStore
    referenced: object
    temp_folder: str = "tmp"


_stores: dict[str, object] = {}


def register(name: str, describe) -> None:
    """Register a store: `describe()` returns its SweptStore (settings are read at sweep time)."""
    _stores[name] = describe


def sweep_all(grace_seconds: float) -> list[SweepResult]:
    """Sweep every registered store; see the module docstring."""
    results = [sweep(describe(), grace_seconds) for describe in _stores.values()]
    removed = sum(r.removed for r in results)
    if removed:
        log.info("Store sweep removed %d leftover file(s): %s", removed,
                 ", ".join(f"{r.store}: {len(r.temp_files)} temporary, {len(r.orphans)} unreferenced" for r in results))
    return results


def sweep(target: SweptStore, grace_seconds: float) -> SweepResult:
    result = SweepResult(target.name)
    cutoff = time.time() - grace_seconds
    root = target.store.root
    if target.temp_folder:
        for path in _files(root / target.temp_folder):
            mtime = _mtime(path)
            if mtime is not None and (mtime <= cutoff or writer_gone(path)) and _unlink(path):
                result.temp_files.append(path.name)
    candidates = {}  # hash -> (path, mtime): old enough, maybe unreferenced
    for folder in _folders(root):
        for path in _files(folder):
            digest = path.name.split(".", 1)[0]
            mtime = _mtime(path)
            if is_sha256(digest) and mtime is not None and mtime <= cutoff:
                candidates[digest] = (path, mtime)
    digests = list(candidates)
    for start in range(0, len(digests), CHUNK):
        chunk = digests[start:start + CHUNK]
        kept = set(target.referenced(chunk))
        for digest in chunk:
            if digest not in kept and _remove_unless_touched(*candidates[digest], root / target.temp_folder):
                result.orphans.append(candidates[digest][0].name)
    return result


def _remove_unless_touched(path: Path, mtime: float, aside_folder: Path) -> bool:
    """Delete `path` unless its time changed since it was judged (a writer reusing it): move aside, check, delete."""
    aside_folder.mkdir(parents=True, exist_ok=True)
    aside = aside_folder / f"sweep-{os.getpid()}-{path.name}"
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return False
    if _mtime(aside) != mtime:
        os.replace(aside, path)  # same name, same bytes: putting it back is always right
        return False
    return _unlink(aside)


def _folders(root: Path):
    try:
        return [p for p in root.iterdir() if len(p.name) == 2 and p.is_dir()]
    except FileNotFoundError:
        return []


def _files(folder: Path):
    try:
        return [p for p in folder.iterdir() if p.is_file()]
    except FileNotFoundError:
        return []


def _mtime(path: Path):
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
