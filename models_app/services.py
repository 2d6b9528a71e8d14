"""Model library operations: D3 updates, deletes (D11, D28) and importing local weights files."""

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.content_store import is_sha256, read_chunks
from core.errors import APIError, not_found
from core.registry import InUseChecks
from core.tags import tag_name_problem
from core.text import control_character_problem
from core.updates import (
    READ_ONLY_KEYS,
    UpdateTarget,
    non_empty_string,
    optional_string,
    reference_or_null,
)
from core.writes import write_transaction
from engine import prediction
from images_app.models import Image
from images_app.storage import InvalidImage, store_image_bytes
from models_app.civitai.manager import cancel_import
from models_app.inspect import (
    MODEL_EXTENSIONS,
    PREDICTION_TYPE_KEY,
    ZERO_TERMINAL_SNR_KEY,
    InvalidModelFile,
    inspect_model_file,
    prediction_metadata,
    prediction_type_value,
    zero_terminal_snr_value,
)
from models_app.models import MODEL_TYPES, ModelTag, SDModel
from models_app.storage import model_store
from system_app.models import Tag

MODEL_UPDATES = UpdateTarget(
    label="Model",
    model=SDModel,
    tag_link=ModelTag,
    tag_link_field="model",
    writable={
        "name": non_empty_string,
        "description": optional_string(),
        "base_model": optional_string(max_length=100),
        "source_url": optional_string(),
        "cover_image": reference_or_null(Image, "image"),
    },
    read_only=READ_ONLY_KEYS | {"error_message", "local_path"},
    touch="updated_at",
    metadata_checks={PREDICTION_TYPE_KEY: prediction_type_value, ZERO_TERMINAL_SNR_KEY: zero_terminal_snr_value},
)
DELETE_REASONS = {"not_found": "Model not found", "model_in_use": "Model in use by active task"}
COPY_CHUNK = 4 * 1024 * 1024


# --- deletes -----------------------------------------------------------------------------------

# Whether a pending or running task uses a model (D11); tasks_app registers its check.
model_in_use = InUseChecks("model")


def cancel_download(sha256):
    """Abort a running Civitai import of `sha256` and drop its partial file (D28)."""
    cancel_import(sha256)


def delete_model(pk) -> None:
    """Delete a model row and, after commit, its file (data-model.md "Deletion effects").

    Raises APIError 404 not_found, or 409 model_in_use while an active task needs it.
    """
    model = SDModel.objects.filter(pk=pk).first() if is_sha256(pk) else None
    if model is None:
        raise not_found(f"Model {pk} not found")
    if model.status == "downloading":
        cancel_download(model.hash)

    def write():  # SQLite: BEGIN IMMEDIATE; PostgreSQL: the row locked, so the check and the delete see one state
        model = SDModel.objects.select_for_update().filter(pk=pk).first()
        if model is None:
            raise not_found(f"Model {pk} not found")
        if model_in_use(model):
            raise APIError(409, "model_in_use", f"Model {pk} is used by a pending or running task")
        ext = model.file_ext
        model.delete()  # cascades: tags, task_models, checkpoint tasks; VAE tasks keep running without it
        transaction.on_commit(lambda: remove_model_file(pk, ext))

    write_transaction(write, tags=True)  # the cascades delete tag links


def remove_model_file(sha256, ext):
    if not SDModel.objects.filter(pk=sha256).exists():  # re-imported meanwhile: keep the file
        model_store().delete(sha256, ext)


def delete_model_rows(queryset):
    """Admin bulk delete: rows now, files after commit (no in-use checks: the admin may override); the rows locked
    first, in key order, like `delete_model`."""
    def write():
        rows = SDModel.objects.select_for_update().filter(pk__in=queryset.values("pk")).order_by("pk")
        files = list(rows.values_list("hash", "file_ext"))
        queryset.delete()
        for sha256, ext in files:
            transaction.on_commit(lambda sha256=sha256, ext=ext: remove_model_file(sha256, ext))

    write_transaction(write, tags=True)


# --- import of local files ---------------------------------------------------------------------

class ModelImportError(ValueError):
    """A local file cannot be imported; nothing was stored."""


def import_model_file(path, name=None, model_type=None, base_model=None, *, in_place=False, sidecar=None,
                      folder_type=None):
    """Add a local weights file to the library. Returns (SDModel, created).

    By default the file is hashed while it is copied into the store's temporary folder (one pass), inspected
    there (safetensors header, or a weights-only pickle load) and moved into place atomically. `in_place`
    registers it where it lies instead: hashed and inspected there, its absolute path kept in `local_path`,
    never copied, moved or deleted (docs/library.md "Model folders"). Kind and base model are inferred unless
    given (`folder_type`: the kind the file's folder suggests, see `kind_from`); `sidecar` (models_app.sidecars.Sidecar) adds name, description, trigger words, Civitai ids and cover
    to a new row. Importing the same bytes again changes nothing.
    """
    source = Path(os.path.abspath(path))
    if not source.is_file():
        raise ModelImportError(f"{path} is not a file")
    ext = source.suffix.lower()
    if ext not in MODEL_EXTENSIONS:
        raise ModelImportError(
            f"Unsupported file extension '{source.suffix}'; expected one of {', '.join(sorted(MODEL_EXTENSIONS))}"
        )
    if model_type is not None and model_type not in MODEL_TYPES:
        raise ModelImportError(f"Unknown model type '{model_type}'; expected one of {', '.join(MODEL_TYPES)}")
    sidecar_name = sidecar.name if sidecar is not None and not control_character_problem(sidecar.name or "") else None
    name = name if name is not None else sidecar_name or source.stem
    if not name.strip():
        raise ModelImportError("The model name must not be empty")
    if problem := control_character_problem(name):
        raise ModelImportError(f"The model name {problem}")

    store = model_store()
    if in_place:
        tmp_path, (sha256, size) = None, hash_in_place(source)
    else:
        tmp_path, sha256, size = copy_and_hash(source, store)
    try:
        existing = SDModel.objects.filter(pk=sha256).first()
        if existing is not None and existing.status == "ready":
            return existing, False
        if existing is not None and existing.status == "downloading":
            raise ModelImportError(f"Model {sha256} is being downloaded from Civitai; wait for it or delete it first")
        if size == 0:
            raise ModelImportError(f"{path} is empty")
        try:
            inspection = inspect_model_file(tmp_path or source, ext)
        except InvalidModelFile as exc:
            raise ModelImportError(f"{source.name}: {exc}") from None
        model_type = model_type or kind_from(folder_type, inspection.model_type, source, sidecar)
        if model_type is None:
            raise ModelImportError(
                f"{source.name}: unrecognised tensor layout; pass --type ({', '.join(MODEL_TYPES)})"
            )
        base_model = base_model or inspection.base_model or (sidecar.base_model if sidecar is not None else None)
        file_metadata = checkpoint_metadata(inspection, source) if model_type == "checkpoint" else {}
        row = ImportedRow(sha256, name, model_type, base_model, size, ext, str(source) if in_place else None,
                          file_metadata)
        if in_place:
            return save_imported_row(existing, row, sidecar)
        store.adopt(tmp_path, sha256, ext)
        tmp_path = None
        try:
            return save_imported_row(existing, row, sidecar)
        except BaseException:
            remove_model_file(sha256, ext)  # no row refers to it
            raise
    finally:
        if tmp_path is not None:
            os.unlink(tmp_path)


def checkpoint_metadata(inspection, source: Path) -> dict:
    """A checkpoint's prediction settings (engine/prediction.py) as metadata: from its `v_pred` / `ztsnr` keys, the
    prediction type overridden by a same-name `.yaml` sidecar (`parameterization: v`, A1111's way)."""
    metadata = dict(inspection.metadata)
    if (sidecar_type := prediction.read_sidecar(source)) is not None:
        metadata = prediction_metadata(prediction.Prediction(sidecar_type, metadata.get(ZERO_TERMINAL_SNR_KEY, False)))
    return metadata


def kind_from(folder_type, header_type, source: Path, sidecar=None):
    """The kind of a file from its folder's convention and its header: the folder's, unless the header recognises
    another kind (a LoRA dropped into `checkpoints/`: noted in the sidecar's problems) or the folder is a
    checkpoint folder and the header shows no single-file checkpoint (a diffusers component, another
    architecture: refused, it could not render)."""
    if folder_type is None:
        return header_type
    if header_type is not None and header_type != folder_type:
        if sidecar is not None:
            sidecar.problems.append((str(source), f"in a {folder_type} folder, but its tensors are a {header_type}'s: "
                                                  f"imported as {header_type}"))
        return header_type
    if folder_type == "checkpoint" and header_type is None:
        raise ModelImportError(f"{source.name}: in a checkpoint folder, but not a single-file SD1.5/SD2/SDXL "
                               "checkpoint (a diffusers component or another architecture)")
    return folder_type


def hash_in_place(source: Path):
    """(sha256, size) of a file read where it lies; refused when it changes while being read."""
    before = source.stat()
    digest, size = hash_file(source)
    after = source.stat()
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size:
        raise ModelImportError(f"{source} changed while it was being read; import it again when it is complete")
    return digest, size


def hash_file(path):
    """(sha256 hex digest, size) of the file at `path`."""
    digest = hashlib.sha256()
    size = 0
    for block in read_chunks(path, COPY_CHUNK):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def copy_and_hash(source: Path, store):
    """Copy `source` into a temporary file of `store`, hashing on the way: (temp path, sha256, size)."""
    return store.write_temp(read_chunks(source, COPY_CHUNK))


@dataclass(frozen=True)
class ImportedRow:
    sha256: str
    name: str
    model_type: str
    base_model: str | None
    size: int
    ext: str
    local_path: str | None  # in place: where the file lies
    metadata: dict = field(default_factory=dict)  # what the file says (a checkpoint's prediction settings)


def save_imported_row(existing, row: ImportedRow, sidecar=None):
    """The row for a file just moved into the store or registered in place: completes a `failed` Civitai import or
    a `missing`/`changed` in-place model of the same bytes (their metadata kept), or creates one with what the
    sidecar files say. The cover is stored first; the row and its tags are one transaction."""
    if existing is not None:
        SDModel.objects.filter(pk=row.sha256).update(
            size=row.size, file_ext=row.ext, local_path=row.local_path, status="ready", error_message=None,
            updated_at=timezone.now(),
        )
        model = SDModel.objects.get(pk=row.sha256)
        model.completed_from = existing.status  # for the scan's report
        return model, False
    fields = dict(name=row.name, model_type=row.model_type, base_model=row.base_model, size=row.size,
                  file_ext=row.ext, local_path=row.local_path, status="ready", error_message=None)
    tags = []
    if row.metadata:
        fields.update(metadata=dict(row.metadata))
    if sidecar is not None:
        metadata = dict(sidecar.metadata)
        if sidecar.trigger_words:
            metadata["trigger_words"] = list(sidecar.trigger_words)
        if sidecar.tags:
            metadata["civitai_tags"] = list(sidecar.tags)
        if sidecar.sources:
            metadata["sidecars"] = [os.path.basename(p) for p in sidecar.sources]
        fields.update(metadata={**metadata, **row.metadata}, description=sidecar.description,
                      source_url=sidecar.source_url, cover_image=sidecar_cover(sidecar))
        tags = [t for t in sidecar.tags if tag_name_problem(t) is None]

    def write():
        model = SDModel.objects.create(hash=row.sha256, **fields)
        if tags:
            model.tags.set(Tag.objects.named(tags))
        return model, True

    try:
        return write_transaction(write, tags=bool(tags))
    except IntegrityError:
        model = SDModel.objects.filter(pk=row.sha256).first()
        if model is None:
            raise
        return model, False


def sidecar_cover(sidecar):
    """The sidecar's preview stored in the image library (like a Civitai import's cover), or None; a preview that
    cannot be stored is noted in the sidecar's problems."""
    if sidecar.cover is None:
        return None
    try:
        image, _ = store_image_bytes(sidecar.cover.read_bytes(), metadata={"source": "model preview"},
                                     max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
    except (InvalidImage, OSError) as exc:
        sidecar.problems.append((str(sidecar.cover), f"preview not stored: {exc}"))
        return None
    return image
