"""Maintained counts and keys (core/tag_counts.py, core/row_keys.py): every entity's `tag_count`, every tag's usage
and every entity table's row count equal the rows, and every entity has a unique integer `seq` that its link rows
carry as `entity_seq`, after each kind of write, under concurrent writers, after an existing library is migrated in
place, and after a later migration dropped the triggers."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.tag_counts import table_rows
from images_app.models import Image, ImageTag
from models_app.models import ModelTag, SDModel
from system_app.models import Tag, TagUsage
from tasks_app.models import Task, TaskTag
from tests.support.api import ApiClient
from tests.support.factories import make_image, make_model, make_task

LINKS = [(Image, ImageTag, "image"), (SDModel, ModelTag, "model"), (Task, TaskTag, "task")]


def assert_counts_match_links():
    """tag_count of every entity and tag_usage of every (tag, link table) equal a COUNT of the link rows; the row
    count slots add up to the rows of each entity table."""
    for model, link, field in LINKS:
        counted = table_rows(model._meta.db_table)  # none: emptied with its table
        assert (counted or 0) == model.objects.count(), model.__name__
        links = Counter(link.objects.values_list(f"{field}_id", flat=True))
        stored = dict(model.objects.values_list("pk", "tag_count"))
        assert stored == {pk: links.get(pk, 0) for pk in stored}, model.__name__
        table = link._meta.db_table
        usage = {name: uses for name, uses in TagUsage.objects.filter(link=table).values_list("tag_name", "uses")
                 if uses}
        assert usage == dict(Counter(link.objects.values_list("tag_id", flat=True))), table
        assert_row_keys(model, link, field)


def assert_row_keys(model, link, field):
    """Every row has its own `seq`; every link row carries its entity's."""
    seqs = dict(model.objects.values_list("pk", "seq"))
    assert None not in seqs.values() and len(set(seqs.values())) == len(seqs), model.__name__
    for entity, entity_seq in link.objects.values_list(f"{field}_id", "entity_seq"):
        assert entity_seq == seqs[entity], link.__name__


def tag_list(api):
    return {tag["id"]: tag["attributes"] for tag in api.get("/api/tags?page[size]=100").json()["data"]}


def test_counts_follow_every_write_path(api):
    images = [make_image() for _ in range(4)]
    model = make_model("m")
    task = make_task(model)
    a, b, c, d = (image.hash for image in images)

    assert api.post_json(f"/api/images/{a}", {"tags": ["Red", "green", "blue"]}).status_code == 200
    assert api.post_json("/api/images", {b: {"tags": ["red"]}, c: {"tag_green": True, "tag_red": True}}).json()[
        "failed"] == []
    assert api.post_json(f"/api/images/{a}", {"tag_blue": False, "tag_RED": True}).status_code == 200
    assert api.post_json(f"/api/models/{model.hash}", {"tags": ["red", "checkpoint"]}).status_code == 200
    TaskTag.objects.create(task=task, tag=Tag.objects.named(["green"])[0])
    assert_counts_match_links()
    assert Image.objects.get(pk=a).tag_count == 2 and Image.objects.get(pk=d).tag_count == 0

    # a stale instance saved in full keeps the stored count (only the triggers write it)
    stale = Image.objects.get(pk=b)
    api.post_json(f"/api/images/{b}", {"tags": ["red", "green", "blue", "night"]})
    stale.metadata = {"rating": 5}
    stale.save()
    assert Image.objects.get(pk=b).tag_count == 4

    api.delete(f"/api/images/{c}")  # cascade deletes the links
    ImageTag.objects.filter(tag_id="night").update(tag=Tag.objects.named(["day"])[0])  # links moved (a rename)
    Tag.objects.filter(name="blue").delete()  # a tag deleted with its links
    assert_counts_match_links()
    assert not TagUsage.objects.filter(tag_name="blue").exists()

    assert [image["id"] for image in api.get("/api/images?sort=-tag_count").json()["data"]] == [b, a, d]
    tags = tag_list(api)
    assert (tags["Red"]["image_count"], tags["Red"]["model_count"], tags["Red"]["task_count"]) == (2, 1, 0)
    assert (tags["green"]["image_count"], tags["green"]["task_count"]) == (2, 1)
    assert tags["day"]["image_count"] == 1 and tags["checkpoint"]["image_count"] == 0
    assert [tag["id"] for tag in api.get("/api/tags?sort=-image_count,name").json()["data"]][:2] == ["green", "Red"]
    assert api.get("/api/images?page[size]=1").json()["meta"]["total"] == 3  # from row_count_slots


def test_link_tables_have_the_keyed_indexes_only(db):
    """Each link table is indexed by the pair (entity, tag) (unique), (tag, entity_seq) and (entity_seq, tag); no
    one-column index duplicates the first column of those."""
    for _, link, field in LINKS:
        table, column = link._meta.db_table, link._meta.get_field(field).column
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        indexed = sorted({tuple(info["columns"]) for info in constraints.values()
                          if (info["index"] or info["unique"]) and not info["primary_key"]})
        assert indexed == sorted([(column, "tag_name"), ("tag_name", "entity_seq"), ("entity_seq", "tag_name")]), table


def test_row_keys_follow_every_write_path(api):
    """The database gives every row its key, whatever wrote it: the ORM (save, bulk_create), raw SQL, a later save
    of the instance that was created (its `seq` in memory is unknown and is not written back), a link moved."""
    images = [make_image() for _ in range(3)]
    images[0].metadata = {"rating": 3}
    images[0].save()  # the created instance, whose seq the database set
    Image.objects.bulk_create([Image(hash=f"{n:064x}", width=8, height=8, size=10) for n in (1, 2)])
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO images (hash, width, height, size, metadata, format, created_at, tag_count) "
                       "VALUES (%s, 8, 8, 10, '{}', 'png', %s, 0)", [f"{3:064x}", "2026-01-01T00:00:00Z"])
        tag = Tag.objects.named(["raw"])[0]
        cursor.execute("INSERT INTO image_tags (image_hash, tag_name, created_at) VALUES (%s, %s, %s)",
                       [f"{3:064x}", tag.name, "2026-01-01T00:00:00Z"])
    ImageTag.objects.bulk_create([ImageTag(image_id=f"{1:064x}", tag=tag), ImageTag(image=images[1], tag=tag)])
    ImageTag.objects.filter(image_id=f"{1:064x}").update(image_id=f"{2:064x}")  # moved to another image
    assert_row_keys(Image, ImageTag, "image")
    assert Image.objects.get(pk=images[0].hash).seq is not None
    found = {image["id"] for image in api.get("/api/images?filter[tags][any]=raw").json()["data"]}
    assert found == {f"{3:064x}", f"{2:064x}", images[1].hash}
    assert api.get("/api/images?filter[tags][none]=raw").json()["meta"]["total"] == 3


@pytest.mark.django_db(transaction=True)
def test_migrate_restores_dropped_triggers(api):
    """A later migration that remakes a table on SQLite drops its triggers; `migrate` puts them back, recounted."""
    from django.core.management import call_command

    hashes = [make_image().hash for _ in range(3)]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in ("images_rows_insert", "images_rows_delete", "image_tags_count_insert", "images_seq_insert",
                         "image_tags_seq_insert"):
                cursor.execute(f"DROP TRIGGER {name}")
        else:
            for table, name in (("images", "images_rows_insert"), ("image_tags", "image_tags_count_insert"),
                                ("images", "images_seq_insert"), ("image_tags", "image_tags_seq_insert")):
                cursor.execute(f"DROP TRIGGER {name} ON {table}")
    make_image()
    api.post_json(f"/api/images/{hashes[0]}", {"tags": ["one", "two"]})  # uncounted, unkeyed while the triggers are gone
    assert Image.objects.filter(seq__isnull=True).count() == 1
    call_command("migrate", verbosity=0)
    assert_counts_match_links()
    assert api.get("/api/images?page[size]=1").json()["meta"]["total"] == 4
    api.post_json(f"/api/images/{hashes[1]}", {"tags": ["one"]})
    make_image()
    assert_counts_match_links()
    assert [image["id"] for image in api.get("/api/images?filter[tags][any]=one").json()["data"]] == [
        hashes[1], hashes[0]]


@pytest.mark.django_db(transaction=True)
def test_concurrent_tagging_keeps_counts_exact():
    """Writers tagging the same images with the same tags at once (PostgreSQL runs them concurrently; SQLite
    serializes them): no writer fails and every count equals the link rows."""
    hashes = [make_image().hash for _ in range(12)]
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    errors = []

    def writer(seed):
        rng = random.Random(seed)
        client = ApiClient()
        try:
            for _ in range(8):
                body = {sha: {f"tag_{rng.choice(names)}": rng.random() < 0.7 for _ in range(3)}
                        for sha in rng.sample(hashes, 6)}
                response = client.post_json("/api/images", body)
                if response.status_code != 200 or response.json()["failed"]:
                    errors.append(response.content)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert ImageTag.objects.exists()
    assert_counts_match_links()


LAST_BEFORE = [("system_app", "0003_tags_name_printable"), ("images_app", "0003_image_tags_covering_index"),
               ("models_app", "0005_civitai_import_lease"), ("tasks_app", "0008_workers_and_leases")]


@pytest.mark.django_db(transaction=True)
def test_migration_counts_an_existing_library(api):
    """A library of the layout before the counts (no tag_count, no tag_usage) is converted in place."""
    executor = MigrationExecutor(connection)
    executor.migrate(LAST_BEFORE)
    old = executor.loader.project_state(LAST_BEFORE).apps
    old_tag, old_image, old_link = (old.get_model("system_app", "Tag"), old.get_model("images_app", "Image"),
                                    old.get_model("images_app", "ImageTag"))
    old_model, old_model_link = old.get_model("models_app", "SDModel"), old.get_model("models_app", "ModelTag")
    tags = [old_tag.objects.create(name=name, folded=name) for name in ("sky", "sea", "sun")]
    images = [old_image.objects.create(hash=f"{n:064x}", width=8, height=8, size=10) for n in range(1, 5)]
    for image, count in zip(images, (3, 0, 1, 2)):
        for tag in tags[:count]:
            old_link.objects.create(image=image, tag=tag)
    model = old_model.objects.create(hash="f" * 64, name="m", model_type="lora", size=10)
    old_model_link.objects.create(model=model, tag=tags[2])

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert_counts_match_links()
    assert dict(Image.objects.values_list("hash", "tag_count")) == {f"{n:064x}": c for n, c in zip(range(1, 5),
                                                                                                  (3, 0, 1, 2))}
    assert [image["id"] for image in api.get("/api/images?sort=-tag_count").json()["data"]] == [
        f"{n:064x}" for n in (1, 4, 3, 2)]
    counts = {name: (attributes["image_count"], attributes["model_count"]) for name, attributes in tag_list(api).items()}
    assert counts == {"sky": (3, 0), "sea": (2, 0), "sun": (1, 1)}
    # the triggers count from here on
    ImageTag.objects.create(image_id=f"{2:064x}", tag_id="sun")
    assert Image.objects.get(pk=f"{2:064x}").tag_count == 1
    assert_counts_match_links()
