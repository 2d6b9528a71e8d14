"""A small, fully known library for the query-engine tests, created directly with the ORM."""

from datetime import datetime, timezone
from types import SimpleNamespace

from images_app.models import Image, ImageTag
from models_app.models import ModelTag, SDModel
from system_app.models import Tag
from tasks_app.models import Task, TaskModel, TaskTag


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def sha(n):
    return f"{n:064x}"


def tag(name, **fields):
    row = Tag(name=name, **fields)
    row.save()
    return row


def link(through, entity_field, entity, *tags):
    for row in tags:
        through.objects.create(**{entity_field: entity}, tag=row)


def seed():
    """Models m1–m5, images i1–i6, tasks t1–t3, tags; returns them by name."""
    tags = SimpleNamespace(
        scenery=tag("scenery", description="Wide landscapes", created_at=at("2025-01-01T00:00:00")),
        painterly=tag("Painterly"),
        anime=tag("anime"),
        nsfw=tag("nsfw"),
        forest=tag("forest", description="Woodland scenes"),
        favorite=tag("favorite"),
        unused=tag("unused"),
    )
    i = SimpleNamespace()
    i.i1 = Image.objects.create(hash=sha(0xA1), width=832, height=1216, size=1893004, seed=2718281829,
                                metadata={"rating": 5, "is_favorite": True}, created_at=at("2025-03-14T09:23:31.250"))
    i.i2 = Image.objects.create(hash=sha(0xA2), width=512, height=512, size=400000, seed=None,
                                metadata={"rating": 3.5, "note": "control pose"}, created_at=at("2025-03-10T08:00:00"))
    m = SimpleNamespace()
    m.m1 = SDModel.objects.create(
        hash=sha(1), name="dreamlike-valley-v3", model_type="checkpoint", base_model="SDXL", size=6938041144,
        source_url="https://civitai.com/models/10391?modelVersionId=88214",
        metadata={"resolution": "1024x1024", "trigger_words": ["dlvalley"], "rating": 4.5},
        description="# Dreamlike Valley", cover_image=i.i1, created_at=at("2025-02-03T18:40:12"),
    )
    m.m2 = SDModel.objects.create(
        hash=sha(2), name="anime-lines", model_type="lora", base_model="SD1.5", size=150_000_000,
        metadata={"rating": 3, "is_favorite": True}, created_at=at("2025-02-05T10:00:00"),
    )
    m.m3 = SDModel.objects.create(
        hash=sha(3), name="vae-ft-mse", model_type="vae", base_model="SD1.5", size=334_000_000,
        metadata={}, created_at=at("2025-02-06T10:00:00"),
    )
    m.m4 = SDModel.objects.create(
        hash=sha(4), name="canny-control", model_type="controlnet", base_model="SD1.5", size=723_000_000,
        metadata={"rating": "good", "is_favorite": False}, status="downloading", created_at=at("2025-02-07T10:00:00"),
    )
    m.m5 = SDModel.objects.create(
        hash=sha(5), name="EasyNegative", model_type="embedding", base_model=None, size=25_000,
        metadata={"rating": 1}, status="failed", error_message="SHA256 mismatch", created_at=at("2025-02-08T10:00:00"),
    )
    link(ModelTag, "model", m.m1, tags.scenery, tags.painterly)
    link(ModelTag, "model", m.m2, tags.anime, tags.nsfw)
    link(ModelTag, "model", m.m4, tags.scenery)
    link(ModelTag, "model", m.m5, tags.nsfw)

    t = SimpleNamespace()
    t.t1 = Task.objects.create(
        id="9a41c6d0-3e55-4f1b-8c0d-6b2a71e9f004", status="completed", checkpoint=m.m1, vae=m.m3,
        prompt="misty pine forest at dawn, volumetric light", negative_prompt="lowres, blurry",
        width=832, height=1216, seed=2718281828, steps=28, cfg_scale=6.5, sampler="DPM++ 2M Karras", batch_size=2,
        created_at=at("2025-03-14T09:20:02"), promoted_at=at("2025-03-14T09:22:40"),
        completed_at=at("2025-03-14T09:23:31"),
    )
    t.t2 = Task.objects.create(
        id="5f0c2a8e-3b1d-4c7a-9e62-0d4b8f1a7c33", status="pending", checkpoint=m.m1, prompt="a red fox",
        steps=20, cfg_scale=7.0, sampler="Euler a", created_at=at("2025-03-15T10:00:00"),
    )
    t.t3 = Task.objects.create(
        id="e0b7f3c2-1111-4222-8333-944455556666", status="failed", checkpoint=m.m1, prompt="portrait of a knight",
        steps=40, cfg_scale=9.0, sampler="DPM++ SDE Karras", error_message="CUDA out of memory",
        created_at=at("2025-03-16T10:00:00"), completed_at=at("2025-03-16T10:05:00"),
    )
    TaskModel.objects.create(task=t.t1, model=m.m2, weight=0.7, position=0)
    TaskModel.objects.create(task=t.t1, model=m.m4, weight=1.0, control_image=i.i2, position=1)
    link(TaskTag, "task", t.t1, tags.forest)
    link(TaskTag, "task", t.t3, tags.forest, tags.favorite)

    i.i1.task = t.t1
    i.i1.save()
    i.i3 = Image.objects.create(hash=sha(0xA3), task=t.t1, width=832, height=1216, size=1700000, seed=2718281830,
                                metadata={"rating": 4}, created_at=at("2025-03-14T09:23:32"))
    i.i4 = Image.objects.create(hash=sha(0xA4), width=1024, height=1024, size=2500000, seed=42,
                                metadata={"is_favorite": False, "custom_note": "print this one"},
                                created_at=at("2025-03-01T12:00:00"))
    i.i5 = Image.objects.create(hash=sha(0xA5), width=1024, height=768, size=900000, seed=7,
                                metadata={}, created_at=at("2025-03-02T12:00:00"))
    i.i6 = Image.objects.create(hash=sha(0xA6), width=640, height=640, size=300000, seed=7,
                                metadata={"rating": 2}, created_at=at("2025-03-03T12:00:00"))
    link(ImageTag, "image", i.i1, tags.forest, tags.favorite)
    link(ImageTag, "image", i.i3, tags.forest)
    link(ImageTag, "image", i.i4, tags.anime, tags.favorite, tags.nsfw)
    link(ImageTag, "image", i.i5, tags.scenery)
    return SimpleNamespace(tags=tags, models=m, images=i, tasks=t)


def ids(response):
    """The resource ids of a 200 collection answer, in order."""
    assert response.status_code == 200, response.content
    return [obj["id"] for obj in response.json()["data"]]
