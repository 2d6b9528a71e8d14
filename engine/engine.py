"""RenderEngine: renders a RenderRequest with real diffusers pipelines, caching loaded checkpoints."""

import dataclasses
import gc
import inspect
import logging
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from . import hires, img2img, loader, prediction
from .a1111.infotext import PNG_TEXT_KEY, format_parameters, parameters_after_upscale
from .a1111.prompts import extract_lora_tags
from .conditioning import BatchConditioning, encode_prompts
from .errors import CheckpointError, RenderCancelled
from .fast_paths import FastPaths, FastRunner
from .interface import ModelFile, RenderedImage, RenderRequest, UpscaleRequest
from .png import encode_png
from .previews import PreviewFrame, PreviewSettings, approx_images, preview_source
from .samplers import make_scheduler, schedule_problem
from .upscale import Upscaler, load_upscaler

MERGED_IMAGE_BYTES = 2 * 2**30
MERGED_BATCH_CAP = 16
CPU_MERGED_BATCH = 4

log = logging.getLogger(__name__)


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

    def __init__(self, device: str | None = None, cache_size: int = 2, fast_paths: FastPaths | None = None):
        import torch

        self.device = pick_device(device)
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self._lock = threading.RLock()
        self._pipelines = _DeviceLRU(cache_size, self.device)
        self._vaes = _DeviceLRU(2, self.device)
        self._controlnets = _DeviceLRU(2, self.device)
        self._upscalers = _DeviceLRU(2, self.device)
        self._stats = {"disk_loads": 0, "ram_hits": 0, "device_hits": 0}
        self._fast = FastRunner(fast_paths)

    # ------------------------------------------------------------------------------------------------ public

    def stats(self) -> dict:
        with self._lock:
            return {**self._stats, "loaded": self._pipelines.on_device, "cached": list(self._pipelines.items),
                    "device": self.device}

    def default_merged_batch(self) -> int:
        """How many images one merged pipeline call may hold when SDHOST_MAX_MERGED_BATCH is not set: on CUDA
        one per MERGED_IMAGE_BYTES of free device memory (a 512x512 SD1.5 image's share of the UNet and VAE
        activations, with room to spare), at most MERGED_BATCH_CAP; elsewhere CPU_MERGED_BATCH."""
        if not self.device.startswith("cuda"):
            return CPU_MERGED_BATCH
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(self.device))
        return max(1, min(MERGED_BATCH_CAP, free // MERGED_IMAGE_BYTES))

    def render(self, request: RenderRequest, on_progress: Callable[[int, int], None] | None = None,
               should_cancel: Callable[[], bool] | None = None,
               on_preview: Callable[[PreviewFrame], None] | None = None,
               previews: PreviewSettings | None = None) -> list[RenderedImage]:
        """batch_size images, image i with seed + i; RenderCancelled when should_cancel() turns true."""
        [images] = self.render_batch([request], [on_progress], [should_cancel], [on_preview], previews)
        if images is None:
            raise RenderCancelled()
        return images

    def render_batch(self, requests: list[RenderRequest], on_progress: list | None = None,
                     should_cancel: list | None = None, on_preview: list | None = None,
                     previews: PreviewSettings | None = None) -> list[list[RenderedImage] | None]:
        """Several compatible requests (equal `batch_key`) rendered as one pipeline call (docs/rendering.md).

        Each request gets its own images (its prompts, seeds and CFG), PNG chunk, progress callback and cancel
        check; the result lists each request's images, or None for a request whose should_cancel() turned true
        (its rows are rendered to the end with the others, then dropped). RenderCancelled when all are cancelled.
        A request renders the same images alone as in a batch, within float tolerance.

        With `previews`, each request's `on_preview(frame)` gets a `PreviewFrame` of its images every
        `previews.every` sampling steps (engine/previews.py); a preview that fails is logged and skipped.
        """
        requests = [_with_used_embeddings(request) for request in requests]
        for request in requests:
            _check_request(request)
        if len({batch_key(request) for request in requests}) != 1:
            raise ValueError("requests rendered together must share everything but prompts, seeds and CFG")
        members = _Members(requests, on_progress, should_cancel, on_preview)
        lead = requests[0]
        with self._lock:
            if members.all_cancelled():
                raise RenderCancelled()
            loaded = self._checkpoint(lead.checkpoint)
            pipe = self._pipeline_for(lead, loaded, img2img.mode_of(lead))
            with _Extras(pipe, requests, loaded.arch.family, self.dtype, loaded.arch.scheduler_config,
                         model_prediction(lead.checkpoint, loaded.arch)) as extras:
                passes = _Passes(loaded, extras, members, self._fast, self._pipeline_for, self._upscaler, previews)
                mode = hires if lead.hires is not None else img2img
                images = mode.render(passes, pipe, lead)
            members.all_cancelled()  # a last look: a cancel during decoding drops that request's images too
            return members.results(images)

    def upscale(self, request: UpscaleRequest, on_progress: Callable[[int, int], None] | None = None,
                should_cancel: Callable[[], bool] | None = None) -> RenderedImage:
        """One image enlarged by an upscaler model (tiled), or by Lanczos when none is given (D38)."""
        from PIL import Image

        if not 1 <= request.scale <= 8:
            raise ValueError("scale must be from 1 to 8")
        with self._lock, Image.open(request.image_path) as source:
            parameters = parameters_after_upscale(source.info.get(PNG_TEXT_KEY), request)
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
            self._fast.prepare(loaded.pipe)
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


@contextmanager
def per_sample_guidance(unet, cfg_scales: list[float]):
    """CFG as a tensor over the batch: yields the guidance_scale to hand the pipeline (the largest scale).

    diffusers takes one float and computes uncond + g (text - uncond). With scales g_i below that g, a forward
    hook on the UNet moves each image's text prediction to uncond + (g_i / g)(text - uncond), so the pipeline's
    own formula gives uncond + g_i (text - uncond) for every image. Scales <= 1 (no CFG) are never mixed with
    guided ones (batch_key).
    """
    reference = float(max(cfg_scales))
    if reference <= 1 or all(scale == reference for scale in cfg_scales):
        yield reference
        return
    import torch

    ratios = torch.tensor([scale / reference for scale in cfg_scales]).view(-1, 1, 1, 1)

    def rescale_text_rows(module, args, output):
        sample = output[0] if isinstance(output, tuple) else output.sample
        if sample.shape[0] != 2 * len(cfg_scales):
            return None  # not a guided call of this batch
        uncond, text = sample.chunk(2)
        guided = torch.cat([uncond, uncond + ratios.to(sample.device, sample.dtype) * (text - uncond)])
        if isinstance(output, tuple):
            return (guided, *output[1:])
        output.sample = guided
        return output

    handle = unet.register_forward_hook(rescale_text_rows)
    try:
        yield reference
    finally:
        handle.remove()


def _take_rows(inputs: dict, rows: list[int], total: int) -> dict:
    """`inputs` for the images `rows` of `total`: per-image inputs (a list or tensor of hires first-pass
    images) are cut down, shared ones (an init image, a control image) stay."""
    if len(rows) == total:
        return inputs
    image = inputs.get("image")
    if isinstance(image, list) and len(image) == total:
        return {**inputs, "image": [image[row] for row in rows]}
    if hasattr(image, "shape") and image.shape[0] == total:
        return {**inputs, "image": image[rows]}
    return inputs


PER_IMAGE_FIELDS = ("prompt", "negative_prompt", "seed", "cfg_scale", "batch_size")


def model_prediction(checkpoint: ModelFile, arch) -> prediction.Prediction:
    """The checkpoint's prediction: the library's per-model settings over what the file says."""
    return prediction.resolve(arch.prediction, checkpoint.prediction_type, checkpoint.zero_terminal_snr)


def batch_key(request: RenderRequest) -> tuple:
    """Requests with equal keys can be rendered as one pipeline call (`RenderEngine.render_batch`): everything
    but prompts, negative prompts, seeds, CFG and image counts is equal, embeddings counted as the prompts use
    them; CFG > 1 (guided) and <= 1 (unguided, the value then unused) are not mixed."""
    request = _with_used_embeddings(request)
    shared = dataclasses.replace(request, prompt="", negative_prompt="", seed=0, cfg_scale=1.0, batch_size=1)
    return shared, request.cfg_scale > 1


def _with_used_embeddings(request: RenderRequest) -> RenderRequest:
    """The request with only the embeddings whose trigger occurs in its prompts."""
    text = request.prompt + "\n" + request.negative_prompt
    return dataclasses.replace(request, embeddings=tuple(
        spec for spec in request.embeddings if spec.token.strip() and _token_pattern(spec.token).search(text)))


class _Passes:
    """One render_batch call as its mode sees it (`passes.Passes`): the loaded checkpoint, the batch's LoRAs and
    embeddings (`_Extras`), its members' seeds, progress and cancel checks, and what the engine lends for it (its
    fast-path runner, pipeline views and upscaler cache)."""

    def __init__(self, loaded: loader.LoadedCheckpoint, extras: "_Extras", members: "_Members", fast: FastRunner,
                 pipeline_for: Callable, upscaler: Callable[[ModelFile], Upscaler],
                 previews: PreviewSettings | None = None):
        self._loaded, self._extras, self._members, self._fast = loaded, extras, members, fast
        self._pipeline_for, self._upscaler = pipeline_for, upscaler
        self._previews = previews if previews is not None and previews.method != "off" else None
        self.seeds = members.seeds

    def report(self, done: int, total: int) -> None:
        self._members.report(done, total)

    def cancelled(self) -> bool:
        return self._members.all_cancelled()

    def pipeline_for(self, request: RenderRequest, mode: str):
        return self._pipeline_for(request, self._loaded, mode)

    def upscaler(self, model: ModelFile) -> Upscaler:
        return self._upscaler(model)

    def run(self, pipe, request: RenderRequest, inputs: dict, on_progress=None) -> list:
        """The pipeline call(s) of one pass for all of `extras.members`; `inputs` (img2img.pipeline_inputs) are
        its size, image and output arguments. PIL images, or latents for output_type "latent".

        Members whose conditioning differs in length (a prompt over 75 tokens) cannot share a call: each length
        gets its own call, the images come back in member order."""
        extras, seeds = self._extras, self.seeds
        on_progress = on_progress or self.report
        conditionings = [encode_prompts(pipe, extras.family, member.prompt, member.negative_prompt, request.steps,
                                        request.clip_skip, self.cancelled) for member in extras.members]
        lengths = list(dict.fromkeys(c.length for c in conditionings))
        first_row, rows_of = 0, []
        for member in extras.members:
            rows_of.append(list(range(first_row, first_row + member.count)))
            first_row += member.count
        outputs: list = [None] * len(extras.members)
        for part, length in enumerate(lengths):
            group = [i for i, c in enumerate(conditionings) if c.length == length]
            rows = [row for i in group for row in rows_of[i]]

            def part_progress(done, total, part=part):
                on_progress(part * total + done, len(lengths) * total)

            images = self._call(
                pipe, request, BatchConditioning([conditionings[i] for i in group],
                                                         [extras.members[i].count for i in group]),
                [seeds[row] for row in rows], [extras.members[i].cfg_scale for i in group for _ in rows_of[i]],
                part_progress, _take_rows(inputs, rows, len(seeds)), [(i, extras.members[i].count) for i in group])
            offset = 0
            for i in group:
                outputs[i] = images[offset:offset + len(rows_of[i])]
                offset += len(rows_of[i])
        if len(outputs) == 1:
            return outputs[0]
        if isinstance(outputs[0], list):
            return [image for images in outputs for image in images]
        import torch

        return torch.cat(outputs)

    def _call(self, pipe, request, conditioning, seeds, cfg_scales, on_progress, inputs: dict, counts: list):
        """One pipeline call: one image per seed, each with its own generator and CFG scale. `counts`: (member
        index, images) of the members the call renders, in row order."""
        import torch

        def step_end(pipeline, step, timestep, tensors):
            if self.cancelled():
                raise RenderCancelled()
            on_progress(step + 1, pipeline.num_timesteps)
            self._preview(pipeline, step + 1, tensors["latents"], counts)
            return conditioning.step_end(pipeline, step, tensors)

        def call():
            pipe.scheduler = make_scheduler(request.sampler, self._extras.scheduler_config, seeds, request.scheduler,
                                            self._extras.family, self._extras.prediction)
            extra = prediction.call_kwargs(self._extras.prediction, inspect.signature(pipe.__call__).parameters)
            with per_sample_guidance(pipe.unet, cfg_scales) as guidance_scale:
                return pipe(
                    **conditioning.pipeline_kwargs(),
                    num_inference_steps=request.steps, guidance_scale=guidance_scale, num_images_per_prompt=1,
                    generator=[torch.Generator("cpu").manual_seed(seed) for seed in seeds],
                    callback_on_step_end=step_end, callback_on_step_end_tensor_inputs=conditioning.tensor_inputs,
                    **inputs, **extra,
                ).images

        return self._fast.run(pipe, (request.checkpoint.sha256, request.width, request.height, len(seeds)), call)

    def _preview(self, pipeline, step: int, latents, counts: list) -> None:
        """Every `previews.every` steps: each live member's images through the approx table (engine/previews.py)."""
        settings = self._previews
        if settings is None or not settings.due(step) or not self._members.wants_preview(i for i, _ in counts):
            return
        try:
            source, kind = preview_source(pipeline.scheduler, latents)
            images = approx_images(source, self._extras.family)
        except Exception:
            log.warning("Could not make a preview at step %d; rendering on", step, exc_info=True)
            return
        first = 0
        for index, count in counts:
            self._members.preview(index, images[first:first + count], source[first:first + count], kind)
            first += count


@dataclass
class _Member:
    """One request of a batch as the pipeline call sees it: prompts ready to encode, its images and CFG."""

    prompt: str
    negative_prompt: str
    count: int
    cfg_scale: float


class _Members:
    """The requests of one render_batch call: their seeds, and progress and cancel fanned out to each."""

    def __init__(self, requests, on_progress, should_cancel, on_preview=None):
        self.requests = requests
        self.on_progress = list(on_progress or [None] * len(requests))
        self.on_preview = list(on_preview or [None] * len(requests))
        self.previews = [0] * len(requests)  # previews handed to each request so far
        self.should_cancel = list(should_cancel or [None] * len(requests))
        self.cancelled = [False] * len(requests)
        self.seeds = [request.seed + i for request in requests for i in range(request.batch_size)]

    def report(self, done: int, total: int) -> None:
        for callback, cancelled in zip(self.on_progress, self.cancelled):
            if callback is not None and not cancelled:
                callback(done, total)

    def wants_preview(self, indexes) -> bool:
        return any(self.on_preview[i] is not None and not self.cancelled[i] for i in indexes)

    def preview(self, index: int, images: list, latents, source: str) -> None:
        """Hand request `index` its next preview (none once it was cancelled); a failing callback is logged."""
        callback = self.on_preview[index]
        if callback is None or self.cancelled[index]:
            return
        self.previews[index] += 1
        try:
            callback(PreviewFrame(sequence=self.previews[index], images=images, latents=latents, source=source))
        except Exception:
            log.warning("A preview callback failed; rendering on", exc_info=True)

    def all_cancelled(self) -> bool:
        """Polls every live request's cancel check; True once all of them were cancelled."""
        for index, check in enumerate(self.should_cancel):
            if not self.cancelled[index] and check is not None and check():
                self.cancelled[index] = True
        return all(self.cancelled)

    def results(self, images: list) -> list[list[RenderedImage] | None]:
        results, first = [], 0
        for request, cancelled in zip(self.requests, self.cancelled):
            own = images[first:first + request.batch_size]
            first += request.batch_size
            if cancelled:
                results.append(None)
                continue
            seeds = [request.seed + i for i in range(request.batch_size)]
            results.append([
                RenderedImage(png=encode_png(image, format_parameters(request, seed)), seed=seed,
                              parameters=format_parameters(request, seed), width=image.width, height=image.height)
                for image, seed in zip(own, seeds)])
        return results


class _Extras:
    """Applies a batch's LoRAs and embeddings (equal in all its requests) to a pipeline for one render and removes
    them afterwards; `members` hold each request's prompts ready to encode.

    Only embeddings whose trigger occurs in a prompt are loaded (and listed in the PNG's `TI hashes`).

    Embeddings are loaded under an internal token (`<sdhost-…>`), and the user's trigger token is rewritten to
    it in the prompts (whole words, any case), so a trigger that is also a vocabulary word works too.
    """

    def __init__(self, pipe, requests: list[RenderRequest], family: str, dtype, scheduler_config: dict,
                 model_prediction: prediction.Prediction):
        self.pipe, self.request, self.family, self.dtype = pipe, requests[0], family, dtype
        self.scheduler_config, self.prediction = scheduler_config, model_prediction
        # LoRA tags go before triggers are rewritten (the worker resolved them into request.loras); as in
        # A1111, only the prompt's tags are LoRAs, the negative prompt is text
        self.members = [_Member(extract_lora_tags(r.prompt)[0], r.negative_prompt, r.batch_size, r.cfg_scale)
                        for r in requests]
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
            for member in self.members:
                member.prompt = pattern.sub(lambda _: token, member.prompt)
                member.negative_prompt = pattern.sub(lambda _: token, member.negative_prompt)


def _token_pattern(token: str) -> re.Pattern:
    """The trigger token as a whole word, any case."""
    return re.compile(rf"(?<!\w){re.escape(token)}(?!\w)", re.IGNORECASE)


def _check_request(request: RenderRequest) -> None:
    if problem := schedule_problem(request.sampler, request.scheduler):
        raise ValueError(problem)
    if request.width % 8 or request.height % 8 or request.width < 64 or request.height < 64:
        raise ValueError("width and height must be multiples of 8, at least 64")
    if request.steps < 1 or request.batch_size < 1 or request.cfg_scale <= 0:
        raise ValueError("steps and batch_size must be at least 1 and cfg_scale positive")
    if request.seed < 0 or request.seed + request.batch_size > 2**63:
        raise ValueError("seed must be a resolved seed >= 0")
    img2img.check_request(request)
    hires.check_request(request)
