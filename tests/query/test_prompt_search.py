"""Prompt search (issue 24 item 6): `filter[prompt][contains]` on tasks and images is a word search (FTS5 on SQLite,
a tsvector GIN index on PostgreSQL), kept right on every write path, and hostile text is plain text."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.triggers import installed_versions
from images_app.models import Image
from images_app.services import import_image_file
from tasks_app.models import Task
from tests.support.factories import make_image, make_model, make_task, png_bytes
from tests.support.query_seed import ids

pytestmark = pytest.mark.django_db

INFOTEXT = "{prompt}\nNegative prompt: lowres\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 42, Size: 8x8"


def found(api, collection, text, **params):
    response = api.get(f"/api/{collection}", {"filter[prompt][contains]": text, "page[size]": 100, **params})
    assert response.status_code == 200, response.content
    return set(ids(response))


@pytest.fixture
def checkpoint():
    return make_model()


@pytest.fixture
def tasks(checkpoint):
    prompts = {
        "pine": "Misty pine forest at dawn, volumetric light",
        "fox": "a red fox; (masterpiece:1.2), sci-fi city",
        "knight": "portrait of a knight in pineapple armour",
        "quote": 'he said "NEAR" -- the end: 100% * done',
    }
    return {key: make_task(checkpoint, prompt=prompt) for key, prompt in prompts.items()}


def test_tasks_match_whole_words_any_case_the_last_as_a_prefix(api, tasks):
    t = {key: task.id for key, task in tasks.items()}
    assert found(api, "tasks", "pine,") == {t["pine"]}  # a whole word: not "pineapple"
    assert found(api, "tasks", "pine ") == {t["pine"]}
    assert found(api, "tasks", "pine") == {t["pine"], t["knight"]}  # the last word as a prefix
    assert found(api, "tasks", "pine forest") == {t["pine"]}
    assert found(api, "tasks", "forest pine") == {t["pine"]}  # every word, in any order
    assert found(api, "tasks", "FOREST, misty!") == {t["pine"]}
    assert found(api, "tasks", "pine fo") == {t["pine"]}
    assert found(api, "tasks", "pin") == {t["pine"], t["knight"]}
    assert found(api, "tasks", "pin forest") == set()  # not the last word: whole
    assert found(api, "tasks", "ine") == set()  # inside a word: not a word
    assert found(api, "tasks", "forest knight") == set()
    assert found(api, "tasks", "masterpiece") == {t["fox"]}  # punctuation separates words
    assert found(api, "tasks", "sci fi") == {t["fox"]}
    assert found(api, "tasks", "sci-fi") == {t["fox"]}


@pytest.mark.parametrize("text", ['"', '""', "*", "NEAR", "NEAR(a b)", "-", "-pine", ":", "prompt:pine", "a AND",
                                  "OR", "NOT pine", "(", ")", "^", "pine*", '"pine', "%", "_", "\\", "'", "'; --",
                                  "a & b | !c", "x:*", "<->", "\x00", "pine\x00fo", "\t\n", "ÿ" * 300, "pine " * 100])
def test_hostile_text_is_plain_text(api, tasks, text):
    for collection in ("tasks", "images"):
        response = api.get(f"/api/{collection}", {"filter[prompt][contains]": text})
        assert response.status_code == 200, (collection, text, response.content)


def test_query_syntax_words_are_words(api, tasks):
    t = {key: task.id for key, task in tasks.items()}
    assert found(api, "tasks", "near") == {t["quote"]}
    assert found(api, "tasks", '"NEAR" end') == {t["quote"]}
    assert found(api, "tasks", "-pine ") == {t["pine"]}  # not a negation
    assert found(api, "tasks", "pine*") == {t["pine"]}  # not a prefix operator
    assert found(api, "tasks", "NOT pine") == set()  # "not" is a word the prompts lack
    # a text without a word is a substring, as `contains` elsewhere
    assert found(api, "tasks", "*") == {t["quote"]}
    assert found(api, "tasks", "%") == {t["quote"]}
    assert found(api, "tasks", "--") == {t["quote"]}
    assert found(api, "tasks", ";") == {t["fox"]}


def test_other_prompt_operators_keep_their_meaning(api, tasks):
    t = {key: task.id for key, task in tasks.items()}
    response = api.get("/api/tasks", {"filter[prompt][starts_with]": "misty p"})
    assert set(ids(response)) == {t["pine"]}
    response = api.get("/api/tasks", {"filter[not][prompt][contains]": "pine "})
    assert set(ids(response)) == {t["fox"], t["knight"], t["quote"]}
    response = api.get("/api/tasks", {"filter[or][prompt][contains]": "fox", "filter[or][status]": "completed"})
    assert set(ids(response)) == {t["fox"]}


def test_task_write_paths(api, checkpoint):
    task = make_task(checkpoint, prompt="lonely lighthouse")
    bulk = Task.objects.bulk_create([Task(checkpoint=checkpoint, prompt=f"harbour boat {i}") for i in range(3)])
    assert found(api, "tasks", "lighthouse") == {task.id}
    assert found(api, "tasks", "boat") == {t.id for t in bulk}
    assert found(api, "tasks", "boat harbour") == {t.id for t in bulk}  # words, not a substring
    task.prompt = "stormy harbour"
    task.save()
    assert found(api, "tasks", "lighthouse") == set()
    assert found(api, "tasks", "harbour") == {task.id} | {t.id for t in bulk}
    task.status = "completed"
    task.save()  # every column written, the prompt unchanged
    assert found(api, "tasks", "stormy") == {task.id}
    Task.objects.filter(pk=bulk[0].pk).update(prompt="quiet meadow")
    assert found(api, "tasks", "meadow") == {bulk[0].id}
    response = api.delete_json("/api/tasks", {"task_ids": [bulk[2].id]})  # cancels: still a task, still found
    assert response.status_code == 200, response.content
    assert found(api, "tasks", "harbour", **{"filter[status]": "cancelled"}) == {bulk[2].id}
    task.delete()
    Task.objects.filter(pk=bulk[1].pk).delete()
    assert found(api, "tasks", "harbour") == {bulk[2].id}
    assert found(api, "tasks", "stormy") == set()


def test_images_search_their_task_prompt_and_their_metadata_prompt(api, checkpoint, tmp_path):
    task = make_task(checkpoint, prompt="castle on a hill")
    rendered = make_image()
    rendered.task = task
    rendered.save()
    path = tmp_path / "imported.png"
    path.write_bytes(png_bytes(parameters=INFOTEXT.format(prompt="ancient castle ruins, ivy")))
    imported, _ = import_image_file(path)
    assert imported.metadata["prompt"] == "ancient castle ruins, ivy"
    plain = make_image()
    assert found(api, "images", "castle") == {rendered.hash, imported.hash}
    assert found(api, "images", "castle hill") == {rendered.hash}
    assert found(api, "images", "ruins ivy") == {imported.hash}
    assert found(api, "images", "castle", sort="-created_at") == {rendered.hash, imported.hash}
    assert found(api, "images", "dragon") == set()
    assert plain.hash not in found(api, "images", ",")  # no prompt: no substring either

    # the metadata prompt changed (D3 update), removed, set on another image
    assert api.post_json(f"/api/images/{imported.hash}", {"prompt": "sunken ship"}).status_code == 200
    assert found(api, "images", "ruins") == set()
    assert found(api, "images", "sunken") == {imported.hash}
    assert api.post_json(f"/api/images/{imported.hash}", {"prompt": None}).status_code == 200
    assert found(api, "images", "sunken") == set()
    assert api.post_json(f"/api/images/{plain.hash}", {"prompt": "Sunken Ship"}).status_code == 200
    assert found(api, "images", "sunken ship") == {plain.hash}

    # the task's prompt changed, the image unlinked, the task deleted, the image deleted
    Task.objects.filter(pk=task.pk).update(prompt="castle in the clouds")
    assert found(api, "images", "clouds") == {rendered.hash}
    Image.objects.filter(pk=rendered.pk).update(task=None)
    assert found(api, "images", "clouds") == set()
    Image.objects.filter(pk=rendered.pk).update(task=task)
    task.delete()  # the image stays, without its task
    assert Image.objects.filter(pk=rendered.pk).exists()
    assert found(api, "images", "castle") == set()
    assert api.delete(f"/api/images/{plain.hash}").status_code == 200
    assert found(api, "images", "ship") == set()


def test_images_prompt_takes_contains_only(api):
    response = api.get("/api/images", {"filter[prompt]": "castle"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unsupported_operation"


BEFORE = [("tasks_app", "0013_task_scheduler"), ("images_app", "0006_trigger_sets_v2")]


@pytest.mark.django_db(transaction=True)
def test_rows_stored_before_the_migration_are_found_and_a_lost_trigger_is_repaired(api, checkpoint, tmp_path):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    assert "prompt_search:tasks" not in installed_versions(connection)
    task = make_task(checkpoint, prompt="glass orchid")
    image = make_image()
    Image.objects.filter(pk=image.pk).update(metadata={"prompt": "velvet orchid"})
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert found(api, "tasks", "orchid") == {task.id}
    assert found(api, "images", "velvet") == {image.hash}

    with connection.cursor() as cursor:  # a trigger lost (or a remade table) and its index emptied
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER tasks_prompt_update")
            cursor.execute("DELETE FROM tasks_prompt_fts")
        else:
            cursor.execute("DROP INDEX idx_tasks_prompt_words")
    Task.objects.filter(pk=task.pk).update(prompt="glass lily")
    call_command("migrate", verbosity=0)
    assert found(api, "tasks", "lily") == {task.id}
    assert found(api, "tasks", "orchid") == set()
