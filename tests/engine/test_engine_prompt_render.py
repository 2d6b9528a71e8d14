"""A1111 prompt semantics in real renders (D31-D33): tiny SD1.5 and SDXL checkpoints on the CPU."""

import dataclasses
import io

import pytest
import torch
from PIL import Image

from engine import EmbeddingSpec, LoraSpec, RenderEngine, RenderRequest
from engine.conditioning import encode_prompts
from engine.errors import RenderCancelled
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


class _UNetInputs:
    """What the UNet of a pipeline is given at each sampling step (its text conditioning, and SDXL's pooled
    embedding), and the latents the VAE decodes: read with torch hooks, nothing of the render replaced."""

    def __init__(self, pipe):
        self.pipe, self.steps, self.decoded = pipe, [], []

    def __enter__(self):
        def unet_input(module, args, kwargs):
            pooled = (kwargs.get("added_cond_kwargs") or {}).get("text_embeds")
            self.steps.append((kwargs["encoder_hidden_states"].clone(), None if pooled is None else pooled.clone()))

        def decoder_input(module, args):
            self.decoded.append(args[0].clone())

        self.handles = [self.pipe.unet.register_forward_pre_hook(unet_input, with_kwargs=True),
                        self.pipe.vae.decoder.register_forward_pre_hook(decoder_input)]
        return self

    def __exit__(self, *exc_info):
        for handle in self.handles:
            handle.remove()


def render_inputs(engine, base, prompt) -> _UNetInputs:
    request = dataclasses.replace(base, prompt=prompt)
    with _UNetInputs(engine._checkpoint(base.checkpoint).pipe) as seen:
        engine.render(request)
    assert len(seen.steps) == base.steps and len(seen.decoded) == 1
    return seen


def same_step(a, b) -> bool:
    """Equal conditioning, within float noise: a schedule's texts are encoded as one batch, a plain prompt alone."""
    return all(x is None and y is None or torch.allclose(x, y, atol=1e-5) for x, y in zip(a, b))


def test_prompt_editing_and_alternation_change_the_conditioning_mid_render(engine, base):
    """The UNet gets cat's conditioning (text and pooled) up to the switch and dog's after it, and the final
    latents differ from both plain renders. Compared as tensors, not PNG bytes: with 4 steps of a tiny
    random-weight model the one step after the switch moves the 8-bit image by one level in a pixel or three,
    which rounding on another machine can erase (issue #28)."""
    cat, dog = render_inputs(engine, base, "a photo of a cat"), render_inputs(engine, base, "a photo of a dog")
    assert all((a - b).abs().max() > 1e-2 for a, b in zip(cat.steps[0], dog.steps[0]) if a is not None)
    # 4 steps, switch at 0.5 * 4 = 2: A1111 conditions the 0-based steps 0..2 with cat, the last one with dog
    edited = render_inputs(engine, base, "a photo of a [cat:dog:0.5]")
    assert [same_step(step, cat.steps[0]) for step in edited.steps] == [True, True, True, False]
    assert [same_step(step, dog.steps[0]) for step in edited.steps] == [False, False, False, True]
    for other in (cat, dog):
        assert (edited.decoded[0] - other.decoded[0]).abs().max() > 1e-4
    again = render_inputs(engine, base, "a photo of a [cat:dog:0.5]")
    assert torch.equal(again.decoded[0], edited.decoded[0])
    never = render_inputs(engine, base, "a photo of a [cat:dog:10]")  # past the last step: never switches
    assert all(same_step(step, cat.steps[0]) for step in never.steps)
    assert torch.equal(never.decoded[0], cat.decoded[0])
    # A1111's alternation: schedule entries (1, cat), (2, dog), (3, cat), (4, dog); 0-based step i takes the first
    # entry with i <= its step, so the steps see cat, cat, dog, cat
    alternated = render_inputs(engine, base, "a photo of a [cat|dog]")
    assert [same_step(step, cat.steps[0]) for step in alternated.steps] == [True, True, False, True]
    assert [same_step(step, dog.steps[0]) for step in alternated.steps] == [False, False, True, False]
    for other in (cat, dog, edited):
        assert (alternated.decoded[0] - other.decoded[0]).abs().max() > 1e-4
    # and the PNG of a plain prompt is the same picture as the one whose conditioning never switches
    assert with_prompt(engine, base, "a photo of a [cat:dog:10]") == with_prompt(engine, base, "a photo of a cat")


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


def test_a_cancel_stops_the_conditioning(engine, base):
    """A long prompt with alternation is one text per step, each tokenized and encoded: the render's cancel check
    is polled between them (#23 item 4), so a cancel does not wait for the whole conditioning."""
    pipe = engine._checkpoint(base.checkpoint).pipe
    family = "sdxl" if base.checkpoint.name == "tiny-sdxl" else "sd15"
    polls = []

    def should_cancel():
        polls.append(True)
        return len(polls) >= 3

    with pytest.raises(RenderCancelled):
        encode_prompts(pipe, family, f"{LONG_HEAD} [cat|dog|owl]", "", steps=30, should_cancel=should_cancel)
    assert len(polls) == 3
    kwargs = encode_prompts(pipe, family, "[cat|dog]", "", steps=4, should_cancel=lambda: False).pipeline_kwargs()
    assert kwargs["prompt_embeds"].shape[1] == 77


def test_a_render_cancelled_during_conditioning_runs_no_step(engine, base):
    progress = []
    with pytest.raises(RenderCancelled):
        engine.render(dataclasses.replace(base, prompt="[a|b|c] " * 50), on_progress=lambda *done: progress.append(done),
                      should_cancel=iter([False, False, True]).__next__)
    assert progress == []
