"""POST/DELETE /api/tasks and PUT /api/tasks/promote: validation, placement, answers (no rendering)."""

import hashlib
import io
import re

import pytest
from django.urls import Resolver404, resolve
from PIL import Image as PILImage

from images_app.storage import store_image_bytes
from models_app.models import SDModel
from tasks_app import queue
from tasks_app.models import NEVER_PROMOTED, TASK_ID_PATTERN, Task
from tests.support.api import assert_error

HMS = re.compile(r"^\d{2,}:\d{2}:\d{2}$")


def make_model(name, model_type="checkpoint", base_model="SD1.5", status="ready", **extra):
    return SDModel.objects.create(
        hash=hashlib.sha256(name.encode()).hexdigest(), name=name, model_type=model_type,
        base_model=base_model, size=1234, status=status, **extra,
    )


def png_bytes(color=(10, 20, 30)):
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def lib(db):
    """A small ready library: two SD1.5 checkpoints, an SDXL one, and add-ons."""
    class Lib:
        ckpt = make_model("dream-v1")
        ckpt2 = make_model("ink-v2")
        xl = make_model("xl-base", base_model="SDXL")
        blank = make_model("mystery", base_model=None)
        vae = make_model("vae-ft", "vae")
        xl_vae = make_model("xl-vae", "vae", base_model="SDXL")
        lora = make_model("detail-lora", "lora")
        lora_xl = make_model("xl-lora", "lora", base_model="SDXL")
        control = make_model("canny", "controlnet")
        embed = make_model("easyneg", "embedding", metadata={"trigger_words": ["easynegative"]})
        downloading = make_model("half-done", status="downloading")
        image = store_image_bytes(png_bytes())[0]
    return Lib


def submit(api, lib, **fields):
    body = {"checkpoint_hash": lib.ckpt.hash, "prompt": "a misty forest", **fields}
    return api.post_json("/api/tasks", body)


def test_submit_minimal_uses_defaults(api, lib):
    response = submit(api, lib)
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"task_id", "status", "position", "estimated_time"}
    assert body["status"] == "queued" and body["position"] == 1
    assert HMS.match(body["estimated_time"])
    task = Task.objects.get(id=body["task_id"])
    assert (task.status, task.width, task.height, task.steps, task.cfg_scale, task.seed, task.batch_size) == (
        "pending", 512, 512, 20, 7.0, -1, 1)
    assert task.sampler == "DPM++ 2M Karras" and task.negative_prompt == "" and task.vae is None
    assert task.promoted_at == NEVER_PROMOTED


def test_whole_floats_are_integers(api, lib):
    """512.0 is the integer 512 in JSON Schema (OpenAPI 3.1's `integer`), so a client may send it (#23 item 9)."""
    response = submit(api, lib, width=576.0, height=512.0, steps=12.0, seed=7.0, batch_size=2.0, clip_skip=2.0,
                      hires={"width": 1152.0, "height": 1024.0, "steps": 5.0})
    assert response.status_code == 202, response.content
    task = Task.objects.get(id=response.json()["task_id"])
    assert (task.width, task.height, task.steps, task.seed, task.batch_size) == (576, 512, 12, 7, 2)
    assert type(task.width) is int and task.hires["width"] == 1152 and type(task.hires["steps"]) is int


def test_submit_full_body_stores_everything(api, lib):
    response = submit(
        api, lib, negative_prompt="blurry", width=832, height=1216, steps=28, cfg_scale=6.5, seed=42,
        batch_size=2, sampler="Euler a", vae_hash=lib.vae.hash, tags=["Forest", "dawn"],
        additional_models=[
            {"model_hash": lib.lora.hash, "weight": 0.7},
            {"model_hash": lib.control.hash, "control_image": lib.image.hash},
            {"model_hash": lib.embed.hash},
        ],
    )
    assert response.status_code == 202, response.content
    task = Task.objects.get(id=response.json()["task_id"])
    assert (task.width, task.height, task.steps, task.cfg_scale, task.seed, task.batch_size, task.sampler) == (
        832, 1216, 28, 6.5, 42, 2, "Euler a")
    assert task.vae == lib.vae
    extras = [(tm.model.name, tm.weight, tm.control_image_id) for tm in task.task_models.all()]
    assert extras == [("detail-lora", 0.7, None), ("canny", 1.0, lib.image.hash), ("easyneg", 1.0, None)]
    assert sorted(t.name for t in task.tags.all()) == ["Forest", "dawn"]


def test_settings_defaults_apply(api, lib, settings):
    settings.SDHOST = {**settings.SDHOST, "DEFAULT_STEPS": 33, "DEFAULT_CFG_SCALE": 4.5}
    task = Task.objects.get(id=submit(api, lib).json()["task_id"])
    assert (task.steps, task.cfg_scale) == (33, 4.5)


def test_blank_base_model_is_compatible(api, lib):
    response = api.post_json("/api/tasks", {
        "checkpoint_hash": lib.blank.hash, "prompt": "x", "vae_hash": lib.xl_vae.hash,
        "additional_models": [{"model_hash": lib.lora.hash}],
    })
    assert response.status_code == 202, response.content


BAD_FIELDS = [
    ({"width": 500}, "/width"),
    ({"width": 56}, "/width"),
    ({"height": 2056}, "/height"),
    ({"height": 512.5}, "/height"),  # 512.0 is the integer 512 (test_whole_floats_are_integers)
    ({"width": "512"}, "/width"),
    ({"width": True}, "/width"),
    ({"steps": 0}, "/steps"),
    ({"steps": 201}, "/steps"),
    ({"steps": 2.5}, "/steps"),
    ({"cfg_scale": 0}, "/cfg_scale"),
    ({"cfg_scale": 30.5}, "/cfg_scale"),
    ({"cfg_scale": "7"}, "/cfg_scale"),
    ({"seed": -2}, "/seed"),
    ({"seed": 1.5}, "/seed"),
    ({"seed": 2**63}, "/seed"),
    ({"batch_size": 0}, "/batch_size"),
    ({"batch_size": 5}, "/batch_size"),
    ({"sampler": "Euler b"}, "/sampler"),
    ({"sampler": None}, "/sampler"),
    ({"prompt": ""}, "/prompt"),
    ({"prompt": "   "}, "/prompt"),
    ({"prompt": 5}, "/prompt"),
    ({"negative_prompt": ["x"]}, "/negative_prompt"),
    ({"vae_hash": 7}, "/vae_hash"),
    ({"tags": "forest"}, "/tags"),
    ({"tags": ["ok", ""]}, "/tags/1"),
    ({"tags": ["x" * 21]}, "/tags/0"),
    ({"tags": [3]}, "/tags/0"),
    ({"additional_models": {}}, "/additional_models"),
    ({"additional_models": ["abc"]}, "/additional_models/0"),
    ({"additional_models": [{}]}, "/additional_models/0/model_hash"),
    ({"colour": "red"}, "/colour"),
]


@pytest.mark.parametrize("fields,pointer", BAD_FIELDS)
def test_field_validation(api, lib, fields, pointer):
    assert_error(submit(api, lib, **fields), 400, "invalid_request", pointer=pointer)
    assert not Task.objects.exists()


def test_required_fields(api, lib):
    assert_error(api.post_json("/api/tasks", {"prompt": "x"}), 400, "invalid_request", pointer="/checkpoint_hash")
    assert_error(api.post_json("/api/tasks", {"checkpoint_hash": lib.ckpt.hash}), 400, "invalid_request", pointer="/prompt")


def test_body_must_be_a_json_object(api, lib):
    for body in ([], "text", 3, None):
        assert_error(api.post_json("/api/tasks", body if body is not None else "null"), 400, "invalid_request")
    assert_error(api.post("/api/tasks", "{not json", content_type="application/json"), 400, "invalid_request")
    assert not Task.objects.exists()


def test_batch_size_limit_is_named(api, lib, settings):
    error = assert_error(submit(api, lib, batch_size=5), 400, "invalid_request", pointer="/batch_size")
    assert "4" in error["detail"]
    settings.SDHOST = {**settings.SDHOST, "MAX_BATCH_SIZE": 6}
    assert submit(api, lib, batch_size=6).status_code == 202


def test_max_image_side_setting(api, lib, settings):
    settings.SDHOST = {**settings.SDHOST, "MAX_IMAGE_SIDE": 1024}
    assert_error(submit(api, lib, width=1032), 400, "invalid_request", pointer="/width")
    assert submit(api, lib, width=1024, height=64).status_code == 202


def test_unknown_sampler_lists_supported_names(api, lib):
    error = assert_error(submit(api, lib, sampler="Warp"), 400, "invalid_request", pointer="/sampler")
    assert "DPM++ 2M Karras" in error["detail"] and "Euler a" in error["detail"]


@pytest.mark.parametrize("fields, stored", [
    ({}, ("DPM++ 2M Karras", "Automatic")),  # the spec's default sampler, as given
    ({"sampler": "DPM++ 2M Karras", "scheduler": "Karras"}, ("DPM++ 2M Karras", "Karras")),
    ({"sampler": "Euler", "scheduler": "sgm_uniform"}, ("Euler", "SGM Uniform")),  # A1111's name or label
    ({"sampler": "Euler", "scheduler": "SGMUniform"}, ("Euler", "SGM Uniform")),
    ({"sampler": "Euler", "scheduler": "KL Optimal"}, ("Euler", "KL Optimal")),
    ({"sampler": "LCM"}, ("LCM", "Automatic")),
    ({"scheduler": "Exponential"}, ("DPM++ 2M", "Exponential")),  # the default sampler without its Karras
])
def test_sampler_and_schedule_type_are_stored(api, lib, fields, stored):
    response = submit(api, lib, **fields)
    assert response.status_code == 202, response.content
    task = Task.objects.get(id=response.json()["task_id"])
    assert (task.sampler, task.scheduler) == stored
    assert api.get(f"/api/tasks/{task.id}").json()["data"]["attributes"]["scheduler"] == stored[1]


@pytest.mark.parametrize("fields, detail", [
    ({"sampler": "DPM++ 2M Karras", "scheduler": "Exponential"},
     "sampler DPM++ 2M Karras already names schedule type Karras; it conflicts with schedule type Exponential"),
    ({"sampler": "Euler a", "scheduler": "Karras"}, "sampler Euler a does not support schedule type Karras"),
    ({"sampler": "DPM++ 2M", "scheduler": "KL Optimal"}, "sampler DPM++ 2M does not support schedule type KL Optimal"),
    ({"sampler": "LCM", "scheduler": "Karras"}, "sampler LCM does not support schedule type Karras"),
    ({"scheduler": "Turbo"}, "Unknown scheduler 'Turbo'; supported: Automatic, Uniform, Karras"),
    ({"scheduler": 7}, "'scheduler' must be a string"),
])
def test_a_schedule_type_the_sampler_cannot_take_is_a_400(api, lib, fields, detail):
    error = assert_error(submit(api, lib, **fields), 400, "invalid_request", pointer="/scheduler")
    assert error["detail"].startswith(detail)
    assert not Task.objects.exists()


def test_checkpoint_must_be_a_ready_checkpoint(api, lib):
    for value in ("0" * 64, lib.lora.hash, lib.downloading.hash, 12, None):
        body = {"checkpoint_hash": value, "prompt": "x"}
        assert_error(api.post_json("/api/tasks", body), 400, "invalid_request", pointer="/checkpoint_hash")


def test_vae_must_be_a_ready_compatible_vae(api, lib):
    make_model("vae-dl", "vae", status="failed")
    for value in ("f" * 64, lib.lora.hash, hashlib.sha256(b"vae-dl").hexdigest(), lib.xl_vae.hash):
        assert_error(submit(api, lib, vae_hash=value), 400, "invalid_request", pointer="/vae_hash")
    assert submit(api, lib, vae_hash=None).status_code == 202


def test_additional_model_rules(api, lib):
    failing = make_model("bad-lora", "lora", status="failed")
    cases = [
        ([{"model_hash": lib.lora.hash}, {"model_hash": "e" * 64}], "/additional_models/1/model_hash"),
        ([{"model_hash": lib.vae.hash}], "/additional_models/0/model_hash"),
        ([{"model_hash": lib.ckpt2.hash}], "/additional_models/0/model_hash"),
        ([{"model_hash": failing.hash}], "/additional_models/0/model_hash"),
        ([{"model_hash": lib.lora_xl.hash}], "/additional_models/0/model_hash"),
        ([{"model_hash": lib.lora.hash}, {"model_hash": lib.lora.hash}], "/additional_models/1/model_hash"),
        ([{"model_hash": lib.lora.hash, "weight": 2.5}], "/additional_models/0/weight"),
        ([{"model_hash": lib.lora.hash, "weight": -0.1}], "/additional_models/0/weight"),
        ([{"model_hash": lib.lora.hash, "weight": "1"}], "/additional_models/0/weight"),
        ([{"model_hash": lib.lora.hash, "strength": 1}], "/additional_models/0/strength"),
        ([{"model_hash": lib.lora.hash}, {"model_hash": lib.control.hash}], "/additional_models/1/control_image"),
        ([{"model_hash": lib.control.hash, "control_image": "d" * 64}], "/additional_models/0/control_image"),
        ([{"model_hash": lib.control.hash, "control_image": None}], "/additional_models/0/control_image"),
        ([{"model_hash": lib.lora.hash, "control_image": lib.image.hash}], "/additional_models/0/control_image"),
        ([{"model_hash": lib.embed.hash, "control_image": lib.image.hash}], "/additional_models/0/control_image"),
    ]
    for extras, pointer in cases:
        assert_error(submit(api, lib, additional_models=extras), 400, "invalid_request", pointer=pointer)
    assert not Task.objects.exists()
    ok = [{"model_hash": lib.lora.hash, "weight": 0}, {"model_hash": lib.embed.hash, "weight": 2}]
    assert submit(api, lib, additional_models=ok).status_code == 202


def test_positions_follow_the_scheduler(api, lib):
    a1 = submit(api, lib).json()
    b1 = submit(api, lib, checkpoint_hash=lib.ckpt2.hash).json()
    a2 = submit(api, lib).json()
    assert (a1["position"], b1["position"], a2["position"]) == (1, 2, 2)
    assert queue.positions() == {a1["task_id"]: 1, a2["task_id"]: 2, b1["task_id"]: 3}
    b1_task = Task.objects.get(id=b1["task_id"])
    assert b1_task.overtaken == 1


def test_estimated_time_grows_with_work_ahead(api, lib):
    first = submit(api, lib, steps=50).json()["estimated_time"]
    second = submit(api, lib, checkpoint_hash=lib.ckpt2.hash, steps=50).json()["estimated_time"]
    assert second > first


def test_promote(api, lib):
    ids = [submit(api, lib, checkpoint_hash=c.hash).json()["task_id"] for c in (lib.ckpt, lib.ckpt2, lib.xl)]
    response = api.put_json("/api/tasks/promote", {"task_ids": [ids[2], ids[1], "nope"]})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "updated": [ids[2], ids[1]],
        "new_positions": [{"task_id": ids[2], "position": 1}, {"task_id": ids[1], "position": 2}],
        "failed": [{"task_id": "nope", "reason": "Task not found"}],
    }
    promoted = Task.objects.get(id=ids[2])
    assert promoted.promoted_at > NEVER_PROMOTED
    # A later promotion goes in front of the earlier one.
    response = api.put_json("/api/tasks/promote", {"task_ids": [ids[0]]})
    assert response.json()["new_positions"] == [{"task_id": ids[0], "position": 1}]
    assert queue.positions() == {ids[0]: 1, ids[2]: 2, ids[1]: 3}


def test_promote_non_pending_fails_per_task(api, lib):
    task_id = submit(api, lib).json()["task_id"]
    Task.objects.filter(id=task_id).update(status="completed")
    response = api.put_json("/api/tasks/promote", {"task_ids": [task_id]})
    assert response.json() == {
        "updated": [], "new_positions": [], "failed": [{"task_id": task_id, "reason": "Task already completed"}],
    }


def test_cancel(api, lib):
    ids = [submit(api, lib).json()["task_id"] for _ in range(4)]
    Task.objects.filter(id=ids[1]).update(status="completed")
    Task.objects.filter(id=ids[2]).update(status="failed")
    response = api.delete_json("/api/tasks", {"task_ids": [ids[0], ids[1], ids[2], "missing", ids[0]]})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "cancelled": [ids[0]],
        "failed": [
            {"task_id": ids[1], "reason": "Task already completed"},
            {"task_id": ids[2], "reason": "Task already failed"},
            {"task_id": "missing", "reason": "Task not found"},
        ],
    }
    assert Task.objects.get(id=ids[0]).status == "cancelled"
    again = api.delete_json("/api/tasks", {"task_ids": [ids[0]]}).json()
    assert again["failed"] == [{"task_id": ids[0], "reason": "Task already cancelled"}]
    assert queue.positions() == {ids[3]: 1}


@pytest.mark.parametrize("path,method", [("/api/tasks", "delete_json"), ("/api/tasks/promote", "put_json")])
@pytest.mark.parametrize("body,pointer", [
    ([], None), ({}, "/task_ids"), ({"task_ids": "abc"}, "/task_ids"), ({"task_ids": [1]}, "/task_ids/0"),
    ({"task_ids": [], "extra": 1}, "/extra"),
])
def test_malformed_id_lists(api, lib, path, method, body, pointer):
    task_id = submit(api, lib).json()["task_id"]
    assert_error(getattr(api, method)(path, body), 400, "invalid_request", pointer=pointer)
    assert Task.objects.get(id=task_id).status == "pending"


def test_only_a_task_id_reaches_a_task(api, lib):
    """`queue` was also a task id: /api/tasks/{id} with id `queue` answered the SSE stream (#23 item 6)."""
    task_id = submit(api, lib).json()["task_id"]
    assert re.fullmatch(TASK_ID_PATTERN, task_id)
    assert api.get(f"/api/tasks/{task_id}").json()["data"]["id"] == task_id
    assert resolve("/api/tasks/queue").url_name == "task-queue"
    assert resolve(f"/api/tasks/{task_id}").url_name == "task-detail"
    for other in ("queue2", task_id.upper(), task_id + "x"):
        with pytest.raises(Resolver404):
            resolve(f"/api/tasks/{other}")
        assert_error(api.get(f"/api/tasks/{other}"), 404, "not_found")
    detail = api.get("/api/schema?format=json").json()["paths"]["/api/tasks/{id}"]["get"]
    [id_parameter] = [parameter for parameter in detail["parameters"] if parameter["in"] == "path"]
    assert not re.search(id_parameter["schema"]["pattern"], "queue")
    assert re.search(id_parameter["schema"]["pattern"], task_id)


def test_a_model_of_the_wrong_kind_is_named_with_the_right_article(api, lib):
    """Issue 22 item 19: "is a upscaler"."""
    upscaler = make_model("4x-sharp", "upscaler", base_model=None)
    detail = assert_error(submit(api, lib, checkpoint_hash=upscaler.hash), 400, "invalid_request",
                          pointer="/checkpoint_hash")["detail"]
    assert f"Model {upscaler.hash} is an upscaler; 'checkpoint_hash' must be a checkpoint" == detail
    detail = assert_error(submit(api, lib, checkpoint_hash=lib.embed.hash), 400, "invalid_request")["detail"]
    assert "is an embedding;" in detail
    detail = assert_error(submit(api, lib, additional_models=[{"model_hash": lib.vae.hash}]), 400,
                          "invalid_request")["detail"]
    assert detail.endswith("is a vae; 'model_hash' must be a lora, a controlnet or an embedding")
    detail = assert_error(api.post_json(f"/api/images/{lib.image.hash}/upscale", {"upscaler": lib.embed.hash}), 400,
                          "invalid_request", pointer="/upscaler")["detail"]
    assert detail == f"Model {lib.embed.hash} is an embedding, not an upscaler"


def test_a_model_name_where_a_hash_belongs_hints_at_the_sha256_and_the_name_lookup(api, lib):
    """Issue 22 item 19: checkpoint_hash="dreamshaper" only said "Unknown model dreamshaper"."""
    detail = assert_error(submit(api, lib, checkpoint_hash="dreamshaper"), 400, "invalid_request",
                          pointer="/checkpoint_hash")["detail"]
    assert "'checkpoint_hash' takes a model's SHA256 (64 hex digits), not its name" in detail
    assert "GET /api/models?filter[model_type]=checkpoint&filter[name][contains]=dreamshaper" in detail
    detail = assert_error(submit(api, lib, checkpoint_hash="Dream-v1"), 400, "invalid_request")["detail"]
    assert f"the checkpoint named 'dream-v1' has the hash {lib.ckpt.hash}" in detail
    detail = assert_error(submit(api, lib, additional_models=[{"model_hash": "detail-lora"}]), 400,
                          "invalid_request", pointer="/additional_models/0/model_hash")["detail"]
    assert f"the lora named 'detail-lora' has the hash {lib.lora.hash}" in detail
    detail = assert_error(api.post_json(f"/api/images/{lib.image.hash}/upscale", {"upscaler": "4x-UltraSharp"}), 400,
                          "invalid_request", pointer="/upscaler")["detail"]
    assert "SHA256" in detail and "filter[model_type]=upscaler&filter[name][contains]=4x-UltraSharp" in detail
    unknown = "0" * 64  # a hash no model has: no hint needed
    assert assert_error(submit(api, lib, checkpoint_hash=unknown), 400, "invalid_request")["detail"] == \
        f"Unknown model {unknown}"
