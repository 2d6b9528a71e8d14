"""manage.py import_image PATH... over folders (#24 item 4): PNGs written the way AUTOMATIC1111, InvokeAI and ComfyUI
write them become images whose seed and metadata keys say how they were made, queryable through /api/images."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from images_app.models import Image
from tests.support.factories import png_bytes

pytestmark = pytest.mark.django_db

A1111 = ("a knight in <lora:inkwash:0.7> style, night\nNegative prompt: blurry, lowres\n"
         "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, "
         "Model hash: 4be1f07c1a, Model: dreamy_v3, Lora hashes: \"inkwash: 0a1b2c3d4e5f\", Version: v1.10.1")
INVOKEAI = {
    "positive_prompt": "a lighthouse in fog", "negative_prompt": "people", "width": 1024, "height": 1024,
    "seed": 98765, "cfg_scale": 5.5, "steps": 25, "scheduler": "dpmpp_2m_k", "clip_skip": 0,
    "model": {"key": "k1", "hash": "blake3:abcd", "name": "Juggernaut XL", "base": "sdxl", "type": "main"},
    "loras": [{"model": {"key": "k2", "hash": "blake3:ef01", "name": "detail-tweaker"}, "weight": 0.5}],
}
COMFY_PROMPT = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15/dreamshaper_8.safetensors"}},
    "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "pixel.safetensors", "strength_model": 0.8,
                                                 "strength_clip": 1.0, "model": ["4", 0], "clip": ["4", 1]}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox, pixel art", "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 156680208700286, "steps": 20, "cfg": 8.0, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1.0, "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
COMFY_WORKFLOW = {  # the editor's graph only (an API graph was not saved)
    "nodes": [
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["v1-5-pruned-emaonly.safetensors"],
         "inputs": []},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a castle on a hill"], "inputs": [{"name": "clip", "link": 3}]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["ugly"], "inputs": [{"name": "clip", "link": 5}]},
        {"id": 3, "type": "KSampler", "widgets_values": [42, "fixed", 12, 6.5, "dpmpp_2m", "karras", 1],
         "inputs": [{"name": "model", "link": 1}, {"name": "positive", "link": 4}, {"name": "negative", "link": 6},
                    {"name": "latent_image", "link": 2}]},
    ],
    "links": [[1, 4, 0, 3, 0, "MODEL"], [3, 4, 1, 6, 0, "CLIP"], [5, 4, 1, 7, 0, "CLIP"], [4, 6, 0, 3, 1, "CONDITIONING"],
              [6, 7, 0, 3, 2, "CONDITIONING"]],
}


def png_with(chunks: dict, size=(16, 16), color=(10, 20, 30)) -> bytes:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value if isinstance(value, str) else json.dumps(value))
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_image", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def gallery(tmp_path):
    root = tmp_path / "outputs"
    (root / "txt2img-images/2025-03-14").mkdir(parents=True)
    (root / "invokeai").mkdir()
    (root / "comfy/sub").mkdir(parents=True)
    files = {
        "a1111": root / "txt2img-images/2025-03-14/00001-1234567890.png",
        "invokeai": root / "invokeai/c0ffee.png",
        "comfy": root / "comfy/ComfyUI_00001_.png",
        "workflow": root / "comfy/sub/ComfyUI_00002_.png",
        "plain": root / "comfy/photo.jpg",
    }
    files["a1111"].write_bytes(png_with({"parameters": A1111}, color=(1, 2, 3)))
    files["invokeai"].write_bytes(png_with({"invokeai_metadata": INVOKEAI, "invokeai_graph": {"nodes": {}}},
                                           color=(4, 5, 6)))
    files["comfy"].write_bytes(png_with({"prompt": COMFY_PROMPT, "workflow": COMFY_WORKFLOW}, color=(7, 8, 9)))
    files["workflow"].write_bytes(png_with({"workflow": COMFY_WORKFLOW}, color=(10, 11, 12)))
    files["plain"].write_bytes(png_bytes(fmt="JPEG"))
    (root / "comfy/broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (root / "comfy/notes.txt").write_text("prompts I liked")
    (root / "comfy/sub/up").symlink_to(root)  # a symlink loop
    return root, files


def imported(out):
    return {path: Image.objects.get(pk=sha) for sha, path in (line.split(" ", 1) for line in out.splitlines())}


def test_folder_import_reads_a1111_invokeai_and_comfyui_metadata(gallery):
    root, files = gallery
    out, err = run(root)
    images = imported(out)
    assert set(images) == {str(p) for p in files.values()}
    assert "5 imported (4 with generation metadata)" in err and "3 skipped" in err
    assert f"skipped: {root / 'comfy/broken.png'}: Not a decodable image" in err
    assert f"skipped: {root / 'comfy/notes.txt'}: not a PNG, JPEG or WebP file" in err
    assert "symlink loop" in err

    a1111 = images[str(files["a1111"])]
    assert a1111.seed == 1234567890
    assert {k: v for k, v in a1111.metadata.items() if k != "parameters"} == {
        "generator": "a1111", "prompt": "a knight in <lora:inkwash:0.7> style, night",
        "negative_prompt": "blurry, lowres", "steps": 30, "sampler": "DPM++ 2M Karras", "cfg_scale": 7,
        "checkpoint": "dreamy_v3", "checkpoint_hash": "4be1f07c1a", "generation_size": "512x768",
        "loras": [{"name": "inkwash", "hash": "0a1b2c3d4e5f", "weight": 0.7}],
    }
    assert a1111.metadata["parameters"] == A1111

    invoke = images[str(files["invokeai"])]
    assert invoke.seed == 98765
    assert invoke.metadata == {
        "generator": "invokeai", "prompt": "a lighthouse in fog", "negative_prompt": "people", "steps": 25,
        "sampler": "dpmpp_2m_k", "cfg_scale": 5.5, "checkpoint": "Juggernaut XL", "checkpoint_hash": "blake3:abcd",
        "loras": [{"name": "detail-tweaker", "hash": "blake3:ef01", "weight": 0.5}], "generation_size": "1024x1024",
    }

    comfy = images[str(files["comfy"])]
    assert comfy.seed == 156680208700286
    assert comfy.metadata == {
        "generator": "comfyui", "prompt": "a red fox, pixel art", "negative_prompt": "text, watermark", "steps": 20,
        "sampler": "euler normal", "cfg_scale": 8.0, "checkpoint": "sd15/dreamshaper_8.safetensors",
        "loras": [{"name": "pixel.safetensors", "weight": 0.8}],
    }
    workflow = images[str(files["workflow"])]
    assert workflow.seed == 42
    assert workflow.metadata == {
        "generator": "comfyui", "prompt": "a castle on a hill", "negative_prompt": "ugly", "steps": 12,
        "sampler": "dpmpp_2m karras", "cfg_scale": 6.5, "checkpoint": "v1-5-pruned-emaonly.safetensors",
    }
    assert images[str(files["plain"])].metadata == {} and images[str(files["plain"])].seed is None

    _, err = run(root)  # again: nothing new
    assert "0 imported" in err and "5 already in the library" in err


def test_imported_generation_fields_are_queryable(gallery, api):
    root, files = gallery
    run(root)
    def ids(query):
        return {item["id"] for item in api.get(f"/api/images?{query}").json()["data"]}
    by_steps = ids("filter[metadata.steps][gte]=25")
    assert by_steps == {Image.objects.get(seed=s).hash for s in (1234567890, 98765)}
    assert ids("filter[seed]=156680208700286") == {Image.objects.get(metadata__generator="comfyui", seed=156680208700286).hash}
    assert len(ids("filter[metadata.generator]=comfyui")) == 2


def test_missing_path_and_empty_folder_are_errors(tmp_path):
    with pytest.raises(CommandError):
        run(tmp_path / "missing.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="No image files"):
        run(tmp_path / "empty")


@pytest.mark.parametrize("chunks", [
    {"prompt": "{not json"},
    {"prompt": "[" * 100_000 + "]" * 100_000},  # nested past the JSON parser's recursion limit
    {"prompt": json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": "x", "steps": [None], "cfg": {},
                                                                       "positive": ["3", 0], "model": ["3", 0]}}})},
    {"invokeai_metadata": json.dumps(["a", "list"])},
    {"invokeai_metadata": json.dumps({"seed": -5, "steps": "many", "loras": [1, {"model": "x"}]})},
    {"workflow": json.dumps({"nodes": [{"id": 1, "type": "KSampler", "widgets_values": "oops"}], "links": "no"})},
    {"parameters": "Steps: 20, Seed: 99999999999999999999999, CFG scale: lots"},
])
def test_odd_metadata_never_fails_an_import(tmp_path, chunks):
    (tmp_path / "odd.png").write_bytes(png_with(chunks))
    out, err = run(tmp_path)
    image = Image.objects.get(pk=out.split()[0])
    assert "1 imported" in err and "0 skipped" in err
    assert image.seed is None or 0 <= image.seed < 2**63


def test_control_characters_in_png_text_are_left_out(tmp_path):
    """PostgreSQL stores no NUL: a prompt or infotext holding one is left out, the image is imported."""
    (tmp_path / "a.png").write_bytes(png_with({"parameters": "a cat\x00\nSteps: 20, Seed: 7, CFG scale: 7"},
                                              color=(1, 1, 1)))
    (tmp_path / "b.png").write_bytes(png_with({"invokeai_metadata": json.dumps(
        {"positive_prompt": "a dog\u0000", "negative_prompt": "blur", "seed": 8, "steps": 10})}, color=(2, 2, 2)))
    out, err = run(tmp_path)
    images = imported(out)
    a, b = images[str(tmp_path / "a.png")], images[str(tmp_path / "b.png")]
    assert a.metadata == {"generator": "a1111", "steps": 20, "cfg_scale": 7} and a.seed == 7  # no prompt, no chunk
    assert b.metadata == {"generator": "invokeai", "negative_prompt": "blur", "steps": 10} and b.seed == 8
