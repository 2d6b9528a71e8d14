"""Parameters in, parameters out (D35): an A1111 infotext as a POST /api/tasks body, resolved against the library.

`POST /api/tasks/parse-parameters` parses a posted infotext; `GET /api/images/{hash}/parameters` the stored
image's own `parameters` chunk. The answer is `{"task", "unresolved", "ignored"}`; parsing never fails on
unknown keys or values (a value we cannot use is listed in `ignored`).
"""

from __future__ import annotations

import re

from rest_framework.response import Response
from rest_framework.views import APIView

from core.bodies import json_object
from core.errors import APIError, invalid_request, json_pointer, not_found
from engine.a1111.infotext import INFOTEXT_MAX_LENGTH, parse_hash_list, parse_infotext
from engine.a1111.names import UPSCALER_NAMES, pasted_schedule
from engine.a1111.prompts import extract_lora_tags
from engine.a1111.values import INTEGER_TEXT, NUMBER_TEXT, parse_size
from engine.parameters import INFOTEXT_KEYS, read_infotext
from engine.samplers import schedule_problem
from images_app.models import Image
from models_app.models import SDModel

from .inline_loras import AUTOV2, library_loras

USED_KEYS = {*INFOTEXT_KEYS, "Schedule type", "Model hash", "Model", "VAE hash", "VAE", "Lora hashes", "TI hashes"}
HIRES_KEYS = {"Hires upscale", "Hires resize", "Hires steps", "Hires upscaler"}


def _autov2(digest: str | None) -> str | None:
    """The AutoV2 (10 hex digits) of a written hash; None for none or an old 8-digit WebUI model hash."""
    return digest[:10].lower() if digest and AUTOV2.fullmatch(digest) else None


def model_by_autov2(digest: str, kinds: tuple) -> SDModel | None:
    if not AUTOV2.fullmatch(digest or ""):
        return None
    matches = list(SDModel.objects.filter(hash__startswith=digest.lower(), model_type__in=kinds, status="ready")[:2])
    return matches[0] if len(matches) == 1 else None


def model_by_name(name: str, kind: str) -> SDModel | None:
    stem = re.sub(r"\.(safetensors|ckpt|pt|pth|bin)$", "", name.strip(), flags=re.IGNORECASE)
    matches = list(SDModel.objects.filter(name__iexact=stem, model_type=kind, status="ready")[:2])
    return matches[0] if len(matches) == 1 else None


class _Builder:
    def __init__(self, text: str):
        self.info = parse_infotext(text)
        self.params = self.info.params
        self.task: dict = {"prompt": self.info.prompt}
        self.unresolved: list[dict] = []
        hires = bool(HIRES_KEYS & set(self.params))  # "Denoising strength" belongs to the hires fix then (D37)
        used = USED_KEYS | (HIRES_KEYS | {"Denoising strength"} if hires else set())
        self.ignored: list[str] = [key for key in self.params if key not in used]

    def ignore(self, *keys: str) -> None:
        self.ignored += [key for key in keys if key in self.params and key not in self.ignored]

    def build(self) -> dict:
        params = self.params
        if self.info.negative_prompt:
            self.task["negative_prompt"] = self.info.negative_prompt
        values, unusable = read_infotext(params)  # the render parameters (engine/parameters.py)
        self.task.update(values)
        self.ignore(*unusable)
        if "Sampler" in params:
            schedule = params.get("Schedule type")
            pasted = pasted_schedule(params["Sampler"].strip(), None if schedule is None else schedule.strip())
            if pasted and not schedule_problem(*pasted):
                self.task["sampler"], self.task["scheduler"] = pasted
            else:
                self.ignore("Sampler", "Schedule type")
        self._checkpoint()
        self._vae()
        self._hires()
        extras = self._loras() + self._embeddings()
        if extras:
            self.task["additional_models"] = extras
        return {"task": self.task, "unresolved": self.unresolved, "ignored": self.ignored}

    def _model(self, kind: str, name: str | None, digest: str | None, field: str) -> None:
        model = model_by_autov2(digest, (kind,)) or (model_by_name(name, kind) if name else None)
        if model is not None:
            self.task[field] = model.hash
        elif name or digest:
            self.unresolved.append({"kind": kind, "name": name, "autov2": _autov2(digest)})

    def _hires(self) -> None:
        """`Hires upscale` or `Hires resize`, `Hires steps`, `Hires upscaler`, `Denoising strength` -> `hires` (D37).
        An upscaler model is found by name among the library's ready upscalers, else listed as unresolved."""
        params = self.params
        if not HIRES_KEYS & set(params):
            return
        hires = {}
        scale = params.get("Hires upscale", "").strip()
        resize = parse_size(params["Hires resize"]) if "Hires resize" in params else None
        if NUMBER_TEXT.fullmatch(scale):
            hires["scale"] = float(scale)
        elif resize:
            hires["width"], hires["height"] = resize
        else:
            self.ignore(*HIRES_KEYS, "Denoising strength")
            return
        steps = params.get("Hires steps", "0").strip()
        if INTEGER_TEXT.fullmatch(steps):
            hires["steps"] = int(steps)
        strength = params.get("Denoising strength", "").strip()
        if NUMBER_TEXT.fullmatch(strength):
            hires["denoising_strength"] = float(strength)
        upscaler = params.get("Hires upscaler", "Latent").strip()
        if upscaler in UPSCALER_NAMES:
            hires["upscaler"] = upscaler
        else:
            model = model_by_name(upscaler, "upscaler")
            if model is not None:
                hires["upscaler"] = model.hash
            else:
                self.unresolved.append({"kind": "upscaler", "name": upscaler, "autov2": None})
        self.task["hires"] = hires

    def _checkpoint(self) -> None:
        self._model("checkpoint", self.params.get("Model"), self.params.get("Model hash"), "checkpoint_hash")

    def _vae(self) -> None:
        self._model("vae", self.params.get("VAE"), self.params.get("VAE hash"), "vae_hash")

    def _loras(self) -> list[dict]:
        """Inline tags stay in the prompt (renamed to their AutoV2 when only the hash resolves them);
        `Lora hashes` entries without a tag become additional_models."""
        hashes = dict(parse_hash_list(self.params.get("Lora hashes", "")))
        _, tags = extract_lora_tags(self.task["prompt"])
        tagged_names, tagged_models = set(), set()
        for tag in tags:
            tagged_names.add(tag.name)
            matches = library_loras(tag.name)
            if len(matches) == 1:
                tagged_models.add(matches[0].hash)
                continue
            model = model_by_autov2(hashes.get(tag.name, ""), ("lora",))
            if model is not None:
                tagged_models.add(model.hash)
                rewritten = tag.tag.replace(f":{tag.name}", f":{model.hash[:10]}", 1)
                self.task["prompt"] = self.task["prompt"].replace(tag.tag, rewritten, 1)
            else:
                self.unresolved.append({"kind": "lora", "name": tag.name,
                                        "autov2": _autov2(hashes.get(tag.name))})
        extras = []
        for name, digest in hashes.items():
            if name in tagged_names:
                continue
            model = model_by_autov2(digest, ("lora",))
            if model is None:
                self.unresolved.append({"kind": "lora", "name": name, "autov2": _autov2(digest)})
            elif model.hash not in tagged_models:
                extras.append({"model_hash": model.hash, "weight": 1.0})
        return extras

    def _embeddings(self) -> list[dict]:
        extras = []
        for name, digest in parse_hash_list(self.params.get("TI hashes", "")):
            model = model_by_autov2(digest, ("embedding",))
            if model is None:
                self.unresolved.append({"kind": "embedding", "name": name, "autov2": _autov2(digest)})
            elif model.hash not in {extra["model_hash"] for extra in extras}:
                extras.append({"model_hash": model.hash})
        return extras


def task_from_infotext(text: str) -> dict:
    """`{"task", "unresolved", "ignored"}` for an A1111 infotext (D35)."""
    return _Builder(text).build()


class ParseParametersView(APIView):
    def post(self, request):
        """POST /api/tasks/parse-parameters: {"parameters": "<infotext>"}."""
        body = json_object(request)
        for key in body:
            if key != "parameters":
                raise invalid_request(f"Unknown field '{key}'; the body is {{\"parameters\": \"...\"}}",
                                      json_pointer(key))
        if "parameters" not in body:
            raise invalid_request("'parameters' is required", "/parameters")
        if not isinstance(body["parameters"], str):
            raise invalid_request("'parameters' must be a string", "/parameters")
        if len(body["parameters"]) > INFOTEXT_MAX_LENGTH:
            raise invalid_request(f"'parameters' is {len(body['parameters']):,} characters long; at most "
                                  f"{INFOTEXT_MAX_LENGTH:,} are read", "/parameters")
        return Response(task_from_infotext(body["parameters"]))


class ImageParametersView(APIView):
    def get(self, request, pk):
        """GET /api/images/{hash}/parameters: the image's own chunk as a task body."""
        image = Image.objects.filter(hash=pk).first()
        if image is None:
            raise not_found(f"Image {pk} not found")
        text = (image.metadata or {}).get("parameters")
        if not isinstance(text, str) or not text.strip():
            raise APIError(404, "no_parameters", f"Image {pk} has no A1111 parameters chunk",
                           title="No Parameters")
        return Response(task_from_infotext(text))
