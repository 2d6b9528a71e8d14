"""Civitai by hash (issue 24 item 3): a model without Civitai data is looked up with
`GET /api/v1/model-versions/by-hash/{sha256}` (and its model's document, for description and tags), and what Civitai
says fills in what the model lacks; the first preview becomes its cover in the image library.

Each model's outcome is recorded in its metadata as `civitai_sync: {state, at[, detail]}`:
- `synced`: filled in (the model now has `metadata.civitai`, so it is not looked up again);
- `not_found`: Civitai does not know the file (404); not retried unless asked (`retry_not_found`);
- `offline`: Civitai unreachable, timed out or 5xx; retried by the next sync;
- `failed`: another answer (401/403, invalid JSON); retried by the next sync.
A sync is resumable: an interrupted run leaves the rest unsynced, and the next run picks them up. Lookups are
rate-limited process-wide (SDHOST_CIVITAI_SYNC_RATE requests per second, at most: `RateLimiter`).
"""

import logging
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.errors import APIError
from core.tags import tag_name_problem
from core.writes import write_transaction
from models_app.models import FileHash, SDModel
from models_app.sidecars import Sidecar, drop_control_characters, fill_from_civitai
from system_app.models import Tag

from .client import CivitaiClient
from .manager import store_preview
from .mapping import first_preview_url

log = logging.getLogger(__name__)

RETRIED = (None, "offline", "failed")  # states a sync looks up again (`not_found` only when asked)


class RateLimiter:
    """At most `rate()` requests per second: each request starts at least 1/rate seconds after the previous one
    ended (so a slow answer never lets two requests bunch up)."""

    def __init__(self, rate):
        self.rate = rate
        self._lock = threading.Lock()
        self._last_end = None

    def __enter__(self):
        self._lock.acquire()
        if self._last_end is not None:
            wait = self._last_end + 1.0 / self.rate() - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        return self

    def __exit__(self, *exc):
        self._last_end = time.monotonic()
        self._lock.release()


limiter = RateLimiter(lambda: float(settings.SDHOST["CIVITAI_SYNC_RATE"]))


def has_civitai_data(model) -> bool:
    return bool((model.metadata or {}).get("civitai"))


def sync_state(model):
    return (model.metadata or {}).get("civitai_sync")


def is_due(model, retry_not_found=False) -> bool:
    """Whether a sync looks this model up: no Civitai data, and not recorded `not_found` (unless asked)."""
    if has_civitai_data(model) or model.status == "downloading":
        return False
    state = (sync_state(model) or {}).get("state")
    return state in RETRIED or (retry_not_found and state == "not_found")


def due_hashes(retry_not_found=False) -> list[str]:
    """The models a `--all` sync looks up, in hash order."""
    rows = SDModel.objects.exclude(status="downloading").order_by("hash").only("hash", "status", "metadata")
    return [model.hash for model in rows.iterator() if is_due(model, retry_not_found)]


def sync_model(model_hash, client: CivitaiClient | None = None) -> dict:
    """Look one model up by its hash and fill it in; returns its recorded `civitai_sync` state. A model that has
    Civitai data already is left as it is (its state returned, `synced` when none was recorded)."""
    model = SDModel.objects.get(pk=model_hash)
    if has_civitai_data(model):
        return sync_state(model) or {"state": "synced"}
    client = client or CivitaiClient()
    try:
        with limiter:
            version = client.get_by_hash(model_hash)
        model_doc = model_document(version, client)
    except APIError as exc:
        if exc.status == 404:
            return record(model_hash, "not_found")
        return record(model_hash, "offline" if getattr(exc, "offline", False) else "failed", exc.detail)
    found = Sidecar()
    fill_from_civitai(found, {**version, "model": {**(version.get("model") or {}), **model_doc}})
    drop_control_characters(found)
    if not found.metadata.get("civitai"):
        return record(model_hash, "failed", "Civitai's answer names no model or version id")
    cover = None
    preview_url = first_preview_url(version)
    if preview_url and model.cover_image_id is None:
        cover = store_preview(preview_url, model_hash, client)
    return fill_in(model_hash, found, cover)


def model_document(version, client):
    """Description and tags from the version's model document ({} when Civitai has none: 404)."""
    model_id = version.get("modelId")
    if not isinstance(model_id, int) or isinstance(model_id, bool) or model_id <= 0:
        return {}
    try:
        with limiter:
            document = client.get_model(model_id)
    except APIError as exc:
        if exc.status == 404:
            return {}
        raise
    return {key: document[key] for key in ("description", "tags") if document.get(key)}


def file_stems(model) -> set:
    """The stems of the file names the model is known by (its in-place path, the scans' hash cache)."""
    paths = set(FileHash.objects.filter(sha256=model.hash).values_list("path", flat=True))
    if model.local_path:
        paths.add(model.local_path)
    return {Path(path).stem for path in paths}


def fill_in(model_hash, found: Sidecar, cover) -> dict:
    """Fill the model's empty fields from Civitai's answer (the name only while it is a file name's stem); the
    row, its tags and its state are one transaction."""
    state = new_state("synced")
    tags = [t for t in found.tags if tag_name_problem(t) is None]

    def write():
        model = SDModel.objects.get(pk=model_hash)
        if found.name and model.name in file_stems(model):
            model.name = found.name
        for key in ("description", "base_model", "source_url"):
            if getattr(found, key) and not getattr(model, key):
                setattr(model, key, getattr(found, key))
        if cover is not None and model.cover_image_id is None:
            model.cover_image = cover
        metadata = dict(model.metadata or {})
        metadata["civitai"] = found.metadata["civitai"]
        if found.trigger_words and not metadata.get("trigger_words"):
            metadata["trigger_words"] = list(found.trigger_words)
        if found.tags:
            metadata["civitai_tags"] = list(found.tags)
        metadata["civitai_sync"] = state
        model.metadata = metadata
        model.save()
        if tags:
            model.tags.add(*Tag.objects.named(tags))
        return state

    return write_transaction(write, tags=bool(tags))


def new_state(state, detail=None) -> dict:
    entry = {"state": state, "at": timezone.now().isoformat()}
    if detail:
        entry["detail"] = detail
    return entry


def record(model_hash, state, detail=None) -> dict:
    """Record a lookup that filled nothing in (`not_found`, `offline`, `failed`)."""
    entry = new_state(state, detail)
    if state != "not_found":
        log.info("Civitai sync of %s: %s%s", model_hash, state, f" ({detail})" if detail else "")

    def write():
        model = SDModel.objects.get(pk=model_hash)
        model.metadata = {**(model.metadata or {}), "civitai_sync": entry}
        model.save(update_fields=["metadata", "updated_at"])
        return entry

    return write_transaction(write)


def sync_many(hashes, on_result=lambda model_hash, state: None) -> dict:
    """Sync each model in turn (stopping early is safe: the rest stay due). {state: count}."""
    client = CivitaiClient()
    counts = {}
    for model_hash in hashes:
        if not SDModel.objects.filter(pk=model_hash).exists():  # deleted meanwhile
            continue
        state = sync_model(model_hash, client)
        counts[state["state"]] = counts.get(state["state"], 0) + 1
        on_result(model_hash, state)
    return counts


class BatchRunner:
    """The batch form of the API: one batch at a time per process, in a thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread = None

    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def start(self, hashes) -> bool:
        """Start syncing `hashes` in the background; False when a batch is running already."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._thread = threading.Thread(target=self._run, args=(list(hashes),), name="civitai-sync", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout=None):
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, hashes):
        try:
            counts = sync_many(hashes)
            log.info("Civitai sync of %d model(s): %s", len(hashes), counts)
        except Exception:  # noqa: BLE001 - a background batch must never die silently
            log.exception("Civitai sync batch crashed")
        finally:
            connection.close()


batch = BatchRunner()
