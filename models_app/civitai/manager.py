"""Civitai import orchestration (D2, D12, D28, D29).

`start_import()` reads the catalogue, creates the model row at once (`downloading`) and hands the
file to a bounded thread pool (settings.SDHOST["DOWNLOAD_CONCURRENCY"]). Each job streams the file
through `Download`, persists its progress about once a second, publishes progress on the SSE channel
`import-<hash>` a few times a second, and ends with a `completed` or `failed` event.
"""

import errno
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from core.content_store import read_chunks
from core.errors import APIError, invalid_request, not_found
from core.sse import publish
from core.writes import write_transaction
from images_app.storage import InvalidImage, store_image_bytes
from models_app.inspect import PICKLE_EXTENSIONS, InvalidModelFile, pickle_shapes
from models_app.models import CivitaiImport, SDModel
from models_app.storage import model_store
from system_app.models import Tag

from . import lease
from .client import CivitaiClient
from .downloader import Download, DownloadBusy, DownloadCancelled, DownloadFailed
from .mapping import ImportPlan, build_plan

log = logging.getLogger(__name__)

EVENT_INTERVAL = 0.25  # seconds between progress events
PERSIST_INTERVAL = 1.0  # seconds between progress writes to the database
SPEED_WINDOW = 5.0  # seconds of history behind the reported speed
CANCEL_WAIT = 5.0  # seconds cancel_import() waits for the job to let go of its file


def channel(model_hash):
    return f"import-{model_hash}"


def part_path(model_hash) -> Path:
    return Path(settings.SDHOST["CACHE_PATH"]) / "downloads" / f"{model_hash}.part"


def format_speed(bytes_per_second):
    """A readable rate in binary units: '512B/s', '2.3MB/s'."""
    value = float(bytes_per_second)
    if value < 1024:
        return f"{value:.0f}B/s"
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            return f"{value:.1f}{unit}/s"


def format_eta(seconds):
    seconds = max(int(round(seconds)), 0)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress_event(done, total, speed=0.0):
    percent = min(round(done * 100.0 / total, 1), 100.0) if total else 0.0
    eta = (total - done) / speed if speed > 0 and total else 0
    return {"status": "downloading", "progress": percent, "speed": format_speed(speed), "eta": format_eta(eta)}


def final_event(model):
    """The last event of an import, or None while it is still downloading.

    `completed` carries the model's hash; the API's stream shows the model itself (`model_info`)."""
    if model.status == "ready":
        return {"status": "completed", "hash": model.hash}
    if model.status == "failed":
        return {"status": "failed", "error": model.error_message or "Import failed"}
    return None


def is_final_event(data) -> bool:
    return data.get("status") in ("completed", "failed")


class ImportJob:
    """The in-memory side of one running import: its download, speed meter and last event."""

    def __init__(self, model_hash):
        self.hash = model_hash
        self.download = None
        self.cancelled = threading.Event()
        self.started = threading.Event()
        self.done = threading.Event()
        self.last_event = None
        self.listener = None  # extra per-chunk callback (the management command's progress bar)
        self._samples = deque()
        self._next_event = 0.0
        self._next_persist = time.monotonic() + PERSIST_INTERVAL
        self._persisted_size = None

    def cancel(self):
        self.cancelled.set()
        if self.download is not None:
            self.download.cancel()

    def speed(self, now, fetched):
        self._samples.append((now, fetched))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW:
            self._samples.popleft()
        then, before = self._samples[0]
        return (fetched - before) / (now - then) if now > then else 0.0

    def on_progress(self, download: Download, catalogue_size):
        if self.listener is not None:
            self.listener(download)
        now = time.monotonic()
        if now >= self._next_event:
            self._next_event = now + EVENT_INTERVAL
            self.last_event = progress_event(download.bytes_done, download.total or catalogue_size,
                                             self.speed(now, download.fetched))
            publish(channel(self.hash), self.last_event)
        if now >= self._next_persist:
            self._next_persist = now + PERSIST_INTERVAL
            self.persist(download)

    def persist(self, download: Download):
        lease.renew(self.hash, bytes_done=download.bytes_done, validator=download.validator, updated_at=timezone.now())
        if download.total and download.total != self._persisted_size:
            self._persisted_size = download.total
            SDModel.objects.filter(pk=self.hash, status="downloading").update(size=download.total)


class ImportManager:
    """Runs imports on a bounded thread pool; one job per model hash."""

    def __init__(self):
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()
        self._pool = None
        self._pool_size = None

    def _executor(self):
        """The download pool, sized by DOWNLOAD_CONCURRENCY (a changed setting takes effect for new jobs)."""
        size = max(1, int(settings.SDHOST["DOWNLOAD_CONCURRENCY"]))
        if self._pool is None or size != self._pool_size:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            self._pool = ThreadPoolExecutor(size, thread_name_prefix="civitai-import")
            self._pool_size = size
        return self._pool

    def active_hashes(self):
        with self._lock:
            return list(self._jobs)

    def is_active(self, model_hash) -> bool:
        with self._lock:
            return model_hash in self._jobs

    def job(self, model_hash):
        with self._lock:
            return self._jobs.get(model_hash)

    def enqueue(self, model_hash) -> bool:
        """Download in the background; False when this hash is already being imported."""
        with self._lock:
            if model_hash in self._jobs:
                return False
            job = self._jobs[model_hash] = ImportJob(model_hash)
            self._executor().submit(self._run_job, job)
            return True

    def run_foreground(self, model_hash, listener=None):
        """Download in the calling thread (manage.py import_civitai); returns the final model row."""
        with self._lock:
            job = self._jobs.get(model_hash)
            if job is None:
                job = self._jobs[model_hash] = ImportJob(model_hash)
                job.listener = listener
                owned = True
            else:
                owned = False
        if owned:
            self._run_job(job, close_connection=False)
        else:
            job.done.wait()
        return SDModel.objects.filter(pk=model_hash).first()

    def cancel(self, model_hash) -> bool:
        """Abort a running or queued import and remove its temporary file (D28). True if there was one."""
        job = self.job(model_hash)
        if job is not None:
            job.cancel()
            if job.started.is_set():  # a queued job just ends when its turn comes
                job.done.wait(CANCEL_WAIT)
            publish(channel(model_hash), {"status": "failed", "error": "Import cancelled"})
        part_path(model_hash).unlink(missing_ok=True)
        return job is not None

    def _run_job(self, job: ImportJob, close_connection=True):
        job.started.set()
        try:
            if not job.cancelled.is_set():
                self._import_file(job)
        except Exception:  # noqa: BLE001 - a job must never die silently
            log.exception("Civitai import %s crashed", job.hash)
            self._fail(job.hash, "Unexpected error during the download; see the server log")
        finally:
            with self._lock:
                self._jobs.pop(job.hash, None)
            job.done.set()
            if close_connection:
                connection.close()

    def _import_file(self, job: ImportJob):
        if not lease.acquire(job.hash):
            log.info("Civitai import %s is being downloaded by another process", job.hash)
            return
        try:
            self._download(job)
        finally:
            lease.release(job.hash)

    def _download(self, job: ImportJob):
        record = CivitaiImport.objects.select_related("model").filter(pk=job.hash).first()
        if record is None or record.model.status != "downloading":
            return
        model = record.model
        part = part_path(job.hash)
        with CivitaiClient().session() as session:
            download = Download(session, record.download_url, part, job.hash, validator=record.validator,
                                on_progress=lambda d: job.on_progress(d, model.size))
            job.download = download
            if job.cancelled.is_set():
                download.cancel()
            try:
                result = download.run()
            except DownloadCancelled:
                part.unlink(missing_ok=True)  # cancel() tells the followers
                return
            except DownloadBusy:
                log.warning("Civitai import %s is being downloaded by another process", job.hash)
                return
            except DownloadFailed as exc:
                if exc.keep_partial:
                    job.persist(download)
                else:
                    part.unlink(missing_ok=True)
                self._fail(job.hash, str(exc), keep_progress=exc.keep_partial)
                return
            except BaseException:
                job.persist(download)
                raise
        if job.cancelled.is_set():
            part.unlink(missing_ok=True)
            return
        if refusal := pickle_refusal(result.path, model.file_ext):
            part.unlink(missing_ok=True)  # the catalogue's hash matched: downloading it again gives the same bytes
            self._fail(job.hash, refusal)
            return
        target = adopt_into_store(result.path, job.hash, model.file_ext)
        updated = SDModel.objects.filter(pk=job.hash, status="downloading").update(
            status="ready", size=result.size, error_message=None, local_path=None, updated_at=timezone.now())
        if not updated:
            if not SDModel.objects.filter(pk=job.hash).exists():  # deleted meanwhile: no orphan file
                target.unlink(missing_ok=True)
            return
        CivitaiImport.objects.filter(pk=job.hash).update(bytes_done=result.size, validator=download.validator,
                                                         updated_at=timezone.now())
        log.info("Civitai import %s complete (%d bytes)", job.hash, result.size)
        publish(channel(job.hash), final_event(SDModel.objects.get(pk=job.hash)))

    def _fail(self, model_hash, message, keep_progress=False):
        log.warning("Civitai import %s failed: %s", model_hash, message)
        SDModel.objects.filter(pk=model_hash, status="downloading").update(
            status="failed", error_message=message, updated_at=timezone.now())
        if not keep_progress:
            CivitaiImport.objects.filter(pk=model_hash).update(bytes_done=0, updated_at=timezone.now())
        publish(channel(model_hash), {"status": "failed", "error": message})


def pickle_refusal(path: Path, ext) -> str | None:
    """Why a downloaded pickle-format file is refused (the weights-only inspection of import_model), or None."""
    if ext.lower() not in PICKLE_EXTENSIONS:
        return None
    try:
        pickle_shapes(path)
    except InvalidModelFile as exc:
        return f"The downloaded file was refused: {exc}"
    return None


def adopt_into_store(path: Path, model_hash, ext) -> Path:
    """Move the verified file into the model store (atomic rename; a copy first across filesystems)."""
    store = model_store()
    try:
        return store.adopt(path, model_hash, ext)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    target = store.put_file(read_chunks(path, 16 * 1024 * 1024), ext, model_hash)
    path.unlink(missing_ok=True)
    return target


manager = ImportManager()


# -- catalogue side ---------------------------------------------------------------------------------

def fetch_plan(model_id: int | None, version_id: int | None, client: CivitaiClient) -> ImportPlan:
    """Read the catalogue: the requested version (default: the model's latest) and its model."""
    if version_id is None:
        model = client.get_model(model_id)
        versions = [v for v in model.get("modelVersions") or [] if isinstance(v, dict) and v.get("id")]
        if not versions:
            raise not_found(f"Civitai model {model_id} has no versions")
        version = client.get_version(int(versions[0]["id"]))
    else:
        version = client.get_version(version_id)
        owner = version.get("modelId")
        if model_id is not None and owner is not None and owner != model_id:
            raise invalid_request(f"Civitai version {version_id} belongs to model {owner}, not {model_id}",
                                  pointer="/version_id")
        model_id = model_id or owner
        if not model_id:
            raise APIError(502, "catalogue_unavailable", f"Civitai states no model for version {version_id}")
        model = client.get_model(model_id)
    return build_plan(model, version, client.model_page_url(model_id, version.get("id")))


def ensure_enabled():
    if not settings.SDHOST["CIVITAI_ENABLED"]:
        raise APIError(403, "feature_disabled", "Civitai imports are disabled (SDHOST_CIVITAI_ENABLED=false)")


def start_import(model_id: int | None, version_id: int | None = None, *, background=True):
    """Begin (or look up) the import of a Civitai version. Returns (model, started).

    Either id may be None (not both): no version means the model's latest, no model means the
    version's own. `started` is True when a download is due: a new model, a `failed` one (D29) or a
    `downloading` one nothing is downloading; with background=False the caller runs it
    (`manager.run_foreground`). Raises APIError (400, 403, 404, 502) for catalogue problems.
    """
    ensure_enabled()
    client = CivitaiClient()
    plan = fetch_plan(model_id, version_id, client)
    model, created = create_or_restart(plan)
    if created:
        attach_preview(model, plan, client)
    started = model.status == "downloading" and not manager.is_active(plan.hash) and not lease.held_elsewhere(plan.hash)
    if started and background:
        manager.enqueue(plan.hash)
    return model, started


def create_or_restart(plan: ImportPlan):
    """The model row for `plan`: created as `downloading`, or an existing one (a `failed` one restarted)."""
    def write():
        model = SDModel.objects.filter(pk=plan.hash).first()
        if model is None:
            model = SDModel.objects.create(
                hash=plan.hash, name=plan.name, model_type=plan.model_type, base_model=plan.base_model,
                size=plan.size, source_url=plan.source_url, metadata=plan.metadata,
                description=plan.description, status="downloading", file_ext=plan.file_ext,
            )
            model.tags.set(Tag.objects.named(plan.tags))
            save_import_record(model, plan)
            return model, True
        if model.status in ("failed", "missing", "changed"):  # an in-place file gone: the download goes to the store
            model.status, model.error_message = "downloading", None
            model.save(update_fields=["status", "error_message", "updated_at"])
            save_import_record(model, plan)
        return model, False

    try:
        return write_transaction(write, tags=bool(plan.tags))  # the new model's tag links
    except IntegrityError:  # a concurrent request created it first
        return SDModel.objects.get(pk=plan.hash), False


def save_import_record(model, plan: ImportPlan):
    record, created = CivitaiImport.objects.get_or_create(model=model, defaults={
        "civitai_model_id": plan.civitai_model_id, "version_id": plan.version_id,
        "file_name": plan.file_name, "download_url": plan.download_url,
    })
    if not created:
        record.civitai_model_id, record.version_id = plan.civitai_model_id, plan.version_id
        record.file_name, record.download_url = plan.file_name, plan.download_url
        record.save()


def attach_preview(model, plan: ImportPlan, client: CivitaiClient):
    """Store the first preview image as the cover; a failure is logged, never fatal."""
    if not plan.preview_url:
        return
    image = store_preview(plan.preview_url, model.hash, client)
    if image is not None:
        SDModel.objects.filter(pk=model.hash, cover_image__isnull=True).update(cover_image=image)
        model.cover_image = image


def store_preview(url, model_hash, client: CivitaiClient):
    """A catalogue preview image stored in the image library, or None (logged) when it cannot be fetched or stored."""
    try:
        data = client.fetch_bytes(url, settings.SDHOST["MAX_UPLOAD_BYTES"])
        image, _ = store_image_bytes(data, metadata={"source_url": url}, max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
    except (requests.RequestException, ValueError, InvalidImage, OSError) as exc:
        log.warning("Preview image of %s not stored: %s", model_hash, exc)
        return None
    return image


# -- process-level entry points ----------------------------------------------------------------------

def import_state(model_hash):
    """The current state as an SSE event (progress or final), or None for an unknown hash."""
    model = SDModel.objects.filter(pk=model_hash).first()
    if model is None:
        return None
    if model.status != "downloading":
        return final_event(model)
    job = manager.job(model_hash)
    if job is not None and job.last_event is not None:
        return job.last_event
    if job is None and settings.SDHOST["CIVITAI_ENABLED"] and settings.SDHOST["AUTO_DOWNLOAD"] \
            and lease.orphaned(model_hash):
        manager.enqueue(model_hash)  # the process downloading it died (lease expired): this one resumes it
    record = CivitaiImport.objects.filter(pk=model_hash).first()
    return progress_event(record.bytes_done if record else 0, model.size)


def resume_pending_imports():
    """Continue, in the background, every Civitai import left `downloading` (e.g. by a restart).

    Each continues from its partial file. Returns the hashes; none while imports are disabled.
    """
    if not settings.SDHOST["CIVITAI_ENABLED"]:
        return []
    hashes = list(CivitaiImport.objects.filter(model__status="downloading").values_list("model_id", flat=True))
    for model_hash in hashes:
        manager.enqueue(model_hash)
    return hashes


def cancel_import(model_hash) -> bool:
    """Abort a running import of `model_hash` and remove its temporary file (D28)."""
    return manager.cancel(model_hash)
