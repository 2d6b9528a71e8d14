"""The `task` and `task_model` resources of the query protocol (query-protocol.md §8, tasks-api.md, D6, D18)."""

from django.db.models import F, Q, Value
from django.db.models.functions import NullIf

from core.jsonapi import Attribute, Resource, ToMany, ToOne
from core.jsonapi.types import INTEGER, NUMBER, TEXT, TIMESTAMP, Enum, JSONObject, Words
from core.prompt_search import TASK_PROMPTS, WordsMatch
from core.row_keys import ROW_KEYS
from engine.parameters import RENDER_PARAMETERS
from tasks_app.models import NEVER_PROMOTED, TASK_KINDS, TASK_STATUSES, Task, TaskImage, TaskModel, TaskTag

# `contains` on the prompt is a word search (core/prompt_search.py); its other operators are Text's
PROMPT = Words(lambda words, prefix: Q(WordsMatch(F("seq"), searched=TASK_PROMPTS, words=words, prefix=prefix)),
               lambda value: Q(prompt__icontains=value))


def render_attribute(parameter) -> Attribute:
    """A render parameter (engine/parameters.py) as a task attribute: free text is not sortable."""
    if parameter.name == "prompt":
        return Attribute(PROMPT, sort=False)
    if parameter.type == "text":
        return Attribute(TEXT, sort=parameter.choices is not None)
    return Attribute(NUMBER if parameter.type == "number" else INTEGER)


UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class NullableObject(JSONObject):
    """A JSON object attribute that reads null when unset (`hires`)."""

    def render(self, value):
        return value


class TaskResource(Resource):
    """Scheduler columns (queue_order, overtaken, promote_rank, ...) stay internal."""

    type = "task"
    model = Task
    id_pattern = UUID_PATTERN
    attributes = {
        "status": Attribute(Enum(TASK_STATUSES)),
        **{parameter.name: render_attribute(parameter) for parameter in RENDER_PARAMETERS},
        "error_message": Attribute(TEXT, sort=False),
        "created_at": Attribute(TIMESTAMP),
        # the epoch stored for "never promoted" reads, filters and sorts as null (D30)
        "promoted_at": Attribute(TIMESTAMP, expression=NullIf(F("promoted_at"), Value(NEVER_PROMOTED))),
        "completed_at": Attribute(TIMESTAMP),
        "updated_at": Attribute(TIMESTAMP),
        "kind": Attribute(Enum(TASK_KINDS)),
        "denoising_strength": Attribute(NUMBER),
        "mask_blur": Attribute(INTEGER),
        "hires": Attribute(NullableObject(), sort=False),
        "upscale_scale": Attribute(NUMBER),
    }
    relationships = {
        "checkpoint": ToOne("model", "checkpoint"),
        "vae": ToOne("model", "vae"),
        # image to image, hires and upscale tasks only (D36-D38)
        "init_image": ToOne("image", "init_image", omit_null=True),
        "mask_image": ToOne("image", "mask_image", omit_null=True),
        "upscaler": ToOne("model", "upscaler", omit_null=True),
        "additional_models": ToMany(
            "task_model", through=TaskModel, source="task", target_key="pk",
            id_columns=("task_id", "model_id"), order_by=("position", "pk"),
        ),
        "tags": ToMany("tag", through=TaskTag, source="task", target_key="tag", keyed_by=ROW_KEYS),
        # the images the task produced, new bytes or already stored (task_images links, in the order stored)
        "images": ToMany("image", through=TaskImage, source="task", target_key="image"),
    }
    include_paths = ("tags", "checkpoint", "vae", "additional_models", "additional_models.model", "init_image",
                     "mask_image", "upscaler", "images", "images.tags")
    tags = "tags"


class TaskModelResource(Resource):
    """An extra model of a task; id `<task_id>:<model_hash>` (D18). Reached only through includes."""

    type = "task_model"
    model = TaskModel
    id_fields = ("task_id", "model_id")
    attributes = {"weight": Attribute(NUMBER)}
    relationships = {
        "model": ToOne("model", "model"),
        "control_image": ToOne("image", "control_image", omit_null=True),  # ControlNet entries only (D9)
    }
    default_sort = ("position",)
