"""A cold checkpoint load is a phase of its own (issue 26 item 5): the queue stream shows the running task as
`loading`, with the measured switch time in its `eta`, until its first step, not 00:00:00."""

import json

import requests

from engine.tiny_models import write_model_file
from models_app.services import import_model_file
from system_app.models import SystemFact
from tasks_app import throughput, worker

LOAD_SECONDS = 300.0  # what the worker measured checkpoint switches to take (stored below)


def events(response):
    for line in response.iter_lines():
        if line.startswith(b"data: "):
            yield json.loads(line[6:])


def seconds(hms):
    hours, minutes, secs = (int(part) for part in hms.split(":"))
    return 3600 * hours + 60 * minutes + secs


def test_cold_load_is_a_loading_phase_with_the_switch_estimate(live_url, tmp_path):
    checkpoint, _ = import_model_file(write_model_file(tmp_path / "tiny.safetensors"), name="tiny")
    SystemFact.objects.update_or_create(key=throughput.FACT_KEY, defaults={
        "value": throughput.Throughput(load_seconds=LOAD_SECONDS, load_samples=1).as_json(), "type": "json"})
    worker.start_in_process()
    try:
        with requests.get(f"{live_url}/api/tasks/queue", stream=True, timeout=60) as response:
            stream = events(response)
            next(stream)
            body = {"checkpoint_hash": checkpoint.hash, "prompt": "p", "width": 64, "height": 64, "steps": 6,
                    "sampler": "Euler", "seed": 3}
            task_id = requests.post(f"{live_url}/api/tasks", json=body, timeout=10).json()["task_id"]
            phases = []
            for snapshot in stream:
                current = snapshot["current_task"]
                if current is None:
                    if phases:
                        break
                    continue
                assert current["id"] == task_id
                phases.append((current["phase"], seconds(current["eta"]), current["progress"]))
    finally:
        worker.stop_in_process()
    loading = [entry for entry in phases if entry[0] == "loading"]
    assert loading, phases
    assert all(eta >= LOAD_SECONDS - 30 and progress == 0 for _, eta, progress in loading)
    # loading comes first, then the render's own measured estimate
    order = [phase for phase, _, _ in phases]
    assert order == sorted(order, key=["loading", "rendering"].index)
    assert phases[-1][0] == "rendering" and all(eta < LOAD_SECONDS - 30 for phase, eta, _ in phases
                                                if phase == "rendering")
