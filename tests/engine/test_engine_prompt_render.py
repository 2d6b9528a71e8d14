"""A1111 prompt semantics in real renders (D31-D33): tiny SD1.5 and SDXL checkpoints on the CPU."""

import dataclasses
import io

import pytest
import torch
from PIL import Image

from engine import EmbeddingSpec, LoraSpec, RenderEngine, RenderRequest
from engine.conditioning import encode_prompts
from engine.tiny_models import write_model_file
from tests.support.engine import model_file as _model_file

WORDS = "red green blue yellow purple orange black white silver golden".split()
LONG_HEAD = ", ".join(f"{WORDS[i % 10]} {WORDS[(i * 3 + 1) % 10]}" for i in range(27))  # 81 tokens




@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prompt-models")
    files = {"sd15": ("checkpoint", "sd15", 0), "sdxl": ("checkpoint", "sdxl", 6), "lora": ("lora", "sd15", 2),
             "embedding": ("embedding", "sd15", 4), "sdxl_embedding": ("embedding", "sdxl", 8)}
    return {key: _model_file(write_model_file(folder / f"{key}.safetensors", kind=kind, arch=arch, seed=seed),
                             kind, f"tiny-{key}")
            for key, (kind, arch, seed) in files.items()}


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu", cache_size=2)


@pytest.fixture(scope="module", params=["sd15", "sdxl"])
def base(request, models):
    return RenderRequest(checkpoint=models[request.param], prompt="a photo of a cat", width=64, height=64, steps=4,
                         cfg_scale=7.0, sampler="Euler", seed=99)


def pixels(engine, request) -> bytes:
    image = Image.open(io.BytesIO(engine.render(request)[0].png))
    assert len(set(image.getdata())) > 50, request.prompt  # a real picture: no NaN or saturated conditioning
    return image.tobytes()


def with_prompt(engine, base, prompt, **fields):
    return pixels(engine, dataclasses.replace(base, prompt=prompt, **fields))


def test_weight_one_is_plain_text_and_other_weights_are_not(engine, base):
    plain = with_prompt(engine, base, "a photo of a cat")
    assert with_prompt(engine, base, "a photo of a (cat:1.0)") == plain
    assert with_prompt(engine, base, "a photo of a (cat:1.5)") != plain
    assert with_prompt(engine, base, "a photo of a [cat]") != plain
    assert with_prompt(engine, base, "a photo of a \\(cat\\)") != with_prompt(engine, base, "a photo of a (cat)")


def test_words_after_the_77th_token_change_the_image(engine, base):
    first = with_prompt(engine, base, f"{LONG_HEAD}, sunset over the sea")
    second = with_prompt(engine, base, f"{LONG_HEAD}, a knight in armour")
    assert first != second


def test_break_position_matters(engine, base):
    assert (with_prompt(engine, base, "a cat BREAK sitting on a sofa")
            != with_prompt(engine, base, "a cat sitting BREAK on a sofa"))
    assert (with_prompt(engine, base, "a cat BREAK sitting on a sofa")
            != with_prompt(engine, base, "a cat sitting on a sofa"))


def test_prompt_editing_and_alternation_change_the_conditioning_mid_render(engine, base):
    cat, dog = with_prompt(engine, base, "a photo of a cat"), with_prompt(engine, base, "a photo of a dog")
    edited = with_prompt(engine, base, "a photo of a [cat:dog:0.5]")
    assert edited not in (cat, dog)
    assert with_prompt(engine, base, "a photo of a [cat:dog:0.5]") == edited
    assert with_prompt(engine, base, "a photo of a [cat:dog:10]") == cat  # past the last step: never switches
    assert with_prompt(engine, base, "a photo of a [cat|dog]") not in (cat, dog, edited)


def test_negative_prompt_longer_than_the_prompt(engine, base):
    short_negative = with_prompt(engine, base, "a cat", negative_prompt="blurry")
    long_negative = with_prompt(engine, base, "a cat", negative_prompt=f"{LONG_HEAD}, blurry")
    assert short_negative != long_negative


def test_clip_skip(engine, base):
    one = engine.render(base)[0]
    two = engine.render(dataclasses.replace(base, clip_skip=2))[0]
    assert "Clip skip" not in one.parameters and ", Clip skip: 2" in two.parameters
    same_pixels = Image.open(io.BytesIO(one.png)).tobytes() == Image.open(io.BytesIO(two.png)).tobytes()
    # SD1.x: the penultimate layer; SDXL follows A1111's default and always uses the penultimate layers
    assert same_pixels == (base.checkpoint.name == "tiny-sdxl")


def test_batch_matches_single_renders_with_long_weighted_edited_prompt(engine, base):
    prompt = f"({LONG_HEAD}:1.2), a [cat:dog:0.5] BREAK (sofa:0.8)"
    request = dataclasses.replace(base, prompt=prompt, seed=500, batch_size=2, clip_skip=2)
    batch = [Image.open(io.BytesIO(image.png)) for image in engine.render(request)]
    alone = Image.open(io.BytesIO(engine.render(dataclasses.replace(request, seed=501, batch_size=1))[0].png))
    diff = max(abs(a - b) for pa, pb in zip(alone.getdata(), batch[1].getdata()) for a, b in zip(pa, pb))
    assert diff <= 2


def test_embedding_trigger_works_weighted_and_after_the_first_chunk(engine, base, models):
    key = "sdxl_embedding" if base.checkpoint.name == "tiny-sdxl" else "embedding"
    spec = EmbeddingSpec(models[key], token="kitty")
    for prompt in ("a photo of a (kitty:1.3)", f"{LONG_HEAD}, a photo of a kitty"):
        loaded = with_prompt(engine, base, prompt, embeddings=(spec,))
        assert loaded != with_prompt(engine, base, prompt)
    assert (with_prompt(engine, base, "a photo of a (kitty:1.3)", embeddings=(spec,))
            != with_prompt(engine, base, "a photo of a kitty", embeddings=(spec,)))


def test_inline_lora_tag_is_not_text(engine, models):
    request = RenderRequest(checkpoint=models["sd15"], prompt="a photo of a cat", width=64, height=64, steps=3,
                            sampler="Euler", seed=3, loras=(LoraSpec(models["lora"], 0.8),))
    tagged = dataclasses.replace(request, prompt="a photo of a cat <lora:tiny-lora:0.8>")
    assert pixels(engine, tagged) == pixels(engine, request)
    assert engine.render(tagged)[0].parameters.startswith("a photo of a cat <lora:tiny-lora:0.8>\n")


def test_plain_short_prompt_conditions_exactly_like_diffusers(engine, base):
    """Our chunked path, for a prompt that fits one chunk, is diffusers' own encoding."""
    pipe = engine._checkpoint(base.checkpoint).pipe
    sdxl = base.checkpoint.name == "tiny-sdxl"
    ours = encode_prompts(pipe, "sdxl" if sdxl else "sd15", "a photo of a cat", "blurry", steps=4).pipeline_kwargs()
    with torch.no_grad():
        if sdxl:
            theirs = pipe.encode_prompt("a photo of a cat", device="cpu", negative_prompt="blurry")
            names = ("prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds")
        else:
            theirs = pipe.encode_prompt("a photo of a cat", "cpu", 1, True, negative_prompt="blurry")
            names = ("prompt_embeds", "negative_prompt_embeds")
    for name, expected in zip(names, theirs):
        assert torch.allclose(ours[name], expected, atol=1e-6), name


def test_long_prompt_shapes_are_whole_chunks(engine, base):
    pipe = engine._checkpoint(base.checkpoint).pipe
    family = "sdxl" if base.checkpoint.name == "tiny-sdxl" else "sd15"
    kwargs = encode_prompts(pipe, family, f"{LONG_HEAD} BREAK tail", "", steps=4).pipeline_kwargs()
    assert kwargs["prompt_embeds"].shape[1] == 3 * 77  # 81 tokens -> two chunks (comma backtrack), BREAK -> third
    assert kwargs["negative_prompt_embeds"].shape == kwargs["prompt_embeds"].shape
    if family == "sdxl":  # an empty negative prompt is zeros, as A1111 does for SDXL
        assert not kwargs["negative_prompt_embeds"].any() and not kwargs["negative_pooled_prompt_embeds"].any()
