"""How an imported PNG was made, read from the text chunks other hosts write (docs/library.md "Image folders").

- AUTOMATIC1111 / Forge / SD-Host: `parameters`, the infotext (D35, engine/a1111/infotext.py).
- InvokeAI: `invokeai_metadata`, a JSON object (positive_prompt, negative_prompt, seed, steps, cfg_scale,
  scheduler, model{name, hash, base}, loras[{model{name, hash}, weight}], …).
- ComfyUI: `prompt`, the API graph `{node id: {class_type, inputs}}` (links are `[node id, output index]`), and
  `workflow`, the editor's graph (nodes with `widgets_values`, links as lists); the sampler node is found and its
  inputs followed back to the prompt encoders, the checkpoint loader and the LoRA loaders. Best effort: a graph
  that does not fit gives what it gives, never an error.

`generation_metadata` answers the image's metadata keys (flat, so `filter[metadata.steps][gte]=30` and
`sort=metadata.cfg_scale` work) and its seed (the `seed` column). Width and height are the image's own.
"""

import io
import json
import re

from PIL import Image as PILImage

from core.text import json_text_problem
from engine.a1111.infotext import INFOTEXT_MAX_LENGTH, PNG_TEXT_KEY, parse_hash_list, parse_infotext
from engine.a1111.values import parse_size

CHUNK_MAX_LENGTH = 4 * 1024 * 1024  # a longer JSON chunk is not parsed
INT64_MAX = 2**63 - 1
LORA_TAG = re.compile(r"<lora:([^:>]+)(?::([-+]?[0-9.]+))?[^>]*>")
MODEL_REF_HASH = re.compile(r"(?:sha256:)?([0-9a-f]{10,64})")  # shorter (A1111's old 8-digit hash) is no SHA256 prefix
SAMPLER_TYPES = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
CHECKPOINT_INPUTS = ("ckpt_name", "unet_name", "model_name")


def png_text_chunks(data: bytes) -> dict:
    """The text chunks (tEXt, zTXt, iTXt) before the image data of PNG bytes, read without decoding any pixel (A1111,
    InvokeAI and ComfyUI write theirs there); {} for other formats or unreadable data."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return {}
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            return {key: value for key, value in img.info.items() if isinstance(key, str) and isinstance(value, str)}
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        return {}


def generation_metadata(chunks: dict) -> tuple[dict, int | None]:
    """(metadata keys, seed) from a PNG's text chunks; ({}, None) when none of the known chunks is there."""
    for key, parse in ((PNG_TEXT_KEY, from_a1111), ("invokeai_metadata", from_invokeai), ("prompt", from_comfyui),
                       ("workflow", from_comfyui_workflow)):
        text = chunks.get(key)
        if not text:
            continue
        try:
            found = parse(text)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            found = None
        if found:
            seed = found.pop("seed", None)
            seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= INT64_MAX else None
            # a value with control characters is left out (docs/input.md; PostgreSQL stores no NUL)
            return {k: v for k, v in found.items() if v not in (None, "", []) and json_text_problem(v) is None}, seed
    return {}, None


def number(value):
    """An int or float from a JSON value or text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return int(parsed) if parsed.is_integer() and "." not in value else parsed
    return None


def load_json(text: str):
    if len(text) > CHUNK_MAX_LENGTH:
        raise ValueError("chunk too long")
    return json.loads(text)


# --- A1111 -----------------------------------------------------------------------------------------------------

def from_a1111(text: str) -> dict | None:
    if len(text) > INFOTEXT_MAX_LENGTH:
        return None
    parsed = parse_infotext(text)
    params = parsed.params
    if not parsed.prompt and not params:
        return None
    sampler = params.get("Sampler")
    if sampler and params.get("Schedule type") and params["Schedule type"].lower() != "automatic":
        sampler = f"{sampler} {params['Schedule type']}"
    weights = {name: number(weight) for name, weight in LORA_TAG.findall(parsed.prompt)}
    loras = [{"name": name, "hash": digest, "weight": weights.get(name)}
             for name, digest in parse_hash_list(params.get("Lora hashes", ""))]
    named = {lora["name"] for lora in loras}
    loras += [{"name": name, "weight": weight} for name, weight in weights.items() if name not in named]
    size = parse_size(params.get("Size", "")) if params.get("Size") else None
    return {
        "generator": "a1111", "prompt": parsed.prompt, "negative_prompt": parsed.negative_prompt,
        "seed": number(params.get("Seed")), "steps": number(params.get("Steps")), "sampler": sampler,
        "cfg_scale": number(params.get("CFG scale")), "checkpoint": params.get("Model"),
        "checkpoint_hash": params.get("Model hash"), "loras": [{k: v for k, v in lora.items() if v is not None}
                                                                for lora in loras],
        "generation_size": f"{size[0]}x{size[1]}" if size else None,
    }


# --- InvokeAI --------------------------------------------------------------------------------------------------

def from_invokeai(text: str) -> dict | None:
    meta = load_json(text)
    if not isinstance(meta, dict):
        return None
    model = meta.get("model") if isinstance(meta.get("model"), dict) else {}
    loras = []
    for entry in meta.get("loras") or []:
        if not isinstance(entry, dict):
            continue
        lora = entry.get("model") or entry.get("lora") or {}
        name = lora.get("name") or lora.get("model_name") if isinstance(lora, dict) else None
        if name:
            loras.append({k: v for k, v in {"name": name, "hash": lora.get("hash"),
                                            "weight": number(entry.get("weight"))}.items() if v is not None})
    width, height = number(meta.get("width")), number(meta.get("height"))
    return {
        "generator": "invokeai", "prompt": meta.get("positive_prompt"), "negative_prompt": meta.get("negative_prompt"),
        "seed": number(meta.get("seed")), "steps": number(meta.get("steps")), "sampler": meta.get("scheduler"),
        "cfg_scale": number(meta.get("cfg_scale")), "checkpoint": model.get("name") or model.get("model_name"),
        "checkpoint_hash": model.get("hash"), "loras": loras,
        "generation_size": f"{width}x{height}" if width and height else None,
    }


# --- ComfyUI -----------------------------------------------------------------------------------------------------

def from_comfyui(text: str) -> dict | None:
    """From the API graph (`prompt` chunk)."""
    graph = load_json(text)
    if not isinstance(graph, dict):
        return None
    nodes = {str(key): node for key, node in graph.items() if isinstance(node, dict)}
    return comfy_summary(ApiGraph(nodes))


def from_comfyui_workflow(text: str) -> dict | None:
    """From the editor's graph (`workflow` chunk), when the API graph is absent."""
    workflow = load_json(text)
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        return None
    return comfy_summary(WorkflowGraph(workflow))


class ApiGraph:
    """`{id: {class_type, inputs}}`; an input that is `[id, index]` is a link."""

    WIDGETS = {}

    def __init__(self, nodes):
        self.nodes = nodes

    def of_types(self, types):
        return [node_id for node_id, node in self.nodes.items() if node.get("class_type") in types]

    def type_of(self, node_id):
        return (self.nodes.get(str(node_id)) or {}).get("class_type")

    def value(self, node_id, name):
        """An input's value, a link followed to a primitive node's value."""
        raw = ((self.nodes.get(str(node_id)) or {}).get("inputs") or {}).get(name)
        if isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], (str, int)):
            source = self.nodes.get(str(raw[0])) or {}
            inputs = source.get("inputs") or {}
            for key in (name, "value", "text", "string", "seed", "noise_seed", "int", "float"):
                if key in inputs and not isinstance(inputs[key], list):
                    return inputs[key]
            return None
        return raw

    def link(self, node_id, name):
        raw = ((self.nodes.get(str(node_id)) or {}).get("inputs") or {}).get(name)
        return str(raw[0]) if isinstance(raw, list) and len(raw) == 2 else None


class WorkflowGraph(ApiGraph):
    """The editor's graph: `nodes[{id, type, inputs[{name, link}], widgets_values}]`, `links[[id, from, slot, to,
    slot, type]]`; widget values are positional, named here for the nodes that matter."""

    WIDGETS = {
        "KSampler": ("seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"),
        "KSamplerAdvanced": ("add_noise", "noise_seed", "control_after_generate", "steps", "cfg", "sampler_name",
                             "scheduler", "start_at_step", "end_at_step", "return_with_leftover_noise"),
        "CheckpointLoaderSimple": ("ckpt_name",),
        "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
        "LoraLoaderModelOnly": ("lora_name", "strength_model"),
        "CLIPTextEncode": ("text",),
    }

    def __init__(self, workflow):
        links = {link[0]: str(link[1]) for link in workflow.get("links") or []
                 if isinstance(link, list) and len(link) >= 2}
        nodes = {}
        for node in workflow["nodes"]:
            if not isinstance(node, dict) or "id" not in node:
                continue
            names = self.WIDGETS.get(node.get("type"), ())
            values = node.get("widgets_values") if isinstance(node.get("widgets_values"), list) else []
            inputs = dict(zip(names, values))
            for slot in node.get("inputs") or []:
                if isinstance(slot, dict) and slot.get("link") in links:
                    inputs[slot.get("name")] = [links[slot["link"]], 0]
            nodes[str(node["id"])] = {"class_type": node.get("type"), "inputs": inputs}
        super().__init__(nodes)


def comfy_summary(graph: ApiGraph) -> dict | None:
    samplers = graph.of_types(SAMPLER_TYPES)
    if not samplers:
        return None
    sampler = samplers[0]
    sampler_name, scheduler = graph.value(sampler, "sampler_name"), graph.value(sampler, "scheduler")
    seed = graph.value(sampler, "seed")
    if seed is None:
        seed = graph.value(sampler, "noise_seed")
    checkpoint, loras, seen = None, [], set()
    node = graph.link(sampler, "model")
    while node is not None and node not in seen:  # back along the model chain: LoRA loaders, then the checkpoint
        seen.add(node)
        kind = graph.type_of(node) or ""
        if "lora" in kind.lower() and graph.value(node, "lora_name"):
            loras.append({k: v for k, v in {"name": graph.value(node, "lora_name"),
                                            "weight": number(graph.value(node, "strength_model"))}.items()
                          if v is not None})
        for name in CHECKPOINT_INPUTS:
            if isinstance(graph.value(node, name), str):
                checkpoint = graph.value(node, name)
        node = graph.link(node, "model")
    if checkpoint is None:
        loaders = graph.of_types(("CheckpointLoaderSimple", "CheckpointLoader", "UNETLoader"))
        checkpoint = next((graph.value(n, k) for n in loaders for k in CHECKPOINT_INPUTS if graph.value(n, k)), None)
    return {
        "generator": "comfyui", "prompt": prompt_text(graph, graph.link(sampler, "positive")),
        "negative_prompt": prompt_text(graph, graph.link(sampler, "negative")),
        "seed": number(seed), "steps": number(graph.value(sampler, "steps")),
        "sampler": " ".join(str(part) for part in (sampler_name, scheduler) if isinstance(part, str)) or None,
        "cfg_scale": number(graph.value(sampler, "cfg")), "checkpoint": checkpoint, "loras": loras[::-1],
    }


def prompt_text(graph: ApiGraph, node, depth=0):
    """The text of the prompt encoder at `node`, through conditioning nodes in between (first input with text)."""
    if node is None or depth > 8:
        return None
    for name in ("text", "text_g", "prompt"):
        value = graph.value(node, name)
        if isinstance(value, str):
            text_l = graph.value(node, "text_l")
            return value if name != "text_g" or not isinstance(text_l, str) or text_l == value else f"{value}\n{text_l}"
    for name in ("conditioning", "conditioning_1", "positive", "clip"):
        if (source := graph.link(node, name)) is not None:
            if (found := prompt_text(graph, source, depth + 1)) is not None:
                return found
    return None


# --- model references ----------------------------------------------------------------------------------------

def model_refs(metadata: dict) -> list[tuple[str, str, str | None]]:
    """The models an image's metadata names by hash, as [(role, lowercase hex hash, name)]: from its A1111
    infotext (`parameters`: Model hash, VAE hash, Lora hashes, TI hashes), else from the parsed keys
    (`checkpoint_hash`, `loras[].hash`, e.g. InvokeAI's). Hashes that cannot be a SHA256 prefix (fewer than 10
    hex digits, BLAKE3, ...) are left out."""
    found = []
    text = metadata.get("parameters")
    if isinstance(text, str) and len(text) <= INFOTEXT_MAX_LENGTH:
        params = parse_infotext(text).params
        found += [("checkpoint", params.get("Model hash"), params.get("Model")),
                  ("vae", params.get("VAE hash"), params.get("VAE"))]
        for role, key in (("lora", "Lora hashes"), ("embedding", "TI hashes")):
            found += [(role, digest, name) for name, digest in parse_hash_list(params.get(key) or "")]
    else:
        found.append(("checkpoint", metadata.get("checkpoint_hash"), metadata.get("checkpoint")))
        found += [("lora", lora.get("hash"), lora.get("name")) for lora in metadata.get("loras") or []
                  if isinstance(lora, dict)]
    refs = {}
    for role, digest, name in found:
        match = MODEL_REF_HASH.fullmatch(digest.strip().lower()) if isinstance(digest, str) else None
        if match:
            refs.setdefault((role, match[1]), name if isinstance(name, str) else None)
    return [(role, digest, name) for (role, digest), name in refs.items()]
