"""The `image` resource of the query protocol (query-protocol.md §8, images-api.md)."""

from django.db.models import F, Q

from core.jsonapi import Attribute, Resource, ToMany, ToOne
from core.jsonapi.types import INTEGER, OBJECT, TEXT, TIMESTAMP, Words
from core.prompt_search import IMAGE_PROMPTS, TASK_PROMPTS, WordsMatch, any_of
from core.row_keys import ROW_KEYS
from images_app.models import Image, ImageTag


def producing_tasks():
    """The task model (tasks_app, a layer above: reached through the image's foreign key)."""
    return Image._meta.get_field("task").related_model._default_manager


def prompt_words(words, prefix):
    """Images whose prompt holds `words` (the last as a prefix if `prefix`): their own metadata `prompt` (imported
    images, images_app/generation.py) or their task's prompt, each searched on its own (docs/query-engine.md,
    "Prompt search"). Two lists of keys, each read by its index (core/prompt_search.any_of)."""
    tasks = producing_tasks().filter(WordsMatch(F("seq"), searched=TASK_PROMPTS, words=words, prefix=prefix))
    return any_of(Image, [Q(WordsMatch(F("seq"), searched=IMAGE_PROMPTS, words=words, prefix=prefix)),
                          Q(task__in=tasks.values("pk"))])


def prompt_substring(value):
    return Q(task__prompt__icontains=value) | Q(metadata__prompt__icontains=value)


class ImageResource(Resource):
    type = "image"
    model = Image
    id_pattern = r"[0-9a-f]{64}"
    attributes = {
        "width": Attribute(INTEGER),
        "height": Attribute(INTEGER),
        "size": Attribute(INTEGER),
        "seed": Attribute(INTEGER),
        "metadata": Attribute(OBJECT),
        "created_at": Attribute(TIMESTAMP),
    }
    # Every task that produced the image, through tasks_app's task_images links (the first producer is `task`).
    # The models it was made with, by SHA256, through models_app's image_models links (docs/library.md).
    filter_only = {"task_id": Attribute(TEXT, source="task_links__task__id", sort=False, many=True),
                   "model": Attribute(TEXT, source="model_links__model__hash", sort=False, many=True),
                   "prompt": Attribute(Words(prompt_words, prompt_substring, operators={"contains"}), sort=False)}
    relationships = {
        "task": ToOne("task", "task"),
        "tags": ToMany("tag", through=ImageTag, source="image", target_key="tag", keyed_by=ROW_KEYS),
    }
    include_paths = ("tags", "task")
    tags = "tags"
    metadata = "metadata"
