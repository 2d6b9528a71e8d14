"""Render benchmark: SD-Host end to end vs bare diffusers, checkpoint switches, queue grouping.

    python bench/render_bench.py               # tiny random-weight SD1.5 models, CPU, a few minutes
    python bench/render_bench.py --full-size   # real SD1.5 size, 512x512, 20 steps (for a GPU machine)
    python bench/render_bench.py --conditioning-only   # case (d) alone

(a) The same request, interleaved, through SD-Host (POST /api/tasks in-process -> worker -> PNG stored and the
    task completed), through RenderEngine.render alone, and through a bare diffusers pipeline call;
    median wall time per task and the overhead ratio against bare diffusers.
(b) Checkpoint switch cost with the RAM cache (PIPELINE_CACHE_SIZE=2: a switch back is a RAM hit)
    and without it (size 1: every switch reloads the file).
(c) 40 tasks over 3 checkpoints in random order, all queued at once, run by the real worker with
    our scheduler (MAX_OVERTAKE=8) and with FIFO (MAX_OVERTAKE=0): checkpoint loads and total time;
    plus a 1000-trace simulation of the same with tasks arriving while the queue drains.
(d) Prompt conditioning (D31-D32): a ~200-token A1111 prompt with weights, BREAK and prompt editing against a
    10-token plain one: milliseconds to encode per task, and the share of a render of the same steps.
(e) Image to image (strength 0.5) and hires fix (2x, Latent, second pass strength 0.7) through SD-Host end to end
    and through RenderEngine.render alone, against the bare diffusers calls doing the same work (img2img
    pipeline; txt2img to latents, interpolate, img2img), interleaved; median wall time per task and the ratios.
(f) Time estimates (`--sections f` alone): the real worker learns from small renders at three sizes, two upscales
    and a cold load, then renders a plain size, hires fixes (Latent and Lanczos, 2x), img2img at strength 0.5, an
    upscale and a cold load of another checkpoint; the estimate made before each (tasks_app/throughput.py)
    against its real time (started -> completed), with the load average.
--a1111  The same txt2img through a live server (uvicorn), interleaved: POST /sdapi/v1/txt2img (waits, base64 PNG
    out, D39) against POST /api/tasks + polling GET /api/tasks/{id} every 20 ms + the image list + its content;
    median client-side seconds per request and the ratio (target <= 1.05).
(g) A stream (`--sections g`, not in the default run): 64 single-image tasks from 8 concurrent clients (each
    submits, waits for its task, submits the next), same checkpoint, different prompts and seeds, through the
    real worker with cross-task batching on (SDHOST_MAX_MERGED_BATCH=--merged-batch) and off (1), against bare
    diffusers rendering the same 64 images one call after another: img/s and p50/p95 task latency (POST ->
    completed); plus one task on an idle queue, batching on and off (merging must not slow a lone task).

Everything runs in a throw-away data folder.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(data_dir):
    os.environ["SDHOST_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdhost.settings")
    os.environ.setdefault("SDHOST_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def make_checkpoints(folder, count, full_size):
    from engine.tiny_models import write_model_file
    from models_app.services import import_model_file

    models = []
    for i in range(count):
        t0 = time.perf_counter()
        path = write_model_file(Path(folder) / f"bench-{i}.safetensors", seed=i, full_size=full_size)
        model, _ = import_model_file(path, name=f"bench-{i}")
        path.unlink()
        print(f"  checkpoint {i}: {model.size / 1e6:.0f} MB, built in {time.perf_counter() - t0:.1f} s", flush=True)
        models.append(model)
    return models


def wait_completed(task_id, timeout=600):
    from tasks_app.models import Task

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        status = Task.objects.filter(id=task_id).values_list("status", flat=True).first()
        if status in ("completed", "failed", "cancelled"):
            if status != "completed":
                raise RuntimeError(f"task {task_id} {status}: {Task.objects.get(id=task_id).error_message}")
            return
        time.sleep(0.05)  # light polling: timings come from completed_at, not from noticing it
    raise TimeoutError(task_id)


def task_latency(client, body):
    """Seconds from sending the POST of a task to the commit that stored its images and completed it."""
    from tasks_app.models import Task

    sent = time.time()
    response = client.post("/api/tasks", body, content_type="application/json")
    assert response.status_code == 202, response.content
    task_id = response.json()["task_id"]
    wait_completed(task_id)
    return Task.objects.get(id=task_id).completed_at.timestamp() - sent


def sync(device):
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_end_to_end(checkpoint, params, repeats):
    """(a): median seconds per task for SD-Host, the engine alone and bare diffusers, run interleaved
    (one of each per round, rotating) so that load drifting on a shared machine hits all three alike."""
    import torch
    from django.test import Client

    from engine import loader
    from engine.interface import ModelFile, RenderRequest
    from engine.samplers import make_scheduler
    from models_app.storage import model_file_path
    from tasks_app import worker

    client = Client(HTTP_HOST="localhost")  # a served Host name (ALLOWED_HOSTS)
    prompt = "a lighthouse on a cliff at dusk"
    running = worker.start_in_process()

    def sdhost(seed):
        return task_latency(client, {"checkpoint_hash": checkpoint.hash, "prompt": prompt, **params, "seed": seed})

    sdhost(999)  # loads the checkpoint into the worker's engine
    engine, device = running.engine, running.engine.device
    model_file = ModelFile(path=str(model_file_path(checkpoint)), sha256=checkpoint.hash, name=checkpoint.name,
                           kind="checkpoint")

    def engine_only(seed):
        engine.render(RenderRequest(checkpoint=model_file, prompt=prompt, width=params["width"],
                                    height=params["height"], steps=params["steps"], cfg_scale=7.0,
                                    sampler=params["sampler"], seed=seed))

    loaded = loader.load_checkpoint(str(model_file_path(checkpoint)), engine.dtype)
    pipe = loaded.pipe.to(device)

    def bare(seed):
        pipe.scheduler = make_scheduler(params["sampler"], loaded.arch.scheduler_config, [seed])
        pipe(prompt=prompt, width=params["width"], height=params["height"], num_inference_steps=params["steps"],
             guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(seed), output_type="pil")
        sync(device)

    bare(998)  # warm-up
    paths = [("bare", bare), ("engine", engine_only), ("sdhost", sdhost)]
    times = {name: [] for name, _ in paths}
    for i in range(repeats):
        for name, run in paths[i % 3:] + paths[:i % 3]:
            t0 = time.perf_counter()
            measured = run(1000 + i)
            times[name].append(measured if measured is not None else time.perf_counter() - t0)
    worker.stop_in_process()
    engine.unload_all()
    pipe = loaded = None  # free the second copy before the next case
    return device, *(statistics.median(times[name]) for name in ("bare", "engine", "sdhost"))


def interleaved(paths, repeats):
    """Median seconds of each (name, run) path, one of each per round in rotating order; a run may return its
    own measurement (else its wall time counts)."""
    times = {name: [] for name, _ in paths}
    for i in range(repeats):
        for name, run in paths[i % len(paths):] + paths[:i % len(paths)]:
            t0 = time.perf_counter()
            measured = run(1000 + i)
            times[name].append(measured if measured is not None else time.perf_counter() - t0)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_image_to_image(checkpoint, params, repeats):
    """(d): img2img at strength 0.5 and hires 2x (Latent) through SD-Host against bare diffusers."""
    import io

    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import StableDiffusionImg2ImgPipeline
    from django.test import Client
    from PIL import Image

    from engine import loader
    from engine.interface import HiresSpec, ModelFile, RenderRequest
    from engine.samplers import make_scheduler
    from images_app.storage import image_file_path, store_image_bytes
    from models_app.storage import model_file_path
    from tasks_app import worker

    client = Client()
    prompt = "a lighthouse on a cliff at dusk"
    width, height, steps, sampler = params["width"], params["height"], params["steps"], params["sampler"]
    init = Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    init.save(buffer, format="PNG")
    init_image = store_image_bytes(buffer.getvalue())[0]
    init_hash = init_image.hash
    cases = {
        "img2img (strength 0.5)": {"init_image": init_hash, "denoising_strength": 0.5},
        "hires 2x Latent (strength 0.7)": {"hires": {"scale": 2, "upscaler": "Latent", "denoising_strength": 0.7}},
    }
    running = worker.start_in_process()

    def sdhost(fields):
        def run(seed):
            return task_latency(client, {"checkpoint_hash": checkpoint.hash, "prompt": prompt, **params, **fields,
                                         "seed": seed})
        return run

    for fields in cases.values():
        sdhost(fields)(999)  # warm-up: checkpoint loaded, pipeline views built once
    engine, device = running.engine, running.engine.device
    model_file = ModelFile(path=str(model_file_path(checkpoint)), sha256=checkpoint.hash, name=checkpoint.name,
                           kind="checkpoint")
    engine_requests = [
        {"init_image_path": str(image_file_path(init_image)), "denoising_strength": 0.5},
        {"hires": HiresSpec(width=width * 2, height=height * 2, scale=2, upscaler="Latent", denoising_strength=0.7)},
    ]

    def engine_only(fields):
        def run(seed):
            engine.render(RenderRequest(checkpoint=model_file, prompt=prompt, width=width, height=height,
                                        steps=steps, cfg_scale=7.0, sampler=sampler, seed=seed, **fields))
        return run

    loaded = loader.load_checkpoint(str(model_file_path(checkpoint)), engine.dtype)
    pipe = loaded.pipe.to(device)
    img2img_pipe = StableDiffusionImg2ImgPipeline.from_pipe(pipe)
    img2img_pipe.set_progress_bar_config(disable=True)

    def generator(seed):
        return torch.Generator("cpu").manual_seed(seed)

    def bare_img2img(seed):
        img2img_pipe.scheduler = make_scheduler(sampler, loaded.arch.scheduler_config, [seed])
        img2img_pipe(prompt=prompt, image=init, strength=0.5, num_inference_steps=steps, guidance_scale=7.0,
                     generator=generator(seed), output_type="pil")
        sync(device)

    def bare_hires(seed):
        pipe.scheduler = make_scheduler(sampler, loaded.arch.scheduler_config, [seed])
        latents = pipe(prompt=prompt, width=width, height=height, num_inference_steps=steps, guidance_scale=7.0,
                       generator=generator(seed), output_type="latent").images
        latents = F.interpolate(latents, size=(height * 2 // 8, width * 2 // 8), mode="bilinear")
        img2img_pipe.scheduler = make_scheduler(sampler, loaded.arch.scheduler_config, [seed])
        img2img_pipe(prompt=prompt, image=latents, strength=0.7, num_inference_steps=steps, guidance_scale=7.0,
                     generator=generator(seed), output_type="pil")
        sync(device)

    results = {}
    for (label, fields), bare, engine_fields in zip(cases.items(), (bare_img2img, bare_hires), engine_requests):
        bare(998)
        times = interleaved([("bare", bare), ("engine", engine_only(engine_fields)), ("sdhost", sdhost(fields))],
                            repeats)
        results[label] = (times["bare"], times["engine"], times["sdhost"])
    worker.stop_in_process()
    pipe = img2img_pipe = loaded = None  # free them before the next case
    return results


def bench_switch(checkpoints, device, repeats):
    """(b): extra seconds of a render right after a checkpoint switch, with and without the RAM cache."""
    from engine.engine import RenderEngine
    from engine.interface import ModelFile, RenderRequest
    from models_app.storage import model_file_path

    files = [ModelFile(path=str(model_file_path(c)), sha256=c.hash, name=c.name, kind="checkpoint")
             for c in checkpoints[:2]]

    def render(engine, model_file):
        request = RenderRequest(checkpoint=model_file, prompt="x", width=64, height=64, steps=1, sampler="Euler")
        t0 = time.perf_counter()
        engine.render(request)
        sync(engine.device)
        return time.perf_counter() - t0

    results = {}
    for label, cache_size in (("RAM cache (2)", 2), ("no RAM cache (1)", 1)):
        engine = RenderEngine(device=device, cache_size=cache_size)
        render(engine, files[0]), render(engine, files[1])  # both loaded once
        same = statistics.mean(render(engine, files[1]) for _ in range(repeats))
        switched = statistics.mean(render(engine, files[i % 2]) for i in range(repeats * 2))
        results[label] = (switched - same, engine.stats())
        engine.unload_all()
    return results


WEIGHTED_PROMPT = ", ".join(
    f"({word} {other}:{1 + (i % 5) / 10})" if i % 3 else f"[{word} {other}]"
    for i, (word, other) in enumerate(zip(
        "masterpiece detailed cinematic glowing misty ancient crystal towering quiet distant".split() * 3,
        "lighthouse forest river castle meadow harbour canyon glacier temple village".split() * 3))
) + ", [dusk:night:0.5] BREAK (sharp focus:1.3), intricate details, volumetric light"
PLAIN_PROMPT = "a lighthouse on a cliff at dusk, oil painting"


def bench_conditioning(checkpoint, params, device, repeats):
    """(d): median ms to build the conditioning of each prompt, and a render of each (same steps)."""
    from engine.conditioning import encode_prompts
    from engine.engine import RenderEngine
    from engine.interface import ModelFile, RenderRequest
    from models_app.storage import model_file_path

    model_file = ModelFile(path=str(model_file_path(checkpoint)), sha256=checkpoint.hash, name=checkpoint.name,
                           kind="checkpoint")
    engine = RenderEngine(device=device, cache_size=1)
    engine.render(RenderRequest(checkpoint=model_file, prompt="x", width=64, height=64, steps=1, sampler="Euler"))
    pipe = engine._checkpoint(model_file).pipe
    tokens = {name: len(pipe.tokenizer(prompt, add_special_tokens=False)["input_ids"])
              for name, prompt in (("weighted", WEIGHTED_PROMPT), ("plain", PLAIN_PROMPT))}
    results = {}
    for name, prompt in (("weighted", WEIGHTED_PROMPT), ("plain", PLAIN_PROMPT)):
        encode_times, render_times = [], []
        for i in range(repeats):
            t0 = time.perf_counter()
            encode_prompts(pipe, "sd15", prompt, "lowres, blurry", params["steps"])
            sync(engine.device)
            encode_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            engine.render(RenderRequest(checkpoint=model_file, prompt=prompt, negative_prompt="lowres, blurry",
                                        width=params["width"], height=params["height"], steps=params["steps"],
                                        sampler=params["sampler"], seed=i))
            render_times.append(time.perf_counter() - t0)
        results[name] = (tokens[name], statistics.median(encode_times), statistics.median(render_times))
    engine.unload_all()
    return results


def checkpoint_loads(order):
    return sum(1 for i, c in enumerate(order) if i == 0 or c != order[i - 1])


def bench_trace(checkpoints, params, tasks, seed):
    """(c): the real worker on a random trace, our scheduler vs FIFO."""
    from django.conf import settings
    from django.test import Client

    from tasks_app import worker
    from tasks_app.models import Task

    rng = random.Random(seed)
    trace = [rng.randrange(len(checkpoints)) for _ in range(tasks)]
    client = Client(HTTP_HOST="localhost")  # a served Host name (ALLOWED_HOSTS)
    results = {}
    for label, max_overtake in (("scheduler (max_overtake 8)", 8), ("FIFO (max_overtake 0)", 0)):
        settings.SDHOST["MAX_OVERTAKE"] = max_overtake
        Task.objects.all().delete()
        ids = []
        for i, index in enumerate(trace):
            body = {"checkpoint_hash": checkpoints[index].hash, "prompt": "trace", **params, "seed": i}
            ids.append(client.post("/api/tasks", body, content_type="application/json").json()["task_id"])
        t0 = time.perf_counter()
        running = worker.start_in_process()
        for task_id in ids:
            wait_completed(task_id)
        elapsed = time.perf_counter() - t0
        stats = running.engine.stats()
        worker.stop_in_process()
        order = list(Task.objects.order_by("started_at").values_list("checkpoint_id", flat=True))
        results[label] = (checkpoint_loads(order), stats["disk_loads"], elapsed)
    settings.SDHOST["MAX_OVERTAKE"] = 8
    return trace, results


def bench_estimates(checkpoints, side):
    """(f): [(label, estimated s, real s)]. The real worker learns from a few small renders (three sizes, half to
    1.5 × `side`, each twice), two Lanczos upscales at two scales and one cold load of another checkpoint; then each
    case is estimated (tasks_app/throughput.py, a cold one with the measured switch time) just before it renders:
    plain sizes, a 2x hires fix (the second pass at 4x the pixels, beyond every size learned), img2img at strength
    0.5, an upscale at a third scale, and a cold load of a checkpoint never loaded."""
    import io

    import numpy as np
    from django.test import Client
    from PIL import Image

    from images_app.storage import store_image_bytes
    from system_app.models import SystemFact
    from tasks_app import throughput, worker
    from tasks_app.models import Task

    client = Client(HTTP_HOST="localhost")  # a served Host name (ALLOWED_HOSTS)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8)).save(buffer, "PNG")
    init_hash = store_image_bytes(buffer.getvalue())[0].hash

    def run(checkpoint, fields, seed):
        """(the task before it runs, its real seconds started -> completed)"""
        if "upscale" in fields:
            response = client.post(f"/api/images/{init_hash}/upscale", fields["upscale"], content_type="application/json")
        else:
            body = {"checkpoint_hash": checkpoint.hash, "prompt": "estimate", "sampler": "Euler", "batch_size": 1,
                    **fields, "seed": seed}
            response = client.post("/api/tasks", body, content_type="application/json")
        task_id = response.json()["task_id"]
        wait_completed(task_id)
        task = Task.objects.get(id=task_id)
        time.sleep(0.2)  # the worker records the timings just after completing the task
        return task, (task.completed_at - task.started_at).total_seconds()

    def plain(width, steps):
        return {"width": width, "height": width, "steps": steps}

    worker.start_in_process()
    learn = [plain(side // 2, 8), plain(side, 12), plain(side * 3 // 2, 8)]
    cases = [
        ("plain", checkpoints[1], plain(side * 5 // 8, 10)),
        (f"hires 2x Latent, 0.5 ({side}->{2 * side})", checkpoints[1],
         {**plain(side, 12), "hires": {"scale": 2, "upscaler": "Latent", "denoising_strength": 0.5}}),
        (f"hires 2x Lanczos, 0.5 ({side // 2}->{side})", checkpoints[1],
         {**plain(side // 2, 12), "hires": {"scale": 2, "upscaler": "Lanczos", "denoising_strength": 0.5}}),
        ("img2img, strength 0.5", checkpoints[1], {**plain(side, 20), "init_image": init_hash,
                                                   "denoising_strength": 0.5}),
        ("upscale Lanczos 2x", None, {"upscale": {"upscaler": "Lanczos", "scale": 2}}),
        ("cold load + plain", checkpoints[2], plain(side, 12)),
    ]
    # Warm-up: on a CPU the first render of each shape pays a one-time cost (oneDNN kernels built for it: 3-10x
    # that render here), which is no steady-state speed; every shape runs once, then learning starts afresh.
    for fields in learn + [fields for _, _, fields in cases]:
        run(checkpoints[0], {**fields, "steps": 2} if "upscale" not in fields else fields, 0)
    SystemFact.objects.filter(key=throughput.FACT_KEY).delete()
    for seed, fields in enumerate(learn * 2, start=1):
        run(checkpoints[0], fields, seed)
    for scale in (1.5, 3, 1.5, 3):
        run(None, {"upscale": {"upscaler": "Lanczos", "scale": scale}}, 0)
    run(checkpoints[1], plain(side // 2, 8), 50)  # a cold load measured (from disk)
    rows = []
    for seed, (label, checkpoint, fields) in enumerate(cases, start=100):
        speed = throughput.current()
        task, real = run(checkpoint, fields, seed)  # the task as stored (hires resolved), estimated with the
        estimate = speed.task_seconds(task)  # model of before it ran
        if checkpoint is checkpoints[2]:
            estimate += speed.load_seconds
        label = f"{label}: {task.width}x{task.height}, {task.steps} steps" if "upscale" not in fields else label
        rows.append((label, estimate, real))
    model = throughput.current().model(Task(checkpoint=checkpoints[0]))
    print("(f) learned step s = a + b·MP + c·MP²:", model.step_coefficients().round(4),
          "outside s = f + g·image MP:", model.outside_coefficients().round(4), flush=True)
    worker.stop_in_process()
    return rows


def print_estimates(checkpoints, side, size, device):
    print("(f) time estimates ...", flush=True)
    load = os.getloadavg()
    estimates = bench_estimates(checkpoints, side)
    print(f"\n(f) device {device}, {size}; load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{'(f) estimate vs actual':<52}{'est. s':>10}{'real s':>9}{'error':>8}")
    for label, estimate, real in estimates:
        print(f"{label:<52}{estimate:>10.2f}{real:>9.2f}{(estimate - real) / real:>+8.0%}")


def simulate_trace(tasks, n_checkpoints, traces, seed):
    """Checkpoint loads with tasks arriving while the queue drains (pure scheduler, no rendering)."""
    from tasks_app.scheduler import QueueEntry, apply_placement, place_new, start_order

    rng = random.Random(seed)
    out = {8: [], 0: [], tasks: []}
    for _ in range(traces):
        trace = [rng.randrange(n_checkpoints) for _ in range(tasks)]
        # each time unit: 0-3 arrivals (mean 1.5), then one task is rendered
        arrivals, pos = [], 0
        while pos < tasks:
            burst = rng.randint(0, 3)
            arrivals.append(trace[pos:pos + burst])
            pos += burst
        for max_overtake in out:
            entries, started, next_id = [], [], 0
            for batch in arrivals + [[]] * tasks:
                for checkpoint in batch:
                    entry = QueueEntry(str(next_id), str(checkpoint))
                    entries = apply_placement(entries, entry, place_new(entries, entry.checkpoint, max_overtake))
                    next_id += 1
                if entries:
                    first = start_order(entries)[0]
                    started.append(first.checkpoint)
                    entries = [e for e in entries if e.id != first.id]
            out[max_overtake].append(checkpoint_loads(started))
    return {k: statistics.mean(v) for k, v in out.items()}


def bench_a1111(checkpoint, params, repeats):
    """--a1111: (seconds through /api, seconds through /sdapi/v1) per request, medians of interleaved runs."""
    import base64

    import requests

    from tasks_app import worker
    from tests.support.live_server import live_asgi_server

    base = live_asgi_server()
    worker.start_in_process()
    prompt = "a lighthouse on a cliff at dusk"
    a1111_body = {"prompt": prompt, "width": params["width"], "height": params["height"], "steps": params["steps"],
                  "sampler_name": "DPM++ 2M", "scheduler": "karras", "batch_size": 1,
                  "override_settings": {"sd_model_checkpoint": checkpoint.hash}}

    def through_api(seed):
        body = {"checkpoint_hash": checkpoint.hash, "prompt": prompt, **params, "seed": seed}
        started = time.perf_counter()
        task_id = requests.post(f"{base}/api/tasks", json=body, timeout=60).json()["task_id"]
        while requests.get(f"{base}/api/tasks/{task_id}", timeout=60).json()["data"]["attributes"]["status"] \
                not in ("completed", "failed", "cancelled"):
            time.sleep(0.02)
        images = requests.get(f"{base}/api/images", params={"filter[task_id]": task_id}, timeout=60).json()["data"]
        pngs = [requests.get(f"{base}/api/images/{image['id']}/content", timeout=60).content for image in images]
        assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG")
        return time.perf_counter() - started

    def through_a1111(seed):
        started = time.perf_counter()
        response = requests.post(f"{base}/sdapi/v1/txt2img", json={**a1111_body, "seed": seed}, timeout=60)
        pngs = [base64.b64decode(image) for image in response.json()["images"]]
        assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG")
        return time.perf_counter() - started

    through_api(999)  # loads the checkpoint
    times = {through_api: [], through_a1111: []}
    for round_no in range(repeats):
        order = [through_api, through_a1111] if round_no % 2 == 0 else [through_a1111, through_api]
        for run in order:
            times[run].append(run(round_no))
    worker.stop_in_process()
    return statistics.median(times[through_api]), statistics.median(times[through_a1111])

STREAM_CLIENTS = 8
STREAM_TASKS = 64
STREAM_SUBJECTS = ["a lighthouse", "a red fox", "a mountain lake", "an old tram", "a bowl of fruit", "a desert road",
                   "a city at night", "a snowy forest"]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_stream(checkpoint, params, merged_batch, rounds, lone_repeats):
    """(g): {mode: (img/s of the median round, p50 s, p95 s over all rounds)} for the stream, and {mode: median s}
    of a lone task."""
    import threading

    import torch
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    from engine import loader
    from engine.engine import pick_device
    from engine.samplers import make_scheduler
    from models_app.storage import model_file_path
    from tasks_app import worker

    params = {**params, "batch_size": 1}

    def prompt_of(i):
        return f"{STREAM_SUBJECTS[i % len(STREAM_SUBJECTS)]}, study {i}, soft light"

    def submit_and_wait(client, i):
        return task_latency(client, {"checkpoint_hash": checkpoint.hash, "prompt": prompt_of(i), **params,
                                     "seed": 5000 + i})

    def stream(limit):
        """(seconds for the 64 tasks, their latencies)."""
        settings.SDHOST["MAX_MERGED_BATCH"] = limit
        latencies, errors = [], []

        def client_loop(index):
            client = Client(HTTP_HOST="localhost")
            try:
                for i in range(index, STREAM_TASKS, STREAM_CLIENTS):
                    latencies.append(submit_and_wait(client, i))
            except Exception as exc:  # reported after the run
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(STREAM_CLIENTS)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return time.perf_counter() - t0, latencies

    def lone(limit):
        def run(seed):
            settings.SDHOST["MAX_MERGED_BATCH"] = limit
            return submit_and_wait(Client(HTTP_HOST="localhost"), seed)
        return run

    device = pick_device(settings.SDHOST["DEVICE"])
    loaded = loader.load_checkpoint(str(model_file_path(checkpoint)), torch.float16 if device.startswith("cuda")
                                    else torch.float32)
    pipe = loaded.pipe.to(device)

    def bare_sequential():
        t0 = time.perf_counter()
        for i in range(STREAM_TASKS):
            pipe.scheduler = make_scheduler(params["sampler"], loaded.arch.scheduler_config, [5000 + i])
            pipe(prompt=prompt_of(i), width=params["width"], height=params["height"],
                 num_inference_steps=params["steps"], guidance_scale=7.0,
                 generator=torch.Generator("cpu").manual_seed(5000 + i), output_type="pil")
            sync(device)
        return time.perf_counter() - t0, []

    on, off, bare = f"SD-Host, batching on (limit {merged_batch})", "SD-Host, batching off", "bare diffusers, sequential"
    runs = [(on, lambda: stream(merged_batch)), (off, lambda: stream(1)), (bare, bare_sequential)]
    worker.start_in_process()
    lone(1)(900)  # warm-up: loads the checkpoint into the worker
    seconds, latencies = {label: [] for label, _ in runs}, {label: [] for label, _ in runs}
    for round_ in range(rounds):  # rotating order: load drifting on a shared machine hits all alike
        for label, run in runs[round_ % 3:] + runs[:round_ % 3]:
            elapsed, measured = run()
            seconds[label].append(elapsed)
            latencies[label] += measured
    lone_times = interleaved([(on, lone(merged_batch)), (off, lone(1))], lone_repeats)
    worker.stop_in_process()
    results = {label: (STREAM_TASKS / statistics.median(seconds[label]),
                       percentile(latencies[label], 0.5) if latencies[label] else None,
                       percentile(latencies[label], 0.95) if latencies[label] else None) for label, _ in runs}
    return results, lone_times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full-size", action="store_true", help="real SD1.5-size checkpoints, 512x512, 20 steps")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: auto)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--trace-tasks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--merged-batch", type=int, default=8, help="(g): SDHOST_MAX_MERGED_BATCH with batching on")
    parser.add_argument("--stream-rounds", type=int, default=3, help="(g): rounds of the three stream modes")
    parser.add_argument("--sections", default="abcdef", help="which of (a)-(f) to run, e.g. 'de' or 'f'")
    parser.add_argument("--a1111", action="store_true", help="only: /sdapi/v1/txt2img against POST /api/tasks (D39)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="sdhost-render-bench-"))
    if args.device:
        os.environ["SDHOST_DEVICE"] = args.device
    if args.threads:  # before torch loads: OpenMP's thread count is per thread once set at run time
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    setup_django(data_dir)
    if args.full_size:
        params = {"width": 512, "height": 512, "steps": 20, "sampler": "DPM++ 2M Karras", "batch_size": 1}
        trace_params = params
        repeats = args.repeats or 10
    else:
        params = {"width": 128, "height": 128, "steps": 20, "sampler": "DPM++ 2M Karras", "batch_size": 1}
        trace_params = {**params, "width": 64, "height": 64, "steps": 4}
        repeats = args.repeats or 5
    print(f"data in {data_dir}; building 3 {'full-size' if args.full_size else 'tiny'} SD1.5 checkpoints", flush=True)
    checkpoints = make_checkpoints(data_dir / "src", 3, args.full_size)

    from engine.engine import pick_device

    device = pick_device(args.device)
    size = f"{params['width']}x{params['height']}, {params['steps']} steps, {params['sampler']}, batch 1"
    if args.a1111:
        repeats = args.repeats or 10
        api_s, a1111_s = bench_a1111(checkpoints[0], params, repeats)
        print(f"\nDevice {device}; {size}; {repeats} interleaved runs each, live server, client-side seconds")
        print(f"{'POST /api/tasks + poll + image fetch':<42}{api_s:>10.3f}")
        print(f"{'POST /sdapi/v1/txt2img (base64)':<42}{a1111_s:>10.3f}{a1111_s / api_s:>9.3f}")
        return
    if "d" in args.sections:
        print("(d) prompt conditioning ...", flush=True)
        conditioning = bench_conditioning(checkpoints[0], params, device, repeats)
        print(f"\nDevice {device}; {'full-size' if args.full_size else 'tiny'} SD1.5; {size}; {repeats} runs each")
        print(f"{'(d) prompt':<42}{'tokens':>8}{'encode ms':>11}{'render s':>10}{'share':>8}")
        for label, (tokens, encode, render) in conditioning.items():
            print(f"{label:<42}{tokens:>8}{encode * 1000:>11.1f}{render:>10.3f}{encode / render:>8.1%}")
    if "e" in args.sections:
        print("(e) image to image and hires fix vs bare diffusers ...", flush=True)
        image_cases = bench_image_to_image(checkpoints[0], params, repeats)
        print(f"\n{'(e) ' + size:<42}{'bare s':>9}{'engine s':>10}{'ratio':>7}{'SD-Host s':>11}{'ratio':>7}")
        for label, (bare, engine_s, sdhost) in image_cases.items():
            print(f"{label:<42}{bare:>9.3f}{engine_s:>10.3f}{engine_s / bare:>7.3f}{sdhost:>11.3f}{sdhost / bare:>7.3f}")
    if "g" in args.sections:
        print(f"(g) stream of {STREAM_TASKS} tasks from {STREAM_CLIENTS} clients ...", flush=True)
        stream, lone = bench_stream(checkpoints[0], params, args.merged_batch, args.stream_rounds, repeats)
        print(f"\n{'(g) ' + size:<42}{'img/s':>8}{'x bare':>8}{'p50 s':>8}{'p95 s':>8}{'lone s':>8}")
        bare_rate = stream["bare diffusers, sequential"][0]
        for label, (rate, p50, p95) in stream.items():
            tail = "".join(f"{value:>8.3f}" if value is not None else f"{'-':>8}" for value in (p50, p95, lone.get(label)))
            print(f"{label:<42}{rate:>8.2f}{rate / bare_rate:>8.2f}{tail}")
    if "f" in args.sections:
        print_estimates(checkpoints, params["width"], size, device)
    if not set("abc") & set(args.sections):
        return
    print("(a) end to end vs bare diffusers ...", flush=True)
    device, bare, engine_only, sdhost = bench_end_to_end(checkpoints[0], params, repeats)
    print("(b) checkpoint switches ...", flush=True)
    switch = bench_switch(checkpoints, device, repeats)
    print(f"(c) trace of {args.trace_tasks} tasks over 3 checkpoints ...", flush=True)
    trace, real = bench_trace(checkpoints, trace_params, args.trace_tasks, args.seed)
    simulated = simulate_trace(args.trace_tasks, 3, 1000, args.seed)

    print(f"\nDevice {device}; {'full-size' if args.full_size else 'tiny'} SD1.5; {size}; {repeats} runs each")
    print(f"{'(a) path':<42}{'s/task':>10}{'ratio':>9}")
    for label, value in (("bare diffusers pipeline call", bare), ("RenderEngine.render (PNG encoded)", engine_only),
                         ("SD-Host: POST -> image stored, completed", sdhost)):
        print(f"{label:<42}{value:>10.3f}{value / bare:>9.2f}")
    print(f"\n{'(b) checkpoint switch':<42}{'extra s':>10}")
    for label, (seconds, stats) in switch.items():
        print(f"{label:<42}{seconds:>10.3f}   disk loads {stats['disk_loads']}, RAM hits {stats['ram_hits']}")
    print(f"\n(c) trace {''.join('ABC'[i] for i in trace)}")
    print(f"{'policy, all queued, real worker':<42}{'loads':>10}{'disk':>6}{'total s':>10}")
    for label, (loads, disk, elapsed) in real.items():
        print(f"{label:<42}{loads:>10}{disk:>6}{elapsed:>10.1f}")
    print(f"{'simulated arrivals while draining (mean)':<42}{'loads':>10}")
    print(f"{'scheduler (max_overtake 8)':<42}{simulated[8]:>10.1f}")
    print(f"{'FIFO (max_overtake 0)':<42}{simulated[0]:>10.1f}")
    print(f"{f'unbounded (max_overtake {args.trace_tasks})':<42}{simulated[args.trace_tasks]:>10.1f}")


if __name__ == "__main__":
    main()
