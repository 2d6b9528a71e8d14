"""Schemathesis against a live server: every operation of /api/schema, with generated valid and invalid
requests, answers without a server error, with a status code the schema lists and a body its schema allows.

Real ids are seeded first and substituted for about half of the generated ones (path parameters and the
task submission's model hashes), so the 2xx paths of reads, updates, deletes and submissions are reached.
The budget (examples per operation) keeps the whole test within a few minutes on a 2-core CI machine.
"""

import hashlib

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.factories import make_image, make_model, make_task

EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The queue stream never ends by design (tests/tasks/test_queue_sse.py covers it); every other operation is run.
ENDLESS_STREAMS = ("tasks_queue",)


def generated_schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def seeded(transactional_db):
    """Ids that exist: two checkpoints, a LoRA and a VAE, two images, a pending and a completed task."""
    checkpoint = make_model(name="seed-checkpoint", base_model="SD 1.5")
    spare = make_model(name="spare-checkpoint", base_model="SD 1.5")
    lora = make_model(name="seed-lora", model_type="lora", base_model="SD 1.5")
    vae = make_model(name="seed-vae", model_type="vae")
    images = [make_image(), make_image()]
    pending = make_task(checkpoint)
    completed = make_task(spare, status="completed")
    return {
        "models": [checkpoint.hash, spare.hash, lora.hash, vae.hash],
        "images": [image.hash for image in images],
        "tasks": [pending.id, completed.id],
        "checkpoint": checkpoint.hash, "lora": lora.hash, "vae": vae.hash,
    }


@pytest.fixture
def api_schema(live_url, seeded):
    schema = schemathesis.openapi.from_dict(generated_schema())
    schema.config.update(base_url=live_url)
    # NUL characters in text are part A's item 1 (issue 8): not generated here until that rule lands.
    schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION, allow_x00=False)
    return schema


def pick(value, choices):
    """A seeded id for about half of the generated values, chosen by the value itself (reproducible)."""
    digest = hashlib.sha256(repr(value).encode()).digest()
    return choices[digest[1] % len(choices)] if digest[0] % 2 else value


def use_seeded_ids(case, seeded):
    path = case.operation.path
    collection = path.split("/")[2]
    for name in ("hash", "id"):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = pick(case.path_parameters[name], seeded[collection])
    body = case.body
    if path == "/api/tasks" and case.method.upper() == "POST" and isinstance(body, dict):
        if "checkpoint_hash" in body:
            body["checkpoint_hash"] = pick(body["checkpoint_hash"], [seeded["checkpoint"]])
        if isinstance(body.get("vae_hash"), str):
            body["vae_hash"] = pick(body["vae_hash"], [seeded["vae"]])
        for entry in body.get("additional_models") or []:
            if isinstance(entry, dict) and "model_hash" in entry:
                entry["model_hash"] = pick(entry["model_hash"], [seeded["lora"]])


schema = schemathesis.pytest.from_fixture("api_schema").exclude(operation_id=list(ENDLESS_STREAMS))


@schema.parametrize()
@settings(deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case, seeded):
    use_seeded_ids(case, seeded)
    case.call_and_validate(checks=CHECKS, timeout=30)
