"""Upscaler benchmark: peak memory and time of a 4x ESRGAN (RRDBNet, 64 features) tiled and untiled (CPU or GPU).

    python bench/upscale_bench.py                   # 256x256 -> 1024x1024, tile 192 vs one pass, 2 RRDB blocks
    python bench/upscale_bench.py --blocks 23 --size 512 --device cuda

Each case runs in a fresh subprocess; the figure is the growth of peak resident memory (CPU: ru_maxrss) or of
peak allocated device memory (CUDA) over the state after loading the model and the image. The activation peak
does not depend on the block count (blocks run one after another at the input resolution; the peak is at the
4x upsampling stage), so few blocks keep the CPU run short; the 23-block model adds 67 MB of weights.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_case(size: int, tile: int, blocks: int, device: str) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from engine.upscale import Upscaler, rrdbnet_class

    torch.manual_seed(0)
    model = rrdbnet_class()(3, 3, features=64, blocks=blocks, growth=32, upsamples=2).eval().to(device)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    upscaler = Upscaler(model, 4, "bench", tile=tile)
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    result = upscaler.run_tiled(image)
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak / 1e6, "out": list(result.size)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="input side in px")
    parser.add_argument("--blocks", type=int, default=2, help="RRDB blocks (real ESRGAN: 23)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tile", type=int, default=None, help="tile size (default: the engine's TILE)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.size, int(args.case), args.blocks, args.device)))
        return
    from engine.upscale import TILE

    tile = args.tile or TILE
    print(f"4x RRDBNet, 64 features, {args.blocks} blocks, {args.size}x{args.size} input, {args.device}")
    print(f"{'case':<28}{'seconds':>10}{'peak MB':>10}")
    for label, case_tile in ((f"tiled ({tile} px + overlap)", tile), ("one pass (untiled)", args.size)):
        out = subprocess.run([sys.executable, __file__, "--case", str(case_tile), "--size", str(args.size),
                              "--blocks", str(args.blocks), "--device", args.device],
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        result = json.loads(out)
        print(f"{label:<28}{result['seconds']:>10.2f}{result['peak_mb']:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
