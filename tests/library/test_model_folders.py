"""manage.py import_model PATH... over folders (#24 item 1): A1111 / ComfyUI layouts, --in-place (no copy), the hash
cache, sidecars, missing / changed in-place files, deletes that keep the user's file, bad files skipped, and a render
of a missing in-place model failing with a clear task error. Real files in tmp dirs, tiny models from
make_test_checkpoint."""

import io
import json
import os
import shutil

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from safetensors.torch import save_file
from torch import zeros

from models_app.models import FileHash, SDModel
from models_app.storage import model_file_path
from tests.support.factories import png_bytes
from tests.support.worker import wait_done

pytestmark = pytest.mark.django_db


def make(path, kind="checkpoint", seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    call_command("make_test_checkpoint", str(path), "--kind", kind, "--seed", str(seed), stdout=io.StringIO())
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_model", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def store_files():
    root = settings.SDHOST["MODELS_PATH"]
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def by_path():
    return {m.local_path: m for m in SDModel.objects.all()}


@pytest.fixture
def a1111(tmp_path):
    """An AUTOMATIC1111 data folder with one model of each kind and Civitai Helper sidecars."""
    root = tmp_path / "stable-diffusion-webui"
    files = {
        "checkpoint": make(root / "models/Stable-diffusion/dreamy.safetensors", seed=1),
        "vae-beside": make(root / "models/Stable-diffusion/dreamy.vae.safetensors", "vae", seed=2),
        "lora": make(root / "models/Lora/style.safetensors", "lora", seed=3),
        "lycoris": make(root / "models/LyCORIS/sub/other.safetensors", "lora", seed=4),
        "vae": make(root / "models/VAE/clear.safetensors", "vae", seed=5),
        "upscaler": make(root / "models/ESRGAN/4x.safetensors", "upscaler", seed=6),
        "controlnet": make(root / "models/ControlNet/pose.safetensors", "controlnet", seed=7),
        "embedding": make(root / "embeddings/bad-hands.safetensors", "embedding", seed=8),
    }
    (root / "models/Lora/style.civitai.info").write_text(json.dumps({
        "id": 88214, "modelId": 10391, "name": "v3", "baseModel": "SD 1.5", "trainedWords": ["stylewrd", "inkwash"],
        "description": "<p>Soft <b>ink</b> style.</p>", "model": {"name": "Ink Style", "type": "LORA", "tags": ["ink"]},
        "files": [], "images": [],
    }, indent=4))
    (root / "models/Lora/style.preview.png").write_bytes(png_bytes(width=12, height=10))
    (root / "models/Stable-diffusion/dreamy.json").write_text(json.dumps(
        {"description": "My favourite", "activation text": "dreamy style", "preferred weight": 0.8}))
    (root / "models/Stable-diffusion/dreamy.png").write_bytes(png_bytes(width=9, height=9))
    return root, files


def test_a1111_tree_in_place_registers_every_kind_without_copying(a1111):
    root, files = a1111
    out, err = run("--in-place", root)
    models = by_path()
    assert {key: models[str(path)].model_type for key, path in files.items()} == {
        "checkpoint": "checkpoint", "vae-beside": "vae", "lora": "lora", "lycoris": "lora", "vae": "vae",
        "upscaler": "upscaler", "controlnet": "controlnet", "embedding": "embedding"}
    assert store_files() == []  # nothing copied
    for path in files.values():
        model = models[str(path)]
        assert model_file_path(model) == path and model.status == "ready" and model.size == path.stat().st_size
        assert f"{model.hash} {path}" in out
    assert "8 imported" in err and "8 files hashed" in err and "0 skipped" in err
    assert FileHash.objects.count() == 8


def test_sidecars_fill_in_name_description_words_ids_and_cover(a1111, api):
    root, files = a1111
    run("--in-place", root)
    lora = by_path()[str(files["lora"])]
    assert lora.name == "Ink Style v3" and lora.base_model == "SD1.5"
    assert lora.description == "Soft **ink** style."
    assert lora.metadata["trigger_words"] == ["stylewrd", "inkwash"]
    assert lora.metadata["civitai"] == {"model_id": 10391, "version_id": 88214}
    assert lora.source_url == "https://civitai.com/models/10391?modelVersionId=88214"
    assert [t.name for t in lora.tags.all()] == ["ink"]
    assert (lora.cover_image.width, lora.cover_image.height) == (12, 10)  # stored in the image library
    checkpoint = by_path()[str(files["checkpoint"])]
    assert checkpoint.name == "dreamy" and checkpoint.description == "My favourite"
    assert checkpoint.metadata["trigger_words"] == ["dreamy style"]
    assert checkpoint.metadata["a1111"] == {"preferred_weight": 0.8}
    assert checkpoint.cover_image.width == 9
    attributes = api.get(f"/api/models/{lora.hash}").json()["data"]["attributes"]
    assert attributes["local_path"] == str(files["lora"]) and attributes["status"] == "ready"
    response = api.post_json(f"/api/models/{lora.hash}", {"local_path": "/etc/passwd"})
    assert response.status_code == 400 and SDModel.objects.get(pk=lora.hash).local_path == str(files["lora"])


def test_comfyui_tree_copies_by_default_and_a_rerun_reads_no_file(tmp_path):
    root = tmp_path / "ComfyUI/models"
    files = [make(root / "checkpoints/a.safetensors", seed=1), make(root / "loras/b.safetensors", "lora", seed=2),
             make(root / "vae/c.safetensors", "vae", seed=3), make(root / "upscale_models/d.safetensors", "upscaler", seed=4),
             make(root / "controlnet/e.safetensors", "controlnet", seed=5),
             make(root / "embeddings/f.safetensors", "embedding", seed=6)]
    (root / "loras/b.metadata.json").write_text(json.dumps({
        "model_name": "Comfy LoRA", "base_model": "SD 1.5", "modelDescription": "<p>From the manager</p>",
        "tags": ["comfy"], "civitai": {"id": 5, "modelId": 6, "trainedWords": ["cmf"]}}))
    _, err = run(root)
    models = list(SDModel.objects.all())
    assert {m.name: m.model_type for m in models} == {
        "a": "checkpoint", "Comfy LoRA": "lora", "c": "vae", "d": "upscaler", "e": "controlnet", "f": "embedding"}
    assert all(m.local_path is None and model_file_path(m).is_file() for m in models)
    assert len(store_files()) == 6 and all(f.exists() for f in files)  # copied; the originals stay
    assert all(f.stat().st_nlink == 1 for f in files + store_files())  # real copies, no hard links
    lora = SDModel.objects.get(model_type="lora")
    assert (lora.name, lora.description, lora.metadata["trigger_words"]) == ("Comfy LoRA", "From the manager", ["cmf"])
    assert "6 imported" in err and "6 files hashed" in err

    # same size and mtime, other bytes: a re-run that read the file would import a new model; the cache trusts stat
    info = files[0].stat()
    data = bytearray(files[0].read_bytes())
    data[-1] ^= 0xFF
    files[0].write_bytes(bytes(data))
    os.utime(files[0], ns=(info.st_atime_ns, info.st_mtime_ns))
    _, err = run(root)
    assert "0 imported" in err and "6 already in the library" in err and "hash cache: 6 hits, 0 files hashed" in err
    assert SDModel.objects.count() == 6


def test_folder_kind_comes_first_then_the_header(tmp_path):
    """An unrecognised tensor layout is a LoRA in `Lora/`, and skipped outside a known folder; InvokeAI's legacy
    `models/<base>/<type>/` layout gives kind and base model; a layout the header recognises wins over the folder,
    and a checkpoint folder holds only checkpoints."""
    odd = {"odd.weight": zeros(4, 4)}
    save_file(odd, str((tmp_path / "webui/models/Lora").mkdir(parents=True) or tmp_path / "webui/models/Lora/odd.safetensors"))
    save_file({"odd.weight": zeros(4, 5)}, str(tmp_path / "loose.safetensors"))
    make(tmp_path / "invokeai/models/sdxl/vae/x/diffusion.safetensors", "vae", seed=9)
    misplaced = make(tmp_path / "ComfyUI/models/checkpoints/style.safetensors", "lora", seed=10)
    (tmp_path / "ComfyUI/models/checkpoints/unet").mkdir()
    save_file({"down_blocks.0.resnets.0.conv1.weight": zeros(4, 4)},
              str(tmp_path / "ComfyUI/models/checkpoints/unet/diffusion_pytorch_model.safetensors"))
    _, err = run("--in-place", tmp_path)
    assert by_path()[str(misplaced)].model_type == "lora"  # the header knows better than the folder
    assert f"note: {misplaced}: in a checkpoint folder, but its tensors are a lora's: imported as lora" in err
    assert ("diffusion_pytorch_model.safetensors: in a checkpoint folder, but not a single-file SD1.5/SD2/SDXL "
            "checkpoint") in err
    models = by_path()
    assert models[str(tmp_path / "webui/models/Lora/odd.safetensors")].model_type == "lora"
    vae = models[str(tmp_path / "invokeai/models/sdxl/vae/x/diffusion.safetensors")]
    assert (vae.model_type, vae.base_model) == ("vae", "SDXL")
    assert f"skipped: {tmp_path / 'loose.safetensors'}: loose.safetensors: unrecognised tensor layout" in err


def test_rerun_in_place_costs_a_stat_per_file_and_a_touched_file_is_hashed_again(tmp_path):
    files = [make(tmp_path / "loras" / f"l{i}.safetensors", "lora", seed=i) for i in range(3)]
    run("--in-place", tmp_path)
    _, err = run("--in-place", tmp_path)
    assert "0 imported" in err and "3 already in the library" in err and "hash cache: 3 hits, 0 files hashed" in err
    os.utime(files[1], ns=(0, 1_000_000_000))  # same bytes, new mtime: read once more, then cached again
    _, err = run("--in-place", tmp_path)
    assert "1 files hashed" in err and SDModel.objects.count() == 3  # by the in-place check, once
    _, err = run("--in-place", tmp_path)
    assert "hash cache: 3 hits, 0 files hashed" in err


def test_missing_and_changed_in_place_files_get_their_status(tmp_path, api):
    gone = make(tmp_path / "checkpoints/gone.safetensors", seed=1)
    edited = make(tmp_path / "checkpoints/edited.safetensors", seed=2)
    run("--in-place", tmp_path)
    before = by_path()
    moved = tmp_path / "elsewhere.safetensors"
    shutil.move(gone, moved)
    make(edited, seed=3)  # overwritten with other bytes
    _, err = run("--verify")
    assert SDModel.objects.get(pk=before[str(gone)].hash).status == "missing"
    assert SDModel.objects.get(pk=before[str(edited)].hash).status == "changed"
    assert "ready -> missing" in err and "ready -> changed" in err
    listed = api.get("/api/models?filter[status]=missing").json()["data"]
    assert [m["id"] for m in listed] == [before[str(gone)].hash]
    # a task naming it is refused (400), not queued
    response = api.post_json("/api/tasks", {"checkpoint_hash": before[str(gone)].hash, "prompt": "x"})
    assert response.status_code == 400 and "status: missing" in response.json()["errors"][0]["detail"]

    shutil.move(moved, gone)  # back where it was
    _, err = run("--in-place", tmp_path / "checkpoints")  # a scan checks the in-place models under its paths
    assert SDModel.objects.get(pk=before[str(gone)].hash).status == "ready"
    assert "missing -> ready" in err
    new = by_path()[str(edited)]  # the new bytes at that path are a model of their own
    assert new.hash != before[str(edited)].hash and new.status == "ready"
    assert SDModel.objects.get(pk=before[str(edited)].hash).status == "changed"


def test_deleting_an_in_place_model_keeps_the_users_file(tmp_path, api, django_capture_on_commit_callbacks):
    path = make(tmp_path / "loras/mine.safetensors", "lora", seed=1)
    data = path.read_bytes()
    model = SDModel.objects.get(pk=run("--in-place", path)[0].strip())
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/models/{model.hash}")
    assert response.status_code in (200, 204) and not SDModel.objects.exists()
    assert path.read_bytes() == data


def test_bad_files_are_skipped_listed_and_counted(tmp_path):
    root = tmp_path / "models"
    good = make(root / "checkpoints/good.safetensors", seed=1)
    (root / "checkpoints/truncated.safetensors").write_bytes(good.read_bytes()[:-100])
    (root / "loras").mkdir()
    (root / "loras/garbage.ckpt").write_bytes(b"not a pickle at all")
    (root / "loras/empty.safetensors").write_bytes(b"")
    (root / "loras/notes.gguf").write_bytes(b"GGUF")
    (root / "loras/loop").symlink_to(root)  # a symlink loop
    (root / "loras/dangling.safetensors").symlink_to(tmp_path / "nowhere")
    os.mkfifo(root / "loras/pipe.safetensors")
    locked = root / "vae/locked"
    locked.mkdir(parents=True)
    make(locked / "v.safetensors", "vae", seed=2)
    locked.chmod(0)
    try:
        out, err = run("--in-place", root)
    finally:
        locked.chmod(0o755)
    assert [m.local_path for m in SDModel.objects.all()] == [str(good)] + (
        [str(locked / "v.safetensors")] if os.geteuid() == 0 else [])  # root reads any folder
    skipped = {line.removeprefix("  skipped: ").split(": ")[0] for line in err.splitlines() if "skipped: " in line}
    expected = {str(root / p) for p in ("checkpoints/truncated.safetensors", "loras/garbage.ckpt",
                                        "loras/empty.safetensors", "loras/notes.gguf", "loras/loop",
                                        "loras/dangling.safetensors", "loras/pipe.safetensors")}
    if os.geteuid() != 0:
        expected.add(str(locked))
    assert skipped == expected
    assert f"{len(expected)} skipped" in err
    assert FileHash.objects.filter(path__contains="truncated").count() == 0
    assert "broken symlink" in err and "symlink loop" in err and "not a weights file (.gguf)" in err


def test_rendering_a_missing_in_place_model_fails_with_a_clear_task_error(tmp_path, api, render_worker):
    path = make(tmp_path / "checkpoints/tiny.safetensors", seed=1)
    sha = run("--in-place", path)[0].strip()
    path.unlink()  # gone, and no scan has noticed yet: the model is still `ready`, so the task is queued
    response = api.post_json("/api/tasks", {"checkpoint_hash": sha, "prompt": "a cat", "width": 64, "height": 64,
                                            "steps": 1})
    assert response.status_code == 202, response.content
    task_id = response.json()["task_id"]
    assert wait_done(task_id) == "failed"
    message = api.get(f"/api/tasks/{task_id}").json()["data"]["attributes"]["error_message"]
    assert message.startswith("ModelFileUnavailable: The file of model 'tiny'")
    assert str(path) in message and "cannot be read" in message


def test_a_folder_without_weights_files_is_an_error_and_name_needs_one_file(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match="No weights files"):
        run(tmp_path)
    with pytest.raises(CommandError, match="single file"):
        run("--name", "x", tmp_path)
    with pytest.raises(CommandError, match="PATH"):
        run()


def test_sidecar_text_with_control_characters_is_left_out(tmp_path):
    path = make(tmp_path / "loras/x.safetensors", "lora", seed=1)
    (tmp_path / "loras/x.civitai.info").write_text(json.dumps({
        "id": 1, "modelId": 2, "name": "v1", "description": "bad\u0000text", "trainedWords": ["ok", "no\u0007"],
        "model": {"name": "Nice\u0000Name"}}))
    (tmp_path / "loras/x.json").write_text(json.dumps({"notes": "ring\u0007", "preferred weight": 0.5}))
    _, err = run("--in-place", tmp_path)
    model = by_path()[str(path)]
    assert model.name == "x" and model.description is None
    assert model.metadata["trigger_words"] == ["ok"] and "a1111" not in model.metadata
    assert "note: name: left out" in err and "note: description: left out" in err
