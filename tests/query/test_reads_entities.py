"""Entity reads: document shapes per entity, single reads, sparse fieldsets, includes, 404s, query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.jsonapi import resource_object, single_document
from images_app.models import Image, ImageTag
from models_app.api.resources import ModelResource
from models_app.models import ModelTag, SDModel
from system_app.models import Tag
from tasks_app.models import Task, TaskModel, TaskTag
from tests.support.api import assert_error
from tests.support.query_seed import at, sha


def get(api, url):
    response = api.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()


# --- shapes -------------------------------------------------------------------------------

def test_model_document(api, lib):
    body = get(api, f"/api/models/{sha(1)}")
    assert set(body) == {"data"}
    assert body["data"] == {
        "type": "model",
        "id": sha(1),
        "attributes": {
            "name": "dreamlike-valley-v3", "model_type": "checkpoint", "base_model": "SDXL", "size": 6938041144,
            "source_url": "https://civitai.com/models/10391?modelVersionId=88214",
            "metadata": {"resolution": "1024x1024", "trigger_words": ["dlvalley"], "rating": 4.5},
            "description": "# Dreamlike Valley", "status": "ready", "error_message": None,
            "local_path": None,  # null unless used in place (#24)
            "created_at": "2025-02-03T18:40:12Z",
            "updated_at": lib.models.m1.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "relationships": {
            "tags": {"data": [{"type": "tag", "id": "scenery"}, {"type": "tag", "id": "Painterly"}]},
            "cover_image": {"data": {"type": "image", "id": sha(0xA1)}},
        },
    }


def test_image_document(api, lib):
    data = get(api, f"/api/images/{sha(0xA1)}")["data"]
    assert data == {
        "type": "image", "id": sha(0xA1),
        "attributes": {"width": 832, "height": 1216, "size": 1893004, "seed": 2718281829,
                       "metadata": {"rating": 5, "is_favorite": True}, "created_at": "2025-03-14T09:23:31Z"},
        "relationships": {
            "task": {"data": {"type": "task", "id": lib.tasks.t1.id}},
            "tags": {"data": [{"type": "tag", "id": "forest"}, {"type": "tag", "id": "favorite"}]},
        },
    }
    assert get(api, f"/api/images/{sha(0xA5)}")["data"]["relationships"]["task"] == {"data": None}


def test_task_document(api, lib):
    t1 = lib.tasks.t1
    body = get(api, f"/api/tasks/{t1.id}?include=additional_models")
    attributes = body["data"]["attributes"]
    assert attributes == {
        "status": "completed", "prompt": "misty pine forest at dawn, volumetric light",
        "negative_prompt": "lowres, blurry", "width": 832, "height": 1216, "seed": 2718281828, "steps": 28,
        "cfg_scale": 6.5, "sampler": "DPM++ 2M Karras", "scheduler": "Automatic", "batch_size": 2, "clip_skip": 1, "error_message": None,
        "created_at": "2025-03-14T09:20:02Z", "promoted_at": "2025-03-14T09:22:40Z",
        "completed_at": "2025-03-14T09:23:31Z", "updated_at": t1.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": "render", "denoising_strength": None, "mask_blur": 4, "hires": None, "upscale_scale": None,
    }
    assert body["data"]["relationships"] == {
        "checkpoint": {"data": {"type": "model", "id": sha(1)}},
        "vae": {"data": {"type": "model", "id": sha(3)}},
        "additional_models": {"data": [{"type": "task_model", "id": f"{t1.id}:{sha(2)}"},
                                       {"type": "task_model", "id": f"{t1.id}:{sha(4)}"}]},
        "tags": {"data": [{"type": "tag", "id": "forest"}]},
        "images": {"data": [{"type": "image", "id": sha(0xA1)}, {"type": "image", "id": sha(0xA3)}]},
    }
    assert body["included"] == [
        {"type": "task_model", "id": f"{t1.id}:{sha(2)}", "attributes": {"weight": 0.7},
         "relationships": {"model": {"data": {"type": "model", "id": sha(2)}}}},
        {"type": "task_model", "id": f"{t1.id}:{sha(4)}", "attributes": {"weight": 1.0},
         "relationships": {"model": {"data": {"type": "model", "id": sha(4)}},
                           "control_image": {"data": {"type": "image", "id": sha(0xA2)}}}},
    ]


def test_task_includes_its_images(api, lib):
    """Issue 22 item 9: a task links to the images it produced (task_images), `include=images` on one and on lists."""
    t1 = lib.tasks.t1
    body = get(api, f"/api/tasks/{t1.id}?include=images.tags")
    assert body["data"]["relationships"]["images"] == {
        "data": [{"type": "image", "id": sha(0xA1)}, {"type": "image", "id": sha(0xA3)}]}
    included = {(o["type"], o["id"]) for o in body["included"]}
    assert included == {("image", sha(0xA1)), ("image", sha(0xA3)), ("tag", "forest"), ("tag", "favorite")}
    listed = get(api, "/api/tasks?include=images&fields[task]=images&fields[image]=seed&sort=created_at")
    assert [o["relationships"] for o in listed["data"]] == [
        {"images": {"data": [{"type": "image", "id": sha(0xA1)}, {"type": "image", "id": sha(0xA3)}]}},
        {"images": {"data": []}}, {"images": {"data": []}},
    ]
    assert [(o["id"], o["attributes"]) for o in listed["included"]] == [
        (sha(0xA1), {"seed": 2718281829}), (sha(0xA3), {"seed": 2718281830})]


def test_never_promoted_task_shows_null(api, lib):
    attributes = get(api, f"/api/tasks/{lib.tasks.t2.id}")["data"]["attributes"]
    assert attributes["promoted_at"] is None and attributes["completed_at"] is None
    assert not {"queue_order", "overtaken", "promote_rank", "position"} & set(attributes)


def test_tag_document(api, lib):
    body = get(api, "/api/tags?filter[name]=forest")
    assert body["data"] == [{
        "type": "tag", "id": "forest",
        "attributes": {"name": "forest", "description": "Woodland scenes", "model_count": 0, "image_count": 2,
                       "task_count": 2, "created_at": lib.tags.forest.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "updated_at": lib.tags.forest.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "relationships": {},
    }]
    assert body["meta"] == {"total": 1, "page": {"number": 1, "size": 50, "total": 1}}
    assert body["links"]["self"] == "/api/tags?filter%5Bname%5D=forest&page%5Bnumber%5D=1&page%5Bsize%5D=50"


def test_model_exposes_no_internal_columns(api, lib):
    attributes = get(api, f"/api/models/{sha(1)}")["data"]["attributes"]
    assert "file_ext" not in attributes and "type" not in attributes and "hash" not in attributes
    image = get(api, f"/api/images/{sha(0xA1)}")["data"]["attributes"]
    assert "format" not in image and "task_id" not in image


# --- sparse fieldsets ---------------------------------------------------------------------

def test_sparse_fieldsets(api, lib):
    body = get(api, "/api/models?fields[model]=name,type,size&fields[tag]=name&include=tags&sort=name")
    first = body["data"][0]
    assert first == {"type": "model", "id": sha(5),
                     "attributes": {"name": "EasyNegative", "model_type": "embedding", "size": 25000},
                     "relationships": {}}
    assert {"type": "tag", "id": "nsfw", "attributes": {"name": "nsfw"}, "relationships": {}} in body["included"]
    only_tags = get(api, f"/api/models/{sha(1)}?fields[model]=tags")["data"]
    assert only_tags["attributes"] == {} and set(only_tags["relationships"]) == {"tags"}
    nothing = get(api, f"/api/images/{sha(0xA1)}?fields[image]=")["data"]
    assert nothing == {"type": "image", "id": sha(0xA1), "attributes": {}, "relationships": {}}


def test_fieldsets_on_included_types(api, lib):
    body = get(api, "/api/images?include=tags,task&fields[image]=width,height,seed&fields[task]=prompt,steps"
                    f"&filter[task_id]={lib.tasks.t1.id}")
    assert all(set(o["attributes"]) == {"width", "height", "seed"} for o in body["data"])
    task = next(o for o in body["included"] if o["type"] == "task")
    assert task["attributes"] == {"prompt": "misty pine forest at dawn, volumetric light", "steps": 28}
    assert task["relationships"] == {}


@pytest.mark.parametrize("query, parameter", [
    ("fields[model]=name,colour", "fields[model]"),
    ("fields[model]=hash", "fields[model]"),
    ("fields[widget]=name", "fields[widget]"),
    ("fields=name", "fields"),
    ("fields[model][x]=name", "fields[model][x]"),
])
def test_bad_fieldsets(api, lib, query, parameter):
    assert_error(api.get(f"/api/models?{query}"), 400, "invalid_parameter", parameter=parameter)
    assert_error(api.get(f"/api/models/{sha(1)}?{query}"), 400, "invalid_parameter", parameter=parameter)


# --- includes -----------------------------------------------------------------------------

def test_model_includes(api, lib):
    body = get(api, "/api/models?filter[name][contains]=valley&include=tags,cover_image")
    included = {(o["type"], o["id"]) for o in body["included"]}
    assert included == {("tag", "scenery"), ("tag", "Painterly"), ("image", sha(0xA1))}
    tag = next(o for o in body["included"] if o["id"] == "scenery")
    assert tag["attributes"]["model_count"] == 2  # included tags carry their counts
    image = next(o for o in body["included"] if o["type"] == "image")
    assert image["relationships"]["task"] == {"data": {"type": "task", "id": lib.tasks.t1.id}}


def test_included_resources_appear_once(api, lib):
    body = get(api, "/api/images?include=task,tags")
    keys = [(o["type"], o["id"]) for o in body["included"]]
    assert len(keys) == len(set(keys))
    assert keys.count(("task", lib.tasks.t1.id)) == 1
    assert ("tag", "forest") in keys


def test_task_includes_with_nested_path(api, lib):
    t1 = lib.tasks.t1
    body = get(api, f"/api/tasks/{t1.id}?include=checkpoint,vae,additional_models.model,tags")
    keys = [(o["type"], o["id"]) for o in body["included"]]
    assert set(keys) == {
        ("model", sha(1)), ("model", sha(3)), ("task_model", f"{t1.id}:{sha(2)}"),
        ("task_model", f"{t1.id}:{sha(4)}"), ("model", sha(2)), ("model", sha(4)), ("tag", "forest"),
    }
    assert len(keys) == len(set(keys))
    listing = get(api, "/api/tasks?include=checkpoint,additional_models.model&fields[task]=prompt,steps,cfg_scale")
    assert {o["type"] for o in listing["included"]} == {"model", "task_model"}
    # a relationship left out by fields[task] is still followed for the include
    assert all(o["relationships"] == {} for o in listing["data"])


def test_include_present_but_empty(api, lib):
    body = get(api, f"/api/tasks/{lib.tasks.t2.id}?include=vae,additional_models")
    assert body["included"] == []
    assert "included" not in get(api, f"/api/tasks/{lib.tasks.t2.id}")


@pytest.mark.parametrize("url", [
    "/api/models?include=task", "/api/models?include=tags.models", "/api/images?include=checkpoint",
    "/api/tasks?include=additional_models.control_image", "/api/tasks?include=model",
    "/api/tags?include=models", f"/api/models/{sha(1)}?include=tags,bogus",
])
def test_bad_includes(api, lib, url):
    assert_error(api.get(url), 400, "invalid_parameter", parameter="include")


# --- single reads and 404s ----------------------------------------------------------------

@pytest.mark.parametrize("url", [
    f"/api/models/{sha(99)}", f"/api/images/{sha(99)}", "/api/tasks/00000000-0000-4000-8000-000000000000",
    "/api/models/not-a-hash", f"/api/images/{sha(0xA1).upper()}", f"/api/models/{sha(1)[:-1]}",
    "/api/models/' OR '1'='1", "/api/images/..%2F..%2Fetc%2Fpasswd", "/api/images/%2e%2e",
    "/api/tasks/..", "/api/tasks/1; DROP TABLE tasks", f"/api/tasks/{sha(1)}",
])
def test_unknown_or_malformed_ids_are_not_found(api, lib, url):
    assert_error(api.get(url), 404, "not_found")


def test_malformed_id_with_bad_query_still_not_found_or_400(api, lib):
    response = api.get("/api/models/nope?filter[x]=1")
    assert response.status_code in (400, 404)


# --- helpers for other parts --------------------------------------------------------------

def test_resource_object_and_single_document_helpers(api, lib):
    model = SDModel.objects.get(pk=sha(1))
    obj = resource_object(ModelResource, model)
    assert obj == get(api, f"/api/models/{sha(1)}")["data"]
    assert single_document(ModelResource, model) == {"data": obj}


# --- efficiency ---------------------------------------------------------------------------

def bulk_library(n):
    tags = []
    for k in range(6):
        tag = Tag(name=f"bulk{k}")
        tag.save()
        tags.append(tag)
    checkpoint = SDModel.objects.create(hash=sha(7000), name="ck", model_type="checkpoint", size=1,
                                        created_at=at("2024-01-01T00:00:00"))
    lora = SDModel.objects.create(hash=sha(7001), name="lo", model_type="lora", size=1)
    models = SDModel.objects.bulk_create([
        SDModel(hash=sha(8000 + i), name=f"m{i}", model_type="lora", size=i + 1) for i in range(n)])
    tasks = Task.objects.bulk_create([Task(checkpoint=checkpoint, vae=lora, prompt=f"p{i}") for i in range(n)])
    images = Image.objects.bulk_create([
        Image(hash=sha(9000 + i), task=tasks[i], width=8, height=8, size=1) for i in range(n)])
    for i in range(n):
        ModelTag.objects.create(model=models[i], tag=tags[i % 6])
        ImageTag.objects.create(image=images[i], tag=tags[i % 6])
        ImageTag.objects.create(image=images[i], tag=tags[(i + 1) % 6])
        TaskTag.objects.create(task=tasks[i], tag=tags[i % 6])
        TaskModel.objects.create(task=tasks[i], model=models[i], weight=0.5)
        SDModel.objects.filter(pk=models[i].pk).update(cover_image=images[i])


@pytest.mark.parametrize("url, max_queries", [
    # page, count, tag linkage, included tags, included images + their tag linkage; a task's image linkage (one)
    ("/api/models?include=tags,cover_image&page[size]=40", 6),
    ("/api/images?include=tags,task&page[size]=40&filter[tags][any]=bulk1", 8),
    ("/api/tasks?include=tags,checkpoint,vae,additional_models.model&page[size]=40", 13),
    ("/api/tags?sort=-image_count", 1),
])
def test_no_query_per_row(api, django_assert_max_num_queries, url, max_queries):
    bulk_library(40)
    with django_assert_max_num_queries(max_queries):
        body = api.get(url).json()
    assert len(body["data"]) >= 6


def test_query_count_does_not_grow_with_page_size(api):
    bulk_library(30)
    counts = []
    for size in (3, 30):
        with CaptureQueriesContext(connection) as ctx:
            assert len(api.get(f"/api/tasks?include=checkpoint,additional_models.model&page[size]={size}")
                       .json()["data"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_computed_attributes_filter_and_sort_outside_the_fieldset(api, lib):
    body = get(api, "/api/tags?fields[tag]=name&filter[image_count][gt]=0&sort=-task_count,name")
    assert [o["id"] for o in body["data"]] == ["forest", "favorite", "anime", "nsfw", "scenery"]
    assert all(o["attributes"].keys() == {"name"} for o in body["data"])
    tasks = get(api, "/api/tasks?fields[task]=status&sort=-promoted_at&filter[promoted_at][not_null]=true")
    assert [o["id"] for o in tasks["data"]] == [lib.tasks.t1.id]
