"""README's "A short tour": its render examples are valid requests, sized to finish in seconds on a CPU with the
tiny checkpoint (issue 22 item 18: the img2img and hires examples took 1 and 14 minutes there)."""

import json
import math
import re
from pathlib import Path

import pytest

from tests.support.factories import make_image, make_model

README = Path(__file__).resolve().parents[2] / "README.md"
# A CPU renders the tiny checkpoint at 256x256 in 10 steps in seconds; the work of a render is its pixels times
# its denoising steps. One tour render may do that, plus a short refinement at 512x512 (a hires fix).
CPU_BUDGET = 256 * 256 * 10 + 512 * 512 * 2
LARGEST_OUTPUT = 512 * 512


def tour():
    text = README.read_text()
    return text[text.index("## A short tour"):text.index("\n## ", text.index("## A short tour") + 1)]


def tour_requests():
    """(path, body) of every POST with a JSON body in the tour, placeholders left in."""
    return [(path, body) for path, body in re.findall(r"curl -X POST \$API(/.+?) -H 'Content-Type: application/json'"
                                                      r"(?: \\\n\s*)? -d '(\{.*?\})'", tour())]


def work(body, default_steps):
    """(pixel-steps denoised, output pixels) of a task body, as the engine runs it (docs/rendering.md)."""
    width, height, steps = body.get("width", 512), body.get("height", 512), body.get("steps", default_steps)
    done = width * height * (math.ceil(steps * body["denoising_strength"]) if "init_image" in body else steps)
    pixels = width * height
    if "hires" in body:
        hires = body["hires"]
        side = (int(width * hires["scale"]) // 8 * 8, int(height * hires["scale"]) // 8 * 8)
        pixels = side[0] * side[1]
        done += pixels * math.ceil((hires.get("steps") or steps) * hires.get("denoising_strength", 0.7))
    return done, pixels


@pytest.mark.django_db
def test_every_tour_render_is_a_valid_request_sized_for_a_cpu(api):
    checkpoint, upscaler = make_model("tiny"), make_model("tiny-up", model_type="upscaler", base_model=None)
    image = make_image()
    values = {"<hash>": checkpoint.hash, "<image hash>": image.hash, "<upscaler hash>": upscaler.hash}
    default_steps = api.get("/api/config").json()["generation"]["default_steps"]
    posted = tour_requests()
    renders = [json.loads(body) for path, body in posted if path == "/tasks"]
    assert len(renders) == 3 and any("init_image" in r for r in renders) and any("hires" in r for r in renders)
    for path, body in posted:
        if path == "/models/add-from-civitai":  # needs the catalogue: tests/civitai
            continue
        for placeholder, value in values.items():
            body = body.replace(placeholder, value)
            path = path.replace(placeholder, value)
        response = api.post_json(f"/api{path}", json.loads(body))
        assert response.status_code in (200, 202), (path, response.content)
    for render in renders:
        done, pixels = work(render, default_steps)
        assert done <= CPU_BUDGET and pixels <= LARGEST_OUTPUT, render
    assert "/images/<image hash>/upscale" in [path for path, _ in posted]
