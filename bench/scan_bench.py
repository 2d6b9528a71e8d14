"""Folder-scan benchmark (#24): `import_model --in-place` over a tree in AUTOMATIC1111's layout.

    python bench/scan_bench.py [--files 1000] [--large 2] [--large-mb 2000] [--copy] [--pngs 0] [--dir /tmp]

The tree: `--files` small LoRA files (valid safetensors, 2-16 KiB, different bytes) spread over
`models/Lora/<nn>/`, each third with a Civitai Helper `.civitai.info` sidecar, plus `--large` checkpoints of
`--large-mb` MB in `models/Stable-diffusion/` (a valid safetensors header over random data, the size of an SD1.5
file at 2000). A fresh data directory (SQLite unless SDHOST_DATABASE_URL is set) gets:
  1. the first scan (models_app.scan.scan, in process): files/s and MB/s over everything it read;
  2. the large files hashed by `models_app.services.hash_file` against `sha256sum` on the same (cached) files;
  3. re-scans of the unchanged tree (best of 3, in process), given per 10,000 files; and one `manage.py
     import_model --in-place` run as a user would start it (Django start-up included).
`--copy` scans by copy instead (the default of the command): the store's writes are then part of the first scan.
`--pngs N` also imports a folder of N 512x512 PNGs with A1111 infotext (`images_app.services.import_images`, in
process): images/s, first import and re-import.
"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1e6


def safetensors_bytes(tensors: dict) -> bytes:
    """A safetensors file of float16 numpy arrays."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = array.astype(np.float16).tobytes()
        header[name] = {"dtype": "F16", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_large(path: Path, size: int):
    """A checkpoint-shaped safetensors file of about `size` bytes (one tensor of random bytes)."""
    elements = (size // 2) - 64
    name = "model.diffusion_model.input_blocks.0.0.weight"
    header = json.dumps({name: {"dtype": "F16", "shape": [elements], "data_offsets": [0, elements * 2]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        left = elements * 2
        block = os.urandom(16 * 1024 * 1024)
        while left:
            f.write(block[:min(left, len(block))])
            left -= min(left, len(block))


def build_tree(root: Path, files: int, large: int, large_mb: int) -> tuple[list, int]:
    rng = np.random.default_rng(0)
    paths, total = [], 0
    for index in range(files):
        folder = root / "models/Lora" / f"{index // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        rank = 2 + index % 8
        data = safetensors_bytes({
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight":
                rng.standard_normal((rank, 768)),
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight":
                rng.standard_normal((320, rank)),
        })
        path = folder / f"lora_{index:05d}.safetensors"
        path.write_bytes(data)
        if index % 3 == 0:
            (folder / f"lora_{index:05d}.civitai.info").write_text(json.dumps({
                "id": 100000 + index, "modelId": 50000 + index, "name": "v1", "baseModel": "SD 1.5",
                "trainedWords": [f"word{index}"], "model": {"name": f"Bench LoRA {index}", "type": "LORA"}}))
        paths.append(path)
        total += len(data)
    folder = root / "models/Stable-diffusion"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(large):
        path = folder / f"big_{index}.safetensors"
        write_large(path, large_mb * 1_000_000)
        paths.append(path)
        total += path.stat().st_size
    return paths, total


def write_pngs(folder: Path, count: int):
    """`count` PNGs of 512x512 (noise, ~790 KB, like a real render's size class) with an A1111 infotext each."""
    from PIL import Image as PILImage
    from PIL.PngImagePlugin import PngInfo

    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    for index in range(count):
        sub = folder / f"{index // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        pixels = base.copy()
        pixels[0, :8, 0] = np.frombuffer(index.to_bytes(8, "little"), dtype=np.uint8)  # different bytes each
        info = PngInfo()
        info.add_text("parameters", f"a castle on a hill, number {index}, <lora:ink:0.6>\nNegative prompt: blurry\n"
                                    f"Steps: {20 + index % 10}, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, "
                                    f"Seed: {1000 + index}, Size: 512x512, Model hash: 4be1f07c1a, Model: dreamy, "
                                    f"Lora hashes: \"ink: 0a1b2c3d4e5f\"")
        PILImage.fromarray(pixels).save(sub / f"{index:05d}.png", pnginfo=info, compress_level=1)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--large", type=int, default=2)
    parser.add_argument("--large-mb", type=int, default=2000)
    parser.add_argument("--copy", action="store_true", help="scan by copy into the store instead of in place")
    parser.add_argument("--pngs", type=int, default=0, help="also import a folder of this many PNGs")
    parser.add_argument("--dir", default=None, help="where the temporary tree and data directory go")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="scan-bench-", dir=args.dir))
    try:
        tree = tmp / "stable-diffusion-webui"
        seconds, (paths, total) = timed(build_tree, tree, args.files, args.large, args.large_mb)
        print(f"tree: {args.files} small + {args.large} x {args.large_mb} MB files, {total / MB:.0f} MB, "
              f"written in {seconds:.1f} s")
        os.environ.update(SDHOST_DATA_DIR=str(tmp / "data"), DJANGO_SETTINGS_MODULE="sdhost.settings",
                          SDHOST_LOG_LEVEL="WARNING")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        from models_app.scan import scan
        from models_app.services import hash_file

        seconds, report = timed(scan, [tree], in_place=not args.copy)
        assert len(report.imported) == len(paths), (len(report.imported), report.skipped[:3])
        print(f"first scan ({'copy' if args.copy else 'in place'}): {seconds:.1f} s, {len(paths) / seconds:.0f} "
              f"files/s, {report.hashed_bytes / MB / seconds:.0f} MB/s over {report.hashed_bytes / MB:.0f} MB read")

        large = paths[args.files:]
        if large:
            large_bytes = sum(p.stat().st_size for p in large)
            subprocess.run(["sha256sum", *map(str, large)], check=True, capture_output=True)  # page cache warm
            ours = min(timed(lambda: [hash_file(p) for p in large])[0] for _ in range(2))
            theirs = min(timed(subprocess.run, ["sha256sum", *map(str, large)], check=True, capture_output=True)[0]
                         for _ in range(2))
            print(f"hashing {large_bytes / MB:.0f} MB (cached): hash_file {large_bytes / MB / ours:.0f} MB/s, "
                  f"sha256sum {large_bytes / MB / theirs:.0f} MB/s, ratio {theirs / ours:.2f}")
            print(f"  python hashlib uses {hashlib.sha256().name} from OpenSSL")

        rescans = []
        for _ in range(3):
            seconds, report = timed(scan, [tree], in_place=not args.copy)
            assert report.hashed == 0 and report.known == len(paths), (report.hashed, report.known)
            rescans.append(seconds)
        best = min(rescans)
        print(f"re-scan of the unchanged tree: {best:.2f} s for {len(paths)} files = "
              f"{best / len(paths) * 10_000:.2f} s per 10,000 files (best of 3: {', '.join(f'{s:.2f}' for s in rescans)})")
        command = [sys.executable, "manage.py", "import_model", str(tree)] + ([] if args.copy else ["--in-place"])
        seconds, done = timed(subprocess.run, command, cwd=ROOT, capture_output=True, text=True)
        print(f"manage.py import_model re-run (start-up included): {seconds:.2f} s; {done.stderr.strip().splitlines()[0]}")
        if args.pngs:
            from django.conf import settings

            from images_app.services import import_images

            seconds, _ = timed(write_pngs, tmp / "outputs", args.pngs)
            size = sum(p.stat().st_size for p in (tmp / "outputs").rglob("*.png"))
            print(f"{args.pngs} PNGs with infotext, {size / MB:.0f} MB, written in {seconds:.1f} s")
            seconds, report = timed(import_images, [tmp / "outputs"], max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
            assert len(report.imported) == args.pngs == report.with_generation, (len(report.imported), report.skipped[:3])
            print(f"image import: {seconds:.1f} s, {args.pngs / seconds:.0f} images/s, {size / MB / seconds:.0f} MB/s")
            seconds, report = timed(import_images, [tmp / "outputs"], max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
            print(f"image re-import (all known): {seconds:.1f} s, {args.pngs / seconds:.0f} images/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
