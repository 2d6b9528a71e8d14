"""Live preview cost (issue 26): renders with previews off, at the default interval and every step, interleaved.

    python bench/preview_bench.py                      # tiny random-weight SD1.5, CPU
    python bench/preview_bench.py --full-size --device cuda

Each preview goes the worker's whole way: the engine's approx decode (engine/previews.py) of every image of the
batch, then tasks_app.previews.write (grid, WebP, atomic file under CACHE_PATH/previews). Reports the median wall
time per render of each setting over --repeats interleaved rounds and the added share against "off"; and,
steadier on a busy machine, the cost timed directly: one preview's milliseconds (the approx decode of the case's
latents plus the file write, median of 50) x previews per render / the median render time without previews.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-size", action="store_true", help="real SD1.5 size (for a GPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cases", default="256x256x1,128x128x4", help="WIDTHxHEIGHTxBATCH, comma-separated")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="sdhost-preview-bench-"))
    os.environ["SDHOST_DATA_DIR"] = str(data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdhost.settings")
    import django

    django.setup()
    import torch
    from django.conf import settings

    from engine import PreviewSettings, RenderEngine, RenderRequest
    from engine.previews import approx_images
    from engine.tiny_models import write_model_file
    from tasks_app import previews
    from tests.support.engine import model_file

    torch.set_num_threads(args.threads)
    every = settings.SDHOST["PREVIEW_EVERY"]
    path = write_model_file(data / "ckpt.safetensors", kind="checkpoint", arch="sd15", full_size=args.full_size)
    checkpoint = model_file(path, "checkpoint", "bench")
    engine = RenderEngine(device=args.device, cache_size=1)
    print(f"device {engine.device}, threads {args.threads}, {args.steps} steps, default interval {every}, "
          f"{'full-size' if args.full_size else 'tiny'} SD1.5, load {os.getloadavg()[0]:.2f}")

    def store(frame):
        previews.write("bench", frame.sequence, frame.images)

    settings_of = {"off": None, f"every {every}": PreviewSettings("approx", every), "every 1": PreviewSettings("approx", 1)}
    for case in args.cases.split(","):
        width, height, batch = (int(v) for v in case.split("x"))
        request = RenderRequest(checkpoint=checkpoint, prompt="a lighthouse at dusk", width=width, height=height,
                                steps=args.steps, sampler="DPM++ 2M Karras", seed=1, batch_size=batch)
        engine.render(request)  # warm-up: load, first-call costs
        times = {name: [] for name in settings_of}
        for _ in range(args.repeats):
            for name, preview in settings_of.items():
                started = time.perf_counter()
                engine.render(request, on_preview=store if preview else None, previews=preview)
                times[name].append(time.perf_counter() - started)
        off = statistics.median(times["off"])
        line = [f"{width}x{height} batch {batch}: off {off * 1000:.0f} ms"]
        for name in list(settings_of)[1:]:
            median = statistics.median(times[name])
            line.append(f"{name} {median * 1000:.0f} ms ({100 * (median - off) / off:+.1f} %)")
        latents = torch.randn(batch, 4, height // 8, width // 8, device=engine.device, dtype=engine.dtype)
        one = []
        for sequence in range(50):
            started = time.perf_counter()
            previews.write("direct", sequence, approx_images(latents, "sd15"))
            one.append(time.perf_counter() - started)
        one = statistics.median(one)
        direct = 100 * one * (args.steps // every) / off
        print("; ".join(line) + f"; one preview {one * 1000:.2f} ms: {direct:.2f} % of a render at every {every}")
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
