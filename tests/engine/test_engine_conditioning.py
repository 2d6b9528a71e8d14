"""A1111's chunking of prompts into 77-token windows (conditioning._Encoder.chunks) with the real CLIP tokenizer."""

import pytest

from engine.conditioning import _Encoder
from engine.tokenizer import clip_tokenizer

BOS, EOS = 49406, 49407


@pytest.fixture(scope="module")
def encoder():
    tokenizer = clip_tokenizer()
    tokenizer.add_tokens(["<sdhost-abc>", "<sdhost-abc>_1", "<sdhost-abc>_2"])
    return _Encoder(tokenizer, None, layer_from_end=1, final_norm=True, pooled=False,
                    convert_prompt=lambda text, tokenizer: text)


def ids(encoder, word):
    [token] = encoder.tokenizer(word, add_special_tokens=False)["input_ids"]
    return token


def content(chunk):
    """The tokens between <start> and the first <end>."""
    tokens = chunk.tokens[1:]
    return tokens[:tokens.index(EOS)]


def test_every_chunk_is_start_75_tokens_end(encoder):
    for prompt in ("", "a cat", " ".join(["cat"] * 200)):
        for chunk in encoder.chunks(prompt):
            assert len(chunk.tokens) == len(chunk.weights) == 77
            assert chunk.tokens[0] == BOS and chunk.tokens[-1] == EOS
    assert [content(c) for c in encoder.chunks("")] == [[]]


def test_long_prompt_without_commas_splits_at_75(encoder):
    cat = ids(encoder, "cat")
    chunks = encoder.chunks(" ".join(["cat"] * 80))
    assert [content(c) for c in chunks] == [[cat] * 75, [cat] * 5]


def test_comma_backtrack_within_20_tokens(encoder):
    cat, dog, comma = ids(encoder, "cat"), ids(encoder, "dog"), ids(encoder, ",")
    near = encoder.chunks(" ".join(["cat"] * 60) + ", " + " ".join(["dog"] * 20))
    assert [content(c) for c in near] == [[cat] * 60 + [comma], [dog] * 20]
    far = encoder.chunks(" ".join(["cat"] * 50) + ", " + " ".join(["dog"] * 30))
    assert [content(c) for c in far] == [[cat] * 50 + [comma] + [dog] * 24, [dog] * 6]


def test_break_and_weights(encoder):
    cat, dog = ids(encoder, "cat"), ids(encoder, "dog")
    chunks = encoder.chunks("(cat:1.5) dog BREAK [dog]")
    assert [content(c) for c in chunks] == [[cat, dog], [dog]]
    assert chunks[0].weights[:4] == [1.0, 1.5, 1.0, 1.0] and chunks[0].weights[4:] == [1.0] * 73
    assert chunks[1].weights[1] == pytest.approx(1 / 1.1)
    assert len(encoder.chunks("a BREAK BREAK b")) == 3


def test_an_embedding_is_never_split_across_chunks(encoder):
    cat = ids(encoder, "cat")
    vectors = [encoder.tokenizer.convert_tokens_to_ids(t) for t in ("<sdhost-abc>", "<sdhost-abc>_1", "<sdhost-abc>_2")]
    chunks = encoder.chunks(" ".join(["cat"] * 74) + " (<sdhost-abc> <sdhost-abc>_1 <sdhost-abc>_2:1.2)")
    assert [content(c) for c in chunks] == [[cat] * 74, vectors]
    assert chunks[1].weights[1:4] == [1.2] * 3
