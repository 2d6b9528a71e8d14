"""Opt-in speed paths of the denoising loop: torch.compile of the UNet, channels-last memory format, a chosen
scaled-dot-product-attention backend (docs/rendering.md#fast-paths).

All are off unless configured. A fast path that fails (a compile error, an attention backend the device lacks)
never fails a render: the call runs again on the plain path, with one warning in the log, and that
(checkpoint, size, batch) stays on the plain path from then on.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Callable, TypeVar

from .errors import RenderCancelled

log = logging.getLogger(__name__)

SDPA_BACKENDS = {"math": "MATH", "flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION",
                 "cudnn": "CUDNN_ATTENTION"}

T = TypeVar("T")


@dataclass(frozen=True)
class FastPaths:
    """Which fast paths to use (settings SDHOST_COMPILE_UNET ... SDHOST_SDPA_BACKEND)."""

    compile: bool = False
    compile_mode: str = "default"       # torch.compile's mode: default, reduce-overhead, max-autotune, ...
    compile_backend: str = "inductor"   # torch.compile's backend
    compile_cache: int = 4              # (checkpoint, size, batch) graphs kept before all are dropped
    channels_last: bool = False
    sdpa_backend: str | None = None     # a key of SDPA_BACKENDS; None: torch chooses


class FastRunner:
    """Applies FastPaths to pipeline calls; one per engine."""

    def __init__(self, paths: FastPaths | None = None):
        self.paths = paths or FastPaths()
        self.sdpa = self._sdpa_backend(self.paths.sdpa_backend)
        self._compiled = None           # (the plain UNet, its compiled module)
        self._graphs: OrderedDict = OrderedDict()  # (checkpoint, width, height, rows) keys compiled so far
        self._plain: set = set()        # keys whose fast path failed

    @staticmethod
    def _sdpa_backend(name: str | None):
        if not name:
            return None
        if name not in SDPA_BACKENDS:
            log.warning("Unknown SDPA backend %r (known: %s); torch chooses", name, ", ".join(SDPA_BACKENDS))
            return None
        from torch.nn.attention import SDPBackend

        return getattr(SDPBackend, SDPA_BACKENDS[name])

    def prepare(self, pipe) -> None:
        """After loading a checkpoint: channels-last weights for the UNet and the VAE when asked."""
        if self.paths.channels_last:
            import torch

            for module in (pipe.unet, pipe.vae):
                module.to(memory_format=torch.channels_last)

    def run(self, pipe, key: tuple, call: Callable[[], T]) -> T:
        """call() with the fast paths for `key` (checkpoint, width, height, rows); on a failure, call() again
        on the plain path."""
        if not (self.paths.compile or self.sdpa is not None) or key in self._plain:
            return call()
        try:
            with self._fast(pipe, key):
                return call()
        except RenderCancelled:
            raise
        except Exception as exc:
            self._plain.add(key)
            log.warning("Fast path (%s) failed for checkpoint %s at %dx%d, batch %d (%s: %s); rendering on the "
                        "plain path", self.describe(), key[0][:10], key[1], key[2], key[3], type(exc).__name__,
                        str(exc).splitlines()[0] if str(exc) else "")
            return call()

    def describe(self) -> str:
        paths = []
        if self.paths.compile:
            paths.append(f"torch.compile mode={self.paths.compile_mode} backend={self.paths.compile_backend}")
        if self.sdpa is not None:
            paths.append(f"SDPA {self.paths.sdpa_backend}")
        return ", ".join(paths)

    @contextmanager
    def _fast(self, pipe, key: tuple):
        with ExitStack() as stack:
            if self.sdpa is not None:
                from torch.nn.attention import sdpa_kernel

                stack.enter_context(sdpa_kernel(self.sdpa))
            if self.paths.compile:
                plain = pipe.unet
                pipe.unet = self._compiled_unet(plain, key)
                stack.callback(setattr, pipe, "unet", plain)
            yield

    def _compiled_unet(self, unet, key: tuple):
        """The compiled UNet; the first call of a new key compiles (warm-up). Beyond `compile_cache` keys, or for
        another checkpoint's UNet, every compiled graph is dropped first."""
        import torch

        if self._compiled is not None and self._compiled[0] is not unet:
            self._drop_graphs()
        if key not in self._graphs and len(self._graphs) >= max(1, self.paths.compile_cache):
            log.info("Compiled UNet graphs reached SDHOST_COMPILE_CACHE (%d): dropping them",
                     self.paths.compile_cache)
            self._drop_graphs()
        if self._compiled is None:
            mode = None if self.paths.compile_mode == "default" else self.paths.compile_mode
            self._compiled = (unet, torch.compile(unet, mode=mode, backend=self.paths.compile_backend,
                                                  dynamic=False))
        self._graphs[key] = None
        self._graphs.move_to_end(key)
        return self._compiled[1]

    def _drop_graphs(self) -> None:
        import torch

        self._compiled = None
        self._graphs.clear()
        torch._dynamo.reset()
