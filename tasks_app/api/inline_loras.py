"""LoRAs named in the prompt (D34): `<lora:NAME:WEIGHT>` resolved against the library at submission time."""

from __future__ import annotations

import math
import re
from pathlib import PurePath

from django.db.models import Q

from core.errors import invalid_request
from engine.a1111.prompts import extract_lora_tags
from models_app.models import SDModel

AUTOV2 = re.compile(r"[0-9a-fA-F]{10,64}")


def _file_stem(model: SDModel) -> str | None:
    """The original file name without extension, where the library knows it (Civitai imports)."""
    file_name = ((model.metadata or {}).get("civitai") or {}).get("file_name")
    return PurePath(file_name).stem if isinstance(file_name, str) and file_name else None


def library_loras(name: str) -> list[SDModel]:
    """Ready LoRAs that `name` names: model name (any case), file name without extension, or AutoV2 hash."""
    wanted = name.strip().casefold()
    if not wanted:
        return []
    query = Q(name__iexact=name.strip()) | Q(metadata__civitai__file_name__istartswith=name.strip())
    if AUTOV2.fullmatch(name.strip()):
        query |= Q(hash__startswith=name.strip().lower())
    matches = []
    for model in SDModel.objects.filter(query, model_type="lora", status="ready").order_by("hash"):
        stem = _file_stem(model)
        if (model.name.casefold() == wanted or (stem is not None and stem.casefold() == wanted)
                or model.hash.startswith(wanted)):
            matches.append(model)
    return matches


def inline_loras(prompt: str, checkpoint, listed: set[str], max_weight: float, compatible) -> list[tuple]:
    """(model, weight, None) for each LoRA tag of the prompt, or a 400 pointing at /prompt (D34).

    `listed`: hashes already in additional_models (naming one of them inline is a 400);
    `compatible(base_a, base_b)`: the base-model rule of D9.
    """
    _, tags = extract_lora_tags(prompt)
    extras, seen = [], {}
    for tag in tags:
        matches = library_loras(tag.name)
        if not matches:
            raise invalid_request(f"Unknown LoRA '{tag.name}' in {tag.tag}: no ready LoRA has this name, "
                                  "file name or AutoV2 hash", "/prompt")
        if len(matches) > 1:
            hashes = ", ".join(model.hash[:10] for model in matches)
            raise invalid_request(f"Ambiguous LoRA '{tag.name}' in {tag.tag}: it names {len(matches)} LoRAs "
                                  f"({hashes}); use the AutoV2 hash", "/prompt")
        model = matches[0]
        if not math.isfinite(tag.weight) or not 0.0 <= tag.weight <= max_weight:
            raise invalid_request(f"The weight of {tag.tag} must be a number between 0.0 and {max_weight}",
                                  "/prompt")
        if model.hash in listed:
            raise invalid_request(f"LoRA '{tag.name}' ({model.hash[:10]}) is both in the prompt and in "
                                  "additional_models; name it once", "/prompt")
        if model.hash in seen:
            raise invalid_request(f"LoRA '{tag.name}' is named more than once in the prompt "
                                  f"({seen[model.hash]} and {tag.tag})", "/prompt")
        if not compatible(model.base_model, checkpoint.base_model):
            raise invalid_request(f"LoRA '{tag.name}' is for base model {model.base_model}, "
                                  f"the checkpoint for {checkpoint.base_model}", "/prompt")
        seen[model.hash] = tag.tag
        extras.append((model, float(tag.weight), None))
    return extras
