"""What other hosts keep next to a weights file: its kind from the folder it lies in, and name, description,
trigger words, Civitai ids and cover from sidecar files (docs/library.md "Model folders").

Folder conventions (nearest folder first):
- AUTOMATIC1111 / Forge: `models/Stable-diffusion` (a `<name>.vae.*` file there is a VAE), `Lora`, `LyCORIS`,
  `VAE`, `ESRGAN`, `RealESRGAN`, `SwinIR`, `BSRGAN`, `ControlNet`, and `embeddings/` at the data root.
- ComfyUI (`folder_paths.py`): `checkpoints`, `loras`, `vae`, `upscale_models`, `controlnet`, `embeddings`.
- InvokeAI before model manager v3: `models/<base>/<type>/…` with bases `sd-1`, `sd-2`, `sdxl` and types `main`,
  `lora`, `vae`, `controlnet`, `embedding`, `ti` (newer InvokeAI names folders by UUID: the header decides).

Sidecars of `<dir>/<stem>.<ext>`, the first that gives a field wins:
- `<stem>.civitai.info`: A1111 Civitai Helper, the Civitai by-hash model-version document (`{}` when unknown).
- `<stem>.metadata.json`: ComfyUI LoRA Manager (`model_name`, `base_model`, `modelDescription`, `tags`, and the
  version document under `civitai`).
- `<stem>.json`: A1111's user metadata (`description`, `activation text`, `sd version`, `preferred weight`,
  `negative text`, `notes`).
- `<stem>.description.txt` / `<stem>.txt`: a description.
- Cover: `<stem>.png|jpg|jpeg|webp` (the user's own, as in A1111), then `<stem>.preview.png|jpg|jpeg|webp`.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.jsondata import is_int
from core.text import control_character_problem, json_text_problem
from models_app.civitai.mapping import html_to_markdown, map_base_model

SIDECAR_MAX_BYTES = 4 * 1024 * 1024  # larger sidecars are not read
PREVIEW_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
CIVITAI_PAGE = "https://civitai.com/models/{model_id}?modelVersionId={version_id}"

A1111_FOLDERS = {
    "stable-diffusion": "checkpoint", "lora": "lora", "lycoris": "lora", "vae": "vae", "esrgan": "upscaler",
    "realesrgan": "upscaler", "swinir": "upscaler", "bsrgan": "upscaler", "controlnet": "controlnet",
    "embeddings": "embedding",
}
COMFYUI_FOLDERS = {
    "checkpoints": "checkpoint", "loras": "lora", "vae": "vae", "upscale_models": "upscaler",
    "controlnet": "controlnet", "embeddings": "embedding",
}
INVOKEAI_BASES = {"sd-1": "SD1.5", "sd-2": "SD2.1", "sdxl": "SDXL"}
INVOKEAI_TYPES = {
    "main": "checkpoint", "lora": "lora", "vae": "vae", "controlnet": "controlnet", "embedding": "embedding",
    "ti": "embedding",
}
FOLDER_KINDS = A1111_FOLDERS | COMFYUI_FOLDERS
# A root's layout hint (SDHOST_MODEL_ROOTS): only that host's folder names give kinds under it.
LAYOUT_FOLDERS = {"a1111": A1111_FOLDERS, "comfyui": COMFYUI_FOLDERS, "invokeai": {}}
SD_VERSIONS = {"sd1": "SD1.5", "sd2": "SD2.1", "sdxl": "SDXL"}  # A1111's `sd version` of a LoRA's .json


@dataclass(frozen=True)
class FolderHint:
    model_type: str | None = None
    base_model: str | None = None


def folder_hint(path, layout=None) -> FolderHint:
    """Kind (and with InvokeAI's layout, base model) from the folders a weights file lies in, nearest first;
    `layout` (a1111, comfyui, invokeai) keeps to that host's folder names."""
    path = Path(path)
    parents = [part.casefold() for part in path.parent.parts]
    folders = FOLDER_KINDS if layout is None else LAYOUT_FOLDERS[layout]
    invokeai = layout in (None, "invokeai")
    for index in range(len(parents) - 1, -1, -1):
        name = parents[index]
        if invokeai and index > 0 and parents[index - 1] in INVOKEAI_BASES and name in INVOKEAI_TYPES:
            return FolderHint(INVOKEAI_TYPES[name], INVOKEAI_BASES[parents[index - 1]])
        if name in folders:
            kind = folders[name]
            if kind == "checkpoint" and ".vae" in [s.casefold() for s in path.suffixes[-2:-1]]:
                kind = "vae"  # A1111: `<checkpoint>.vae.safetensors` beside its checkpoint
            return FolderHint(kind)
    return FolderHint()


@dataclass
class Sidecar:
    """What the sidecar files of one weights file say; empty fields when they say nothing."""

    name: str | None = None
    description: str | None = None
    base_model: str | None = None
    source_url: str | None = None
    trigger_words: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)  # more keys for the model's metadata (civitai ids, a1111 notes)
    cover: Path | None = None
    sources: list = field(default_factory=list)  # the sidecar files read
    problems: list = field(default_factory=list)  # sidecars that could not be read, with why

    def fill(self, **values):
        """Set each field that is still empty."""
        for key, value in values.items():
            if value and not getattr(self, key):
                setattr(self, key, value)


def read_sidecars(path) -> Sidecar:
    path = Path(path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    folder = path.parent
    found = Sidecar()
    civitai = read_json(folder / f"{stem}.civitai.info", found)
    if civitai:
        fill_from_civitai(found, civitai)
    manager = read_json(folder / f"{stem}.metadata.json", found)
    if manager:
        found.fill(name=text(manager.get("model_name")), base_model=map_base_model(text(manager.get("base_model"))),
                   description=html_to_markdown(text(manager.get("modelDescription"))),
                   tags=strings(manager.get("tags")))
        if isinstance(manager.get("civitai"), dict):
            fill_from_civitai(found, manager["civitai"])
    user = read_json(folder / f"{stem}.json", found)
    if user:
        fill_from_a1111(found, user)
    for name in (f"{stem}.description.txt", f"{stem}.txt"):
        if description := read_text(folder / name, found):
            found.fill(description=description.strip())
            break
    drop_control_characters(found)
    for name in [f"{stem}{ext}" for ext in PREVIEW_EXTENSIONS] + [f"{stem}.preview{ext}" for ext in PREVIEW_EXTENSIONS]:
        if (folder / name).is_file():
            found.cover = folder / name
            break
    return found


def drop_control_characters(found: Sidecar):
    """Leave out what may not be stored (docs/input.md: control characters other than line breaks), with a note."""
    for key in ("name", "description", "base_model", "source_url"):
        if getattr(found, key) and (problem := control_character_problem(getattr(found, key))):
            found.problems.append((key, f"left out: it {problem}"))
            setattr(found, key, None)
    found.trigger_words = [w for w in found.trigger_words if control_character_problem(w) is None]
    found.tags = [t for t in found.tags if control_character_problem(t) is None]
    for key in list(found.metadata):
        if json_text_problem(found.metadata[key]) is not None:
            found.problems.append((key, "left out: it contains control characters"))
            del found.metadata[key]


def fill_from_civitai(found: Sidecar, version: dict):
    """A Civitai model-version document (the by-hash answer): name, description, base model, words, ids."""
    model = version.get("model") if isinstance(version.get("model"), dict) else {}
    model_name, version_name = text(model.get("name")), text(version.get("name"))
    name = model_name
    if model_name and version_name and version_name not in model_name:
        name = f"{model_name} {version_name}"
    version_id, model_id = version.get("id"), version.get("modelId")
    ids = {}
    if is_int(model_id) and model_id > 0:
        ids["model_id"] = model_id
    if is_int(version_id) and version_id > 0:
        ids["version_id"] = version_id
    found.fill(
        name=name or version_name,
        description=html_to_markdown(text(version.get("description")) or text(model.get("description"))),
        base_model=map_base_model(text(version.get("baseModel"))),
        trigger_words=strings(version.get("trainedWords")),
        tags=strings(model.get("tags")),
        source_url=CIVITAI_PAGE.format(**ids) if len(ids) == 2 else None,
    )
    if ids and "civitai" not in found.metadata:
        found.metadata["civitai"] = ids


def fill_from_a1111(found: Sidecar, user: dict):
    """A1111's `<name>.json` (the card's "edit metadata" dialog)."""
    words = text(user.get("activation text"))
    found.fill(
        description=text(user.get("description")),
        base_model=SD_VERSIONS.get((text(user.get("sd version")) or "").casefold()),
        trigger_words=[words] if words else [],
    )
    notes = {key.replace(" ", "_"): user[key] for key in ("preferred weight", "negative text", "notes")
             if user.get(key) not in (None, "", 0)}
    if notes and "a1111" not in found.metadata:
        found.metadata["a1111"] = notes


def read_json(path: Path, found: Sidecar):
    body = read_text(path, found)
    if body is None:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        found.problems.append((str(path), f"not JSON: {exc}"))
        return None
    return value if isinstance(value, dict) else None


def read_text(path: Path, found: Sidecar):
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > SIDECAR_MAX_BYTES:
            found.problems.append((str(path), f"larger than {SIDECAR_MAX_BYTES} bytes"))
            return None
        body = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        found.problems.append((str(path), exc.strerror or str(exc)))
        return None
    found.sources.append(str(path))
    return body


def text(value):
    return value.strip() or None if isinstance(value, str) else None


def strings(value):
    return [item.strip() for item in value if isinstance(item, str) and item.strip()] if isinstance(value, list) else []
