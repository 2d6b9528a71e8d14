"""RenderEngine: renders a RenderRequest with real diffusers pipelines, caching loaded checkpoints."""

import dataclasses
import gc
import re
import threading
from collections import OrderedDict
from typing import Callable

from . import hires, img2img, loader
from .conditioning import encode_prompts
from .errors import CheckpointError, RenderCancelled
from .interface import ModelFile, RenderedImage, RenderRequest, UpscaleRequest
from .png import encode_png, format_parameters
from .prompts import extract_lora_tags
from .samplers import SAMPLER_NAMES, make_scheduler
from .upscale import Upscaler, load_upscaler, parameters_after_upscale


def pick_device(device: str | None = None) -> str:
    """The given device, else cuda, mps or cpu, whichever is available first."""
    if device:
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class _DeviceLRU:
    """Models by sha256, least recently used first; the most recent one lives on the device."""

    def __init__(self, size: int, device: str):
        self.size = max(1, size)
        self.device = device
        self.items: OrderedDict[str, object] = OrderedDict()
        self.on_device: str | None = None

    def get(self, key: str, load: Callable[[], object], to: Callable[[object, str], None]) -> tuple[object, str]:
        """The model for `key` on the device, and where it came from: 'device', 'ram' or 'disk'."""
        if key == self.on_device:
            self.items.move_to_end(key)
            return self.items[key], "device"
        source = "ram" if key in self.items else "disk"
        item = self.items[key] if source == "ram" else load()
        if self.on_device is not None and self.device != "cpu":
            to(self.items[self.on_device], "cpu")
        self.on_device = None
        self.items[key] = item
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        to(item, self.device)
        self.on_device = key
        return item, source

    def clear(self) -> None:
        self.items.clear()
        self.on_device = None


class RenderEngine:
    """Renders requests one at a time (thread-safe); keeps `cache_size` checkpoints loaded in RAM."""

    def __init__(self, device: str | None = None, cache_size: int = 2):
        import torch

        self.device = pick_device(device)
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self._lock = threading.RLock()
        self._pipelines = _DeviceLRU(cache_size, self.device)
        self._vaes = _DeviceLRU(2, self.device)
        self._controlnets = _DeviceLRU(2, self.device)
        self._upscalers = _DeviceLRU(2, self.device)
        self._stats = {"disk_loads": 0, "ram_hits": 0, "device_hits": 0}

    # ------------------------------------------------------------------------------------------------ public

    def stats(self) -> dict:
        with self._lock:
            return {**self._stats, "loaded": self._pipelines.on_device, "cached": list(self._pipelines.items),
                    "device": self.device}

    def render(self, request: RenderRequest, on_progress: Callable[[int, int], None] | None = None,
               should_cancel: Callable[[], bool] | None = None) -> list[RenderedImage]:
        """batch_size images, image i with seed + i; RenderCancelled when should_cancel() turns true."""
        _check_request(request)
        request = dataclasses.replace(request, embeddings=tuple(
            spec for spec in request.embeddings
            if spec.token.strip() and _token_pattern(spec.token).search(request.prompt + "\n" + request.negative_prompt)))
        with self._lock:
            if should_cancel is not None and should_cancel():
                raise RenderCancelled()
            loaded = self._checkpoint(request.checkpoint)
            pipe = self._pipeline_for(request, loaded, img2img.mode_of(request))
            seeds = [request.seed + i for i in range(request.batch_size)]
            pipe.scheduler = make_scheduler(request.sampler, loaded.arch.scheduler_config, seeds)
            with _Extras(pipe, request, loaded.arch.family, self.dtype) as extras:
                if request.hires is not None:
                    images = hires.render(self, loaded, pipe, request, extras, seeds, on_progress, should_cancel)
                else:
                    images = img2img.render(self, pipe, request, extras, seeds, on_progress, should_cancel)
            return [RenderedImage(png=encode_png(image, format_parameters(request, seed)), seed=seed,
                                  parameters=format_parameters(request, seed), width=image.width,
                                  height=image.height)
                    for image, seed in zip(images, seeds)]

    def upscale(self, request: UpscaleRequest, on_progress: Callable[[int, int], None] | None = None,
                should_cancel: Callable[[], bool] | None = None) -> RenderedImage:
        """One image enlarged by an upscaler model (tiled), or by Lanczos when none is given (D38)."""
        from PIL import Image

        if not 1 <= request.scale <= 8:
            raise ValueError("scale must be from 1 to 8")
        with self._lock, Image.open(request.image_path) as source:
            parameters = parameters_after_upscale(source.info.get("parameters"), request)
            image = source.convert("RGB")
            if request.upscaler_model is None:
                size = (round(image.width * request.scale), round(image.height * request.scale))
                image = image.resize(size, Image.Resampling.LANCZOS)
            else:
                image = self._upscaler(request.upscaler_model).upscale(image, request.scale, should_cancel, on_progress)
            return RenderedImage(png=encode_png(image, parameters), seed=None, parameters=parameters,
                                 width=image.width, height=image.height)

    def unload_all(self) -> None:
        """Drop every cached model (frees RAM and device memory)."""
        with self._lock:
            for cache in (self._pipelines, self._vaes, self._controlnets, self._upscalers):
                cache.clear()
            self._free_memory()

    # ------------------------------------------------------------------------------------------------ loading

    def _checkpoint(self, model: ModelFile) -> loader.LoadedCheckpoint:
        loaded, source = self._pipelines.get(
            model.sha256, lambda: loader.load_checkpoint(model.path, self.dtype),
            lambda item, device: item.pipe.to(device))
        self._stats[{"device": "device_hits", "ram": "ram_hits", "disk": "disk_loads"}[source]] += 1
        if source == "disk":
            self._free_memory()
        return loaded

    def _component(self, cache: _DeviceLRU, model: ModelFile, family: str, load) -> object:
        item, _ = cache.get(f"{model.sha256}:{family}", lambda: load(model.path, family, self.dtype),
                            lambda module, device: module.to(device))
        return item

    def _upscaler(self, model: ModelFile) -> Upscaler:
        item, _ = self._upscalers.get(model.sha256, lambda: load_upscaler(model.path, model.name),
                                      lambda upscaler, device: upscaler.to(device))
        return item

    def _pipeline_for(self, request: RenderRequest, loaded: loader.LoadedCheckpoint, mode: str = "txt2img"):
        """A pipeline view for `mode` (img2img.MODES) sharing the cached components, with the request's VAE /
        ControlNets swapped in."""
        if request.vae is None and not request.controlnets and mode == "txt2img":
            return loaded.pipe
        family = loaded.arch.family
        components = dict(loaded.pipe.components)
        if request.vae is not None:
            components["vae"] = self._component(self._vaes, request.vae, family, loader.load_vae)
        if request.controlnets:
            from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

            nets = [self._component(self._controlnets, spec.model, family, loader.load_controlnet)
                    for spec in request.controlnets]
            components["controlnet"] = nets[0] if len(nets) == 1 else MultiControlNetModel(nets)
        cls = img2img.pipeline_class(family, bool(request.controlnets), mode)
        accepted = set(cls._get_signature_keys(cls)[0])
        pipe = cls(**{k: v for k, v in components.items() if k in accepted}, **loader.pipeline_kwargs(family))
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _free_memory(self) -> None:
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # ------------------------------------------------------------------------------------------------ running

    def _run(self, pipe, request, extras, seeds, on_progress, should_cancel, inputs: dict) -> list:
        """One pipeline call; `inputs` (img2img.pipeline_inputs) are its size, image and output arguments."""
        import torch

        conditioning = encode_prompts(pipe, extras.family, extras.prompt, extras.negative_prompt, request.steps,
                                      request.clip_skip)

        def step_end(pipeline, step, timestep, tensors):
            if should_cancel is not None and should_cancel():
                raise RenderCancelled()
            if on_progress is not None:
                on_progress(step + 1, pipeline.num_timesteps)
            return conditioning.step_end(pipeline, step, tensors)

        return pipe(
            **conditioning.pipeline_kwargs(),
            num_inference_steps=request.steps,
            guidance_scale=float(request.cfg_scale), num_images_per_prompt=request.batch_size,
            generator=[torch.Generator("cpu").manual_seed(seed) for seed in seeds],
            callback_on_step_end=step_end, callback_on_step_end_tensor_inputs=conditioning.tensor_inputs, **inputs,
        ).images


class _Extras:
    """Applies a request's LoRAs and embeddings to a pipeline for one render and removes them afterwards.

    Only embeddings whose trigger occurs in a prompt are loaded (and listed in the PNG's `TI hashes`).

    Embeddings are loaded under an internal token (`<sdhost-…>`), and the user's trigger token is rewritten to
    it in the prompts (whole words, any case), so a trigger that is also a vocabulary word works too.
    """

    def __init__(self, pipe, request: RenderRequest, family: str, dtype):
        self.pipe, self.request, self.family, self.dtype = pipe, request, family, dtype
        # LoRA tags go before triggers are rewritten (the worker resolved them into request.loras); as in
        # A1111, only the prompt's tags are LoRAs, the negative prompt is text
        self.prompt, self.negative_prompt = extract_lora_tags(request.prompt)[0], request.negative_prompt
        self._adapters: list[str] = []
        self._embedded = False

    def __enter__(self):
        try:
            with loader.quiet_loading():
                self._load_loras()
                self._load_embeddings()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info):
        if self._embedded:
            for tokenizer, text_encoder in self._text_pairs():
                self.pipe.unload_textual_inversion(tokenizer=tokenizer, text_encoder=text_encoder)
            self._embedded = False
        if self._adapters:
            self.pipe.unload_lora_weights()
            self._adapters = []
        return False

    def _load_loras(self) -> None:
        loras = self.request.loras
        for index, spec in enumerate(loras):
            name = f"lora{index}"
            try:
                self.pipe.load_lora_weights(loader.read_lora(spec.model.path), adapter_name=name)
            except CheckpointError:
                raise
            except Exception as exc:
                raise CheckpointError(f"LoRA {spec.model.name!r} does not fit this checkpoint ({exc})") from exc
            self._adapters.append(name)
        if loras:
            self.pipe.set_adapters(self._adapters, adapter_weights=[float(s.weight) for s in loras])

    def _text_pairs(self):
        pairs = [(self.pipe.tokenizer, self.pipe.text_encoder)]
        if self.family == "sdxl":
            pairs.append((self.pipe.tokenizer_2, self.pipe.text_encoder_2))
        return pairs

    def _load_embeddings(self) -> None:
        for spec in self.request.embeddings:
            token = f"<sdhost-{spec.model.sha256[:16]}>"
            vectors = loader.read_embedding(spec.model.path, self.family)
            for (tokenizer, text_encoder), component in zip(self._text_pairs(), ("text_encoder", "text_encoder_2")):
                width = text_encoder.get_input_embeddings().embedding_dim
                if vectors[component].shape[-1] != width:
                    raise CheckpointError(f"embedding {spec.model.name!r} has width {vectors[component].shape[-1]}, "
                                          f"this checkpoint's text encoder {width}")
                self._embedded = True
                self.pipe.load_textual_inversion(vectors[component].to(self.dtype), token=token,
                                                 tokenizer=tokenizer, text_encoder=text_encoder)
            pattern = _token_pattern(spec.token)
            self.prompt = pattern.sub(lambda _: token, self.prompt)
            self.negative_prompt = pattern.sub(lambda _: token, self.negative_prompt)


def _token_pattern(token: str) -> re.Pattern:
    """The trigger token as a whole word, any case."""
    return re.compile(rf"(?<!\w){re.escape(token)}(?!\w)", re.IGNORECASE)


def _check_request(request: RenderRequest) -> None:
    if request.sampler not in SAMPLER_NAMES:
        raise ValueError(f"Unknown sampler {request.sampler!r}; supported: {', '.join(SAMPLER_NAMES)}")
    if request.width % 8 or request.height % 8 or request.width < 64 or request.height < 64:
        raise ValueError("width and height must be multiples of 8, at least 64")
    if request.steps < 1 or request.batch_size < 1 or request.cfg_scale <= 0:
        raise ValueError("steps and batch_size must be at least 1 and cfg_scale positive")
    if request.seed < 0 or request.seed + request.batch_size > 2**63:
        raise ValueError("seed must be a resolved seed >= 0")
    img2img.check_request(request)
