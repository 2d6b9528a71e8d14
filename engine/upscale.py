"""Upscaler models (D38): safe loading and tiled application of ESRGAN-family super-resolution weights.

The file is read by `files.read_state_dict` (safetensors, or `torch.load(weights_only=True)` for .pth/.pt, which
refuses pickles that build other objects), so nothing is ever unpickled unsafely. The architecture is then
recognised by spandrel (the library ComfyUI uses) when it is installed (`pip install .[upscalers]`); spandrel's
package import needs torchvision, which has no build for every torch (none for the 2.13 CPU wheel this project
pins), so without it the built-in ESRGAN (RRDBNet) implementation below takes the state dict: old ESRGAN keys
(`model.0.weight`, `model.1.sub.N.RDBk.convj.0.…`, e.g. 4x-UltraSharp), new ones (`conv_first`, `body.N.rdbk…`,
Real-ESRGAN), pixel-unshuffle variants included.

Images are upscaled in overlapping tiles of TILE px (TILE_OVERLAP px on each side, the seams cross-faded away),
so memory grows with the tile, not with the image (docs/rendering.md states the measured peak).
"""

import functools
import math
import re
from dataclasses import dataclass

from . import files
from .errors import CheckpointError, RenderCancelled

TILE = 192
TILE_OVERLAP = 16


@dataclass
class Upscaler:
    """A loaded super-resolution network and its fixed scale factor."""

    model: object       # torch.nn.Module: (B, 3, H, W) in 0..1 -> (B, 3, H*scale, W*scale)
    scale: int
    name: str = ""
    tile: int = TILE    # input pixels per tile side (plus TILE_OVERLAP on each inner side)

    def to(self, device: str) -> "Upscaler":
        self.model.to(device)
        return self

    def upscale(self, image, factor: float, should_cancel=None, on_progress=None):
        """`image` (PIL) enlarged by `factor`: the network as often as needed, then Lanczos to the exact size."""
        from PIL import Image

        target = (round(image.width * factor), round(image.height * factor))
        passes = max(1, math.ceil(math.log(max(factor, 1.0), self.scale) - 1e-9)) if self.scale > 1 else 1
        for index in range(passes):
            if image.width >= target[0] and image.height >= target[1]:
                break
            image = self.run_tiled(image, should_cancel,
                                   (lambda d, t, i=index: on_progress(i * t + d, passes * t)) if on_progress else None)
        return image if image.size == target else image.resize(target, Image.Resampling.LANCZOS)

    def run_tiled(self, image, should_cancel=None, on_progress=None):
        """One application of the network, tile by tile; the output is `scale` times the input."""
        import numpy as np
        import torch
        from PIL import Image

        param = next(self.model.parameters())
        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
        height, width = pixels.shape[1:]
        scale = self.scale
        output = torch.zeros(3, height * scale, width * scale)
        weight = torch.zeros(1, height * scale, width * scale)
        tile = self.tile
        tiles = [(top, left) for top in range(0, height, tile) for left in range(0, width, tile)]
        for index, (top, left) in enumerate(tiles):
            if should_cancel is not None and should_cancel():
                raise RenderCancelled()
            y0, x0 = max(top - TILE_OVERLAP, 0), max(left - TILE_OVERLAP, 0)
            y1, x1 = min(top + tile + TILE_OVERLAP, height), min(left + tile + TILE_OVERLAP, width)
            with torch.no_grad():
                result = self.model(pixels[None, :, y0:y1, x0:x1].to(param.device, param.dtype))[0]
            ramp = _blend_mask(y1 - y0, x1 - x0, (y0 > 0, y1 < height, x0 > 0, x1 < width), scale)
            output[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += result.float().cpu().clamp(0, 1) * ramp
            weight[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += ramp
            if on_progress is not None:
                on_progress(index + 1, len(tiles))
        output = output.div_(weight).mul_(255).round_().clamp_(0, 255).byte()  # in place: one float copy at most
        return Image.fromarray(output.permute(1, 2, 0).contiguous().numpy())


def _blend_mask(height: int, width: int, inner_edges, scale: int):
    """Weights of a tile's output: 1 inside, ramping linearly over the overlap on edges shared with a neighbour."""
    import torch

    top, bottom, left, right = inner_edges
    ramp_len = 2 * TILE_OVERLAP * scale

    def axis(size, start_inner, end_inner):
        values = torch.ones(size * scale)
        ramp = torch.linspace(0.0, 1.0, ramp_len + 2)[1:-1]
        if start_inner:
            values[:ramp_len] = torch.minimum(values[:ramp_len], ramp[:size * scale])
        if end_inner:
            values[-ramp_len:] = torch.minimum(values[-ramp_len:], ramp.flip(0)[-size * scale:])
        return values

    return (axis(height, top, bottom)[:, None] * axis(width, left, right)[None, :])[None]


def load_upscaler(path: str, name: str = "") -> Upscaler:
    """An Upscaler from a .safetensors or weights-only .pth file; CheckpointError if unusable."""
    state = files.read_state_dict(path)
    try:
        import spandrel
    except Exception:  # absent, or its torchvision import fails
        spandrel = None
    if spandrel is not None:
        try:
            descriptor = spandrel.ModelLoader().load_from_state_dict(state)
        except Exception as exc:
            raise CheckpointError(f"{name or path}: not an upscaler model spandrel knows ({exc})") from exc
        if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.input_channels != 3:
            raise CheckpointError(f"{name or path}: not an RGB image-to-image model")
        return Upscaler(descriptor.model.eval(), int(descriptor.scale), name)
    model, scale = _builtin_esrgan(state, name or path)
    return Upscaler(model.eval(), scale, name)


# --- built-in ESRGAN (used without spandrel) -------------------------------------------------------------------

_OLD_RDB = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_BSRGAN_RDB = re.compile(r"^RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)$")


# Keys that identify an ESRGAN/RRDBNet state dict in its old, new (basicsr) and BSRGAN namings; model import
# (models_app/inspect.py) recognises upscalers by them too
ESRGAN_KEY_SETS = (
    {"model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight"},
    {"conv_first.weight", "body.0.rdb1.conv1.weight", "conv_last.weight"},
    {"conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight", "conv_last.weight"},
)


def is_esrgan(keys) -> bool:
    """Whether state-dict keys have an ESRGAN/RRDBNet layout (old, new or BSRGAN naming)."""
    keys = set(keys)
    return any(key_set <= keys for key_set in ESRGAN_KEY_SETS)


def to_new_layout(state: dict) -> dict:
    """Old ESRGAN or BSRGAN key names rewritten to the new (basicsr) RRDBNet names."""
    if "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state:
        return dict(state)
    new = {}
    if "model.0.weight" in state:
        blocks = 1 + max(int(m.group(1)) for k in state if (m := _OLD_RDB.match(k)))
        ups = sorted({int(m.group(1)) for k in state if (m := re.match(r"^model\.(\d+)\.weight$", k))} - {0})
        *up_indices, hr, last = ups
        renames = {"model.0": "conv_first", f"model.1.sub.{blocks}": "conv_body", f"model.{hr}": "conv_hr",
                   f"model.{last}": "conv_last"}
        renames.update({f"model.{index}": f"conv_up{n}" for n, index in enumerate(up_indices, start=1)})
        for key, value in state.items():
            if m := _OLD_RDB.match(key):
                new[f"body.{m.group(1)}.rdb{m.group(2)}.conv{m.group(3)}.{m.group(4)}"] = value
            else:
                prefix, _, kind = key.rpartition(".")
                new[f"{renames.get(prefix, prefix)}.{kind}"] = value
        return new
    for key, value in state.items():  # BSRGAN / RealSR
        if m := _BSRGAN_RDB.match(key):
            key = f"body.{m.group(1)}.rdb{m.group(2)}.conv{m.group(3)}.{m.group(4)}"
        new[key.replace("trunk_conv.", "conv_body.").replace("upconv", "conv_up").replace("HRconv.", "conv_hr.")] \
            = value
    return new


def _builtin_esrgan(state: dict, label: str):
    if not is_esrgan(state):
        raise CheckpointError(f"{label}: not an ESRGAN-layout upscaler (install spandrel for other architectures)")
    state = to_new_layout(state)
    in_channels, features = state["conv_first.weight"].shape[1], state["conv_first.weight"].shape[0]
    out_channels = state["conv_last.weight"].shape[0]
    blocks = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
    growth = state["body.0.rdb1.conv1.weight"].shape[0]
    upsamples = sum(1 for k in state if re.match(r"^conv_up\d\.weight$", k))
    shuffle = {out_channels * 4: 2, out_channels * 16: 4}.get(in_channels, 1)
    model = rrdbnet_class()(in_channels, out_channels, features, blocks, growth, upsamples, shuffle)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{label}: ESRGAN weights do not fit together ({str(exc).splitlines()[0]})") from exc
    return model, 2 ** upsamples // shuffle


@functools.cache
def rrdbnet_class():
    """The RRDBNet module class (defined on first use, so importing this module does not import torch)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class ResidualDenseBlock(nn.Module):
        def __init__(self, features, growth):
            super().__init__()
            for i in range(1, 5):
                setattr(self, f"conv{i}", nn.Conv2d(features + (i - 1) * growth, growth, 3, 1, 1))
            self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, 1, 1)

        def forward(self, x):
            outputs = [x]
            for i in range(1, 5):
                outputs.append(F.leaky_relu(getattr(self, f"conv{i}")(torch.cat(outputs, 1)), 0.2))
            return self.conv5(torch.cat(outputs, 1)) * 0.2 + x

    class RRDB(nn.Module):
        def __init__(self, features, growth):
            super().__init__()
            self.rdb1, self.rdb2, self.rdb3 = (ResidualDenseBlock(features, growth) for _ in range(3))

        def forward(self, x):
            return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x

    class RRDBNet(nn.Module):
        """ESRGAN's generator in basicsr's naming (conv_first, body, conv_body, conv_upN, conv_hr, conv_last)."""

        def __init__(self, in_channels, out_channels, features, blocks, growth, upsamples, shuffle=1):
            super().__init__()
            self.shuffle = shuffle
            self.conv_first = nn.Conv2d(in_channels, features, 3, 1, 1)
            self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
            self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
            for i in range(1, upsamples + 1):
                setattr(self, f"conv_up{i}", nn.Conv2d(features, features, 3, 1, 1))
            self.upsamples = upsamples
            self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
            self.conv_last = nn.Conv2d(features, out_channels, 3, 1, 1)

        def forward(self, x):
            height, width = x.shape[2:]
            if self.shuffle > 1:
                pad_h, pad_w = (-height) % self.shuffle, (-width) % self.shuffle
                x = F.pixel_unshuffle(F.pad(x, (0, pad_w, 0, pad_h), mode="reflect"), self.shuffle)
            feat = self.conv_first(x)
            feat = feat + self.conv_body(self.body(feat))
            for i in range(1, self.upsamples + 1):
                feat = F.leaky_relu(getattr(self, f"conv_up{i}")(F.interpolate(feat, scale_factor=2, mode="nearest")),
                                    0.2)
            out = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))
            if self.shuffle > 1:
                factor = 2 ** self.upsamples // self.shuffle
                out = out[:, :, :height * factor, :width * factor]
            return out

    return RRDBNet

