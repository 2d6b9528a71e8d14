"""PNG output with the generation parameters in WebUI's `parameters` text chunk (D10)."""

import io

from .img2img import parameter_fields
from .infotext import quote
from .interface import RenderRequest
from .parameters import NAMES, format_number, infotext_fields

__all__ = ["encode_png", "format_number", "format_parameters", "short_hash"]


def short_hash(sha256: str) -> str:
    return sha256[:10]


def _hash_name(name: str) -> str:
    """A name inside `Lora hashes` / `TI hashes`: without ':' and ',' as A1111 writes it."""
    return name.replace(":", "").replace(",", "")


def format_parameters(request: RenderRequest, seed: int) -> str:
    """The `parameters` text: prompt, optional negative prompt line, then the `Key: value` line."""
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    values = {name: getattr(request, name) for name in NAMES} | {"seed": seed}
    checkpoint = request.checkpoint
    fields = infotext_fields(values, after_models=False)
    fields += [("Model hash", short_hash(checkpoint.sha256)), ("Model", checkpoint.name)]
    if request.vae is not None:
        fields += [("VAE hash", short_hash(request.vae.sha256)), ("VAE", request.vae.name)]
    fields += infotext_fields(values, after_models=True)
    fields += parameter_fields(request)
    if request.loras:
        hashes = ", ".join(f"{_hash_name(spec.model.name)}: {short_hash(spec.model.sha256)}" for spec in request.loras)
        fields.append(("Lora hashes", hashes))
    if request.embeddings:
        hashes = ", ".join(f"{_hash_name(e.token)}: {short_hash(e.model.sha256)}" for e in request.embeddings)
        fields.append(("TI hashes", hashes))
    lines.append(", ".join(f"{key}: {quote(value)}" for key, value in fields))  # quoted as A1111 does
    return "\n".join(lines)


def encode_png(image, parameters: str) -> bytes:
    """Deterministic PNG bytes (no time chunk) carrying `parameters` (tEXt, or iTXt beyond Latin-1)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
