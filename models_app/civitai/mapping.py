"""From Civitai catalogue documents to what SD-Host stores: types, base models, the import plan."""

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from markdownify import markdownify

from core.errors import APIError, invalid_request
from core.jsondata import INT64_MAX, digits_value, integral
from core.tags import tag_name_problem

MODEL_TYPES = {
    "Checkpoint": "checkpoint",
    "LORA": "lora",
    "LoCon": "lora",
    "DoRA": "lora",
    "TextualInversion": "embedding",
    "VAE": "vae",
    "Controlnet": "controlnet",
    "Upscaler": "upscaler",
}
# Civitai's baseModel -> the library's base_model (the engine's families: models_app/inspect.py BASE_MODELS). The
# SDXL derivatives (Pony, Illustrious, NoobAI, the distilled Lightning/Turbo/Hyper) are SDXL checkpoints and take
# SDXL LoRAs; Flux.1 and SD 3.5 keep Civitai's label (not rendered yet: refused at submission)
BASE_MODELS = {
    "SD 1.5": "SD1.5", "SD 2.1": "SD2.1",
    "SDXL 1.0": "SDXL", "SDXL Lightning": "SDXL", "SDXL Turbo": "SDXL", "SDXL Hyper": "SDXL",
    "Pony": "SDXL", "Illustrious": "SDXL", "NoobAI": "SDXL",
}


def map_model_type(civitai_type):
    """SD-Host's model_type for a Civitai type, or None when SD-Host does not hold that kind."""
    return MODEL_TYPES.get(civitai_type)


def map_base_model(civitai_base):
    """'SD 1.5' → 'SD1.5', 'SD 2.1' → 'SD2.1', 'SDXL 1.0' and the SDXL derivatives → 'SDXL' (BASE_MODELS); others
    ('Flux.1 D', 'SD 3.5 Large', ...) as given."""
    if not civitai_base:
        return None
    return BASE_MODELS.get(civitai_base, civitai_base)


def html_to_markdown(html):
    if not html:
        return None
    return markdownify(html, heading_style="ATX", bullets="-").strip() or None


def parse_id(value, key, required=True):
    """A positive catalogue id from a JSON value (integer, 10391.0 included, or string of ASCII digits, at most 2^63 - 1); 400 naming
    the key otherwise."""
    if value is None and not required:
        return None
    number = digits_value(value) if isinstance(value, str) else integral(value)
    if number is not None and 0 < number <= INT64_MAX:
        return number
    if value is None:
        raise invalid_request(f"'{key}' is required", pointer=f"/{key}")
    raise invalid_request(f"'{key}' must be a positive integer or a string of digits, at most {INT64_MAX}",
                          pointer=f"/{key}")


@dataclass
class ImportPlan:
    """Everything an import needs, derived from the catalogue's version and model documents."""

    hash: str
    civitai_model_id: int
    version_id: int
    name: str
    model_type: str
    base_model: str | None
    size: int
    description: str | None
    source_url: str
    file_name: str
    file_ext: str
    download_url: str
    trigger_words: list = field(default_factory=list)
    civitai_tags: list = field(default_factory=list)
    preview_url: str | None = None

    @property
    def tags(self):
        """Catalogue tags that are valid SD-Host tag names (D29: longer ones only in metadata)."""
        return [t for t in self.civitai_tags if tag_name_problem(t) is None]

    @property
    def metadata(self):
        return {
            "trigger_words": list(self.trigger_words),
            "civitai": {"model_id": self.civitai_model_id, "version_id": self.version_id, "file_name": self.file_name},
            "civitai_tags": list(self.civitai_tags),
        }


def primary_file(version):
    files = [f for f in version.get("files") or [] if isinstance(f, dict)]
    for candidate in files:
        if candidate.get("primary") is True:
            return candidate
    return next((f for f in files if f.get("type") == "Model"), None)


def first_preview_url(version):
    for image in version.get("images") or []:
        if isinstance(image, dict) and image.get("url") and image.get("type", "image") == "image":
            return image["url"]
    return None


def build_plan(model: dict, version: dict, page_url: str) -> ImportPlan:
    """The import plan for one version; 400 for a type SD-Host does not hold or a version without a usable file."""
    version_id = version.get("id")
    civitai_type = model.get("type") or (version.get("model") or {}).get("type")
    model_type = map_model_type(civitai_type)
    if model_type is None:
        raise invalid_request(
            f"Civitai model type '{civitai_type}' is not supported; SD-Host holds "
            + ", ".join(sorted(MODEL_TYPES)),
            pointer="/model_id",
        )
    file = primary_file(version)
    if file is None or not file.get("downloadUrl") or not file.get("name"):
        raise invalid_request(f"Civitai version {version_id} has no downloadable model file", pointer="/version_id")
    sha256 = str((file.get("hashes") or {}).get("SHA256") or "").lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise APIError(502, "catalogue_unavailable", f"Civitai states no SHA256 for the file of version {version_id}")
    size_kb = file.get("sizeKB")
    size = round(float(size_kb) * 1024) if isinstance(size_kb, (int, float)) and size_kb > 0 else 1
    file_name = PurePosixPath(str(file["name"])).name
    suffix = PurePosixPath(file_name).suffix.lower()
    model_name = str(model.get("name") or (version.get("model") or {}).get("name") or file_name).strip()
    version_name = str(version.get("name") or "").strip()
    tags = [t for t in model.get("tags") or [] if isinstance(t, str)]
    words = [w for w in version.get("trainedWords") or [] if isinstance(w, str)]
    return ImportPlan(
        hash=sha256,
        civitai_model_id=int(model.get("id") or version.get("modelId")),
        version_id=int(version_id),
        name=f"{model_name} {version_name}".strip() if version_name and version_name not in model_name else model_name,
        model_type=model_type,
        base_model=map_base_model(version.get("baseModel")),
        size=size,
        description=html_to_markdown(model.get("description")),
        source_url=page_url,
        file_name=file_name,
        file_ext=suffix if 1 < len(suffix) <= 20 else ".safetensors",
        download_url=file["downloadUrl"],
        trigger_words=words,
        civitai_tags=tags,
        preview_url=first_preview_url(version),
    )
