"""One declaration per render parameter (engine/parameters.py): every place that handles render parameters derives
them from the table, so each entry reaches all of them. A new entry that lacks one fails here."""

import dataclasses

import pytest

from a1111_app.errors import FIELD_NAMES
from a1111_app.mapping import COMMON_DEFAULTS, HONOURED_OVERRIDES
from engine.a1111.infotext import format_parameters
from engine.interface import ModelFile, RenderRequest
from engine.parameters import RENDER_PARAMETERS, Setting
from tasks_app.api.resources import TaskResource
from tasks_app.api.validation import SUBMISSION, TASK_FIELDS, resolve
from tasks_app.models import Task
from tests.tasks.test_tasks_api import make_model

# For each type: a value other than the default, valid everywhere (written to the infotext and read back)
SAMPLE = {"integer": 2, "number": 6.5, "seed": 1234}
PARAMETERS = pytest.mark.parametrize("parameter", RENDER_PARAMETERS, ids=[p.name for p in RENDER_PARAMETERS])


def sample(parameter):
    if parameter.choices is not None:  # one that goes with the other parameters' defaults
        defaults = {p.name: resolve(p.default) for p in RENDER_PARAMETERS}
        return next(choice for choice in parameter.choices if choice != resolve(parameter.default) and (
            parameter.check is None or parameter.check(choice, defaults, set()) is None))
    if parameter.type == "text":
        return "a lighthouse at night"
    if parameter.multiple_of:
        return parameter.low + parameter.multiple_of
    return SAMPLE[parameter.type]


@PARAMETERS
def test_each_parameter_is_a_task_column_a_request_field_and_a_submission_field(parameter):
    assert parameter.name in {field.name for field in Task._meta.get_fields()}
    assert parameter.name in {field.name for field in dataclasses.fields(RenderRequest)}
    assert parameter.name in SUBMISSION and parameter.name in TASK_FIELDS
    assert parameter.name in TaskResource.attributes


@PARAMETERS
def test_each_parameter_is_in_the_openapi_schema_and_in_the_config(api, parameter):
    schema = api.get("/api/schema", HTTP_ACCEPT="application/json").json()
    submission = schema["components"]["schemas"]["TaskSubmission"]["properties"][parameter.name]
    for key, limit in (("minimum", parameter.low), ("maximum", parameter.high)):
        if limit is not None and parameter.type != "number":
            assert submission[key] == resolve(limit)
    listed = {p["name"]: p for p in api.get("/api/config").json()["generation"]["parameters"]}
    assert listed[parameter.name]["type"] == parameter.type and listed[parameter.name]["label"]
    if isinstance(parameter.high, Setting):  # configured limits are listed as configured
        assert listed[parameter.name]["maximum"] == resolve(parameter.high)


@PARAMETERS
def test_a_submitted_value_reaches_the_task(api, parameter):
    checkpoint = make_model("tiny")
    body = {"checkpoint_hash": checkpoint.hash, "prompt": "a cat", parameter.name: sample(parameter)}
    response = api.post_json("/api/tasks", body)
    assert response.status_code == 202, response.content
    task = Task.objects.get(id=response.json()["task_id"])
    assert getattr(task, parameter.name) == sample(parameter)
    assert api.get(f"/api/tasks/{task.id}").json()["data"]["attributes"][parameter.name] == sample(parameter)


@PARAMETERS
def test_the_infotext_writes_the_value_and_reads_it_back(api, parameter):
    if parameter.infotext is None and parameter.name not in ("prompt", "negative_prompt", "height"):
        pytest.skip(f"{parameter.name} is not written into the infotext (as in A1111)")
    checkpoint = make_model("tiny")
    request = dataclasses.replace(
        RenderRequest(checkpoint=ModelFile(path="/x", sha256=checkpoint.hash, name="tiny", kind="checkpoint"),
                      prompt="a cat", negative_prompt="blurry", seed=7),
        **{parameter.name: sample(parameter)})
    text = format_parameters(request, request.seed)
    parsed = api.post_json("/api/tasks/parse-parameters", {"parameters": text}).json()
    assert parsed["task"][parameter.name] == sample(parameter), (text, parsed)
    assert parsed["ignored"] == [] and parsed["task"]["checkpoint_hash"] == checkpoint.hash


@PARAMETERS
def test_the_a1111_api_maps_the_field_or_option_both_ways(parameter):
    a1111 = parameter.a1111
    assert a1111.field or a1111.option
    if a1111.field:
        assert a1111.field in COMMON_DEFAULTS and COMMON_DEFAULTS[a1111.field] == a1111.default
        if a1111.field != parameter.name:  # a 422 of our validator names the A1111 field
            assert FIELD_NAMES[parameter.name] == [a1111.field]
    if a1111.option:
        assert a1111.option in HONOURED_OVERRIDES
        assert FIELD_NAMES[parameter.name] == ["override_settings", a1111.option]
