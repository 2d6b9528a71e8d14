"""What a checkpoint's UNet predicts (noise or v) and whether it was trained with zero terminal SNR.

SDXL v-prediction models (NoobAI-XL V-Pred and its merges) mark themselves as Forge and ComfyUI expect: a key
`v_pred` in the state dict (its value ignored; often an empty tensor), and `ztsnr` beside it for zero terminal SNR.
A1111 instead reads a same-name `.yaml` beside the checkpoint with `parameterization: "v"` (or a `…VScaling`
denoiser target); both are recognised here (`detect`).

Rendering such a model (`scheduler_overrides`, docs/rendering.md "v-prediction and zero terminal SNR"):
- every scheduler gets `prediction_type="v_prediction"`;
- zero terminal SNR rescales the model's betas so the last timestep is pure noise, with the last ᾱ set to
  4.8973451890853435e-08 as A1111/Forge set it (σmax ≈ 4518; diffusers' own `rescale_betas_zero_snr` uses
  2⁻²⁴, σmax 4096, and only some schedulers have that option): the rescaled betas are handed to every scheduler
  as `trained_betas`, so all samplers and schedule types (Euler's written sigmas too) see the same schedule;
  "leading" timestep spacing (DDIM, PLMS) becomes "trailing" so the first step starts at the terminal timestep
  (the k-diffusion samplers' "linspace" already does);
- the pipeline call gets `guidance_rescale=GUIDANCE_RESCALE` (diffusers' CFG rescale, as the zero-SNR paper and
  ComfyUI's RescaleCFG recommend) where the pipeline takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

V_PRED_KEY = "v_pred"
ZTSNR_KEY = "ztsnr"
EPSILON, V_PREDICTION = "epsilon", "v_prediction"
PREDICTION_TYPES = (EPSILON, V_PREDICTION)
ZTSNR_LAST_ALPHA_BAR = 4.8973451890853435e-08  # A1111 / Forge (modules/sd_models.py rescale_zero_terminal_snr)
GUIDANCE_RESCALE = 0.7
SIDECAR_SUFFIXES = (".yaml", ".yml")
MAX_SIDECAR_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Prediction:
    """A checkpoint's prediction type ("epsilon" | "v_prediction") and zero-terminal-SNR training."""

    prediction_type: str = EPSILON
    zero_terminal_snr: bool = False

    @property
    def is_default(self) -> bool:
        return self == Prediction()


def from_keys(keys) -> Prediction:
    """The prediction the state dict's marker keys say (`v_pred`, `ztsnr`), as Forge and ComfyUI read them."""
    keys = set(keys)
    return Prediction(V_PREDICTION if V_PRED_KEY in keys else EPSILON, ZTSNR_KEY in keys)


def sidecar_path(model_path) -> Path | None:
    """The same-name `.yaml` (or `.yml`) beside a checkpoint, None when there is none."""
    path = Path(model_path)
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def sidecar_prediction_type(text: str) -> str | None:
    """"v_prediction" when an LDM config yaml says `parameterization: v` (anywhere) or names a `…VScaling`
    denoiser, "epsilon" when it says `parameterization: eps`, None when it says neither or is not YAML."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "parameterization" and isinstance(value, str):
                    found.append(V_PREDICTION if value.strip().lower() == "v" else EPSILON)
                elif key == "target" and isinstance(value, str) and value.endswith("VScaling"):
                    found.append(V_PREDICTION)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return V_PREDICTION if V_PREDICTION in found else (EPSILON if found else None)


def read_sidecar(model_path) -> str | None:
    """`sidecar_prediction_type` of the checkpoint's `.yaml` sidecar, None when there is none or it is unreadable."""
    path = sidecar_path(model_path)
    if path is None:
        return None
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return sidecar_prediction_type(text)


def detect(keys, model_path=None) -> Prediction:
    """The file's marker keys, with a `.yaml` sidecar's parameterization (A1111's way) taking precedence for the
    prediction type."""
    found = from_keys(keys)
    if model_path is not None and (sidecar := read_sidecar(model_path)) is not None:
        return Prediction(sidecar, found.zero_terminal_snr)
    return found


def resolve(detected: Prediction, prediction_type: str | None, zero_terminal_snr: bool | None) -> Prediction:
    """`detected` with the library's per-model settings (None: as detected) applied."""
    return Prediction(prediction_type if prediction_type is not None else detected.prediction_type,
                      zero_terminal_snr if zero_terminal_snr is not None else detected.zero_terminal_snr)


def zero_snr_betas(config: dict) -> list[float]:
    """The betas of the noise schedule `config` describes, rescaled to zero terminal SNR (diffusers'
    `rescale_zero_terminal_snr`), the last ᾱ then set to ZTSNR_LAST_ALPHA_BAR as A1111/Forge set it."""
    import torch
    from diffusers import DDPMScheduler
    from diffusers.schedulers.scheduling_ddpm import rescale_zero_terminal_snr

    plain = {k: v for k, v in config.items() if not k.startswith("_")}
    plain.pop("rescale_betas_zero_snr", None)
    betas = rescale_zero_terminal_snr(DDPMScheduler.from_config(plain).betas.to(torch.float64))
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    alphas_cumprod[-1] = ZTSNR_LAST_ALPHA_BAR
    previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    return (1.0 - alphas_cumprod / previous).tolist()


def scheduler_overrides(prediction: Prediction, config: dict) -> dict:
    """The scheduler config entries `prediction` changes on top of the sampler's config `config`."""
    overrides: dict = {"prediction_type": prediction.prediction_type}
    if prediction.zero_terminal_snr:
        overrides["trained_betas"] = zero_snr_betas(config)
        if config.get("timestep_spacing") == "leading":
            overrides["timestep_spacing"] = "trailing"
    return overrides


def call_kwargs(prediction: Prediction, accepted) -> dict:
    """Extra pipeline-call arguments: CFG rescale for zero-terminal-SNR models, where the pipeline takes it."""
    if prediction.zero_terminal_snr and "guidance_rescale" in accepted:
        return {"guidance_rescale": GUIDANCE_RESCALE}
    return {}
