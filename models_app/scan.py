"""Folder scans of `manage.py import_model PATH...`: the weights files under the paths (symlinks followed, loops
not), each imported by copy or in place (models_app.services.import_model_file) with its kind from the folder
conventions of other hosts and its sidecars (models_app.sidecars); a hash cache keyed by (path, size, mtime_ns)
so an unchanged tree costs a stat per file; and the check of in-place models (`missing`, `changed`).

Bad input never aborts a scan: an unreadable file or folder, a symlink loop, a broken link, a non-weights file or a
file that is not a model is skipped, listed with the reason, and counted; a file's row is written in one
transaction or not at all.
"""

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from core.file_walk import os_reason, walk_files
from models_app.inspect import MODEL_EXTENSIONS
from models_app.models import FileHash, SDModel
from models_app.services import ModelImportError, hash_file, import_model_file
from models_app.sidecars import folder_hint, read_sidecars

# Files other hosts keep beside their models (previews, sidecars, configs): counted, not listed as skipped.
COMPANION_EXTENSIONS = {
    ".png", ".jpg", ".jpeg", ".webp", ".gif", ".info", ".json", ".txt", ".md", ".yaml", ".yml", ".html", ".db",
}
QUERY_CHUNK = 500  # paths per IN (...) query (SQLite's variable limit)


@dataclass
class ScanReport:
    files: int = 0  # weights files found
    imported: list = field(default_factory=list)  # (path, SDModel) new rows
    relinked: list = field(default_factory=list)  # (path, SDModel) missing/changed/failed rows made ready again
    known: int = 0  # already in the library
    cached: int = 0  # hashes taken from the cache (no read)
    hashed: int = 0  # files read to hash them
    hashed_bytes: int = 0
    companions: int = 0  # previews, sidecars and other files of hosts' layouts, not models
    skipped: list = field(default_factory=list)  # (path, reason)
    notes: list = field(default_factory=list)  # (path, what): sidecars that could not be read, previews not stored
    status_changes: list = field(default_factory=list)  # (SDModel, old status, new status)


# --- walking -------------------------------------------------------------------------------------------------

def collect(paths, report: ScanReport) -> dict:
    """{path: stat result} of the weights files under `paths` (core.file_walk: files as given, folders recursively,
    symlink loops walked once); other files are companions (previews, sidecars) or skipped."""
    found = {}
    for path, info in walk_files(paths, report.skipped).items():
        suffix = os.path.splitext(path)[1].lower()
        if suffix in MODEL_EXTENSIONS:
            found[path] = info
        elif suffix in COMPANION_EXTENSIONS:
            report.companions += 1
        else:
            report.skipped.append((path, "not a weights file (" + (suffix or "no extension") + ")"))
    report.files = len(found)
    return found


# --- the hash cache --------------------------------------------------------------------------------------------

def cached_hashes(paths) -> dict:
    """{path: (size, mtime_ns, sha256)} for the paths the cache knows."""
    keys = [str(p) for p in paths]
    rows = {}
    for index in range(0, len(keys), QUERY_CHUNK):
        rows.update((path, entry) for path, *entry in FileHash.objects.filter(
            path__in=keys[index:index + QUERY_CHUNK]).values_list("path", "size", "mtime_ns", "sha256"))
    return rows


def cache_hit(entry, info):
    if entry is not None and entry[0] == info.st_size and entry[1] == info.st_mtime_ns:
        return entry[2]
    return None


def remember(path, info, sha256):
    """Record that the file at `path` with this size and mtime holds `sha256`."""
    FileHash.objects.update_or_create(path=str(path), defaults=dict(
        size=info.st_size, mtime_ns=info.st_mtime_ns, sha256=sha256, checked_at=timezone.now()))


def existing_models(hashes) -> dict:
    """{hash: status} of the library's rows among `hashes`."""
    hashes = list(set(hashes))
    found = {}
    for index in range(0, len(hashes), QUERY_CHUNK):
        found.update(SDModel.objects.filter(pk__in=hashes[index:index + QUERY_CHUNK]).values_list("hash", "status"))
    return found


# --- scanning ----------------------------------------------------------------------------------------------------

def scan(paths, *, in_place=False, model_type=None, base_model=None, progress=lambda files: files,
         layout=None) -> ScanReport:
    """Import the weights files under `paths`; `progress` wraps the file list (the command's tqdm); `layout`: the
    host whose folder names give kinds (models_app.sidecars.folder_hint; default: any).

    In-place models under the paths are checked first (`verify`), so a file that changed is re-hashed once."""
    report = ScanReport()
    files = collect(paths, report)
    cache = cached_hashes(files)
    verify(under=[Path(os.path.abspath(p)) for p in paths], report=report, seen=files, cache=cache)
    statuses = existing_models(entry[2] for entry in cache.values())
    for path in progress(list(files)):
        info = files[path]  # the walk's stat: one per file
        sha256 = cache_hit(cache.get(path), info)
        if sha256 is not None:
            report.cached += 1
            if statuses.get(sha256) == "ready":
                report.known += 1
                continue
        import_one(Path(path), info, sha256, report, in_place=in_place, model_type=model_type, base_model=base_model,
                   layout=layout)
    return report


def import_one(path: Path, info, sha256, report: ScanReport, *, in_place, model_type, base_model, layout=None):
    hint = folder_hint(path, layout)
    sidecar = read_sidecars(path)
    try:
        model, created = import_model_file(  # the row and its tags are one transaction (or nothing)
            path, model_type=model_type, base_model=base_model or hint.base_model, in_place=in_place,
            sidecar=sidecar, folder_type=hint.model_type,
        )
    except (ModelImportError, OSError) as exc:
        report.skipped.append((str(path), os_reason(exc) if isinstance(exc, OSError) else str(exc)))
        return
    finally:
        report.notes.extend(sidecar.problems)
    remember(path, info, model.hash)  # lost on a crash: the next scan hashes the file again
    if sha256 is None:
        report.hashed += 1
        report.hashed_bytes += info.st_size
    if created:
        report.imported.append((str(path), model))
    elif getattr(model, "completed_from", None):
        report.relinked.append((str(path), model))
    else:
        report.known += 1


def verify(under=None, report: ScanReport | None = None, seen=None, cache=None) -> ScanReport:
    """Check the in-place models (all, or those whose file lies under one of the paths `under`): `missing` when the
    file cannot be read, `changed` when its bytes are no longer the model's (re-hashed only when its size or mtime
    differ from the cache), `ready` again when it is back. `seen`: {path: stat} and `cache` (cached_hashes, updated
    here) that the caller already has."""
    report = report or ScanReport()
    seen = seen or {}
    prefixes = None if under is None else [(str(root), str(root).rstrip(os.sep) + os.sep) for root in under]
    rows = SDModel.objects.filter(local_path__isnull=False, status__in=["ready", "missing", "changed"])
    models = [model for model in rows.order_by("hash").only("hash", "name", "status", "local_path")
              if prefixes is None or any(model.local_path == exact or model.local_path.startswith(prefix)
                                         for exact, prefix in prefixes)]
    if cache is None:
        cache = {}
    unknown = [model.local_path for model in models if model.local_path not in cache]
    cache.update(cached_hashes(unknown))
    for model in models:
        status = file_status(model, seen.get(model.local_path), cache, report)
        if status != model.status:
            SDModel.objects.filter(pk=model.pk, status=model.status).update(status=status, updated_at=timezone.now())
            report.status_changes.append((model, model.status, status))
    return report


def file_status(model, info, cache, report: ScanReport) -> str:
    path = model.local_path
    try:
        info = info or os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return "missing"
        sha256 = cache_hit(cache.get(model.local_path), info)
        if sha256 is None:
            sha256, _ = hash_file(path)
            report.hashed += 1
            report.hashed_bytes += info.st_size
            remember(path, info, sha256)
            cache[model.local_path] = (info.st_size, info.st_mtime_ns, sha256)
    except OSError:
        return "missing"
    return "ready" if sha256 == model.hash else "changed"
