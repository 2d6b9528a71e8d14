"""The A1111 prompt parser (engine/prompts.py) against A1111's own documented examples and edge cases."""

import math
import time

import pytest

from engine.a1111.prompts import (
    BREAK_WEIGHT,
    extract_lora_tags,
    parse_attention,
    prompt_schedule,
    schedule_index,
)
from engine.parameters import MAX_STEPS, PROMPT_MAX_LENGTH


def _close(actual, expected):
    assert [text for text, _ in actual] == [text for text, _ in expected], actual
    for (_, got), (_, want) in zip(actual, expected):
        assert math.isclose(got, want, rel_tol=1e-12), (actual, expected)


ATTENTION = [
    # A1111 parse_prompt_attention docstring examples
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
     [("a ", 1.0), ("house", 1.1 * 1.1 * 1.3), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
      (", sun, ", 1.1), ("sky", 1.1 ** 4), (".", 1.1)]),
    # the examples
    ("a (b:1.5) c", [("a ", 1.0), ("b", 1.5), (" c", 1.0)]),
    ("((a))", [("a", 1.21)]),
    ("[a]", [("a", 1 / 1.1)]),
    ("[[a]]", [("a", 1 / 1.1 / 1.1)]),
    ("\\(a\\)", [("(a)", 1.0)]),
    ("(a:0.5) [b:c:0.3]", [("a", 0.5), (" ", 1.0), ("b:c:0.3", 1 / 1.1)]),
    ("(x:1.0)", [("x", 1.0)]),
    ("a (x:1.0) b", [("a x b", 1.0)]),
    ("(a (b:2) c)", [("a ", 1.1), ("b", 2.2), (" c", 1.1)]),
    ("(a:-1)", [("a", -1.0)]),
    ("(a:.5)", [("a", 0.5)]),
    # unbalanced and stray brackets
    ("a) b] c", [("a) b] c", 1.0)]),
    ("[unbalanced", [("unbalanced", 1 / 1.1)]),
    ("((a)", [("a", 1.21)]),
    ("a:1.2)", [("a:1.2)", 1.0)]),
    ("(a:1.2.3)", [("a:1.2.3)", 1.1)]),
    # escapes: \\ is a backslash, a lone backslash disappears
    ("a \\\\ b", [("a \\ b", 1.0)]),
    ("a \\b", [("a b", 1.0)]),
    ("", [("", 1.0)]),
    # BREAK: a whole upper-case word
    ("a BREAK b", [("a", 1.0), ("BREAK", BREAK_WEIGHT), ("b", 1.0)]),
    ("a break b, BREAKING", [("a break b, BREAKING", 1.0)]),
    ("a,BREAK,b", [("a,", 1.0), ("BREAK", BREAK_WEIGHT), (",b", 1.0)]),
    ("(a) BREAK (b)", [("a", 1.1), ("", 1.0), ("BREAK", BREAK_WEIGHT), ("", 1.0), ("b", 1.1)]),
]


@pytest.mark.parametrize("text, expected", ATTENTION)
def test_parse_attention(text, expected):
    _close(parse_attention(text), expected)


SCHEDULES = [
    # A1111 get_learned_conditioning_prompt_schedules docstring examples (10 steps)
    ("test", [(10, "test")]),
    ("a [b:3]", [(3, "a "), (10, "a b")]),
    ("a [b: 3]", [(3, "a "), (10, "a b")]),
    ("a [[[b]]:2]", [(2, "a "), (10, "a [[b]]")]),
    ("[(a:2):3]", [(3, ""), (10, "(a:2)")]),
    ("a [b : c : 1] d", [(1, "a b  d"), (10, "a  c  d")]),
    ("a[b:[c:d:2]:1]e", [(1, "abe"), (2, "ace"), (10, "ade")]),
    ("a [unbalanced", [(10, "a [unbalanced")]),
    ("a [b:.5] c", [(5, "a  c"), (10, "a b c")]),
    ("((a][:b:c [d:3]", [(3, "((a][:b:c "), (10, "((a][:b:c d")]),
    ("[a|(b:1.1)]", [(i, "a" if i % 2 else "(b:1.1)") for i in range(1, 11)]),
    # the A1111 wiki examples
    ("a [cat:dog:0.5] on a sofa", [(5, "a cat on a sofa"), (10, "a dog on a sofa")]),
    ("a [from::4] x", [(4, "a from x"), (10, "a  x")]),
    ("[a|b|c]", [(i, "abc"[(i - 1) % 3]) for i in range(1, 11)]),
    ("fantasy [mountain:lake:0.25] [shoddy:masterful:0.5]",
     [(2, "fantasy mountain shoddy"), (5, "fantasy lake shoddy"), (10, "fantasy lake masterful")]),
    # a step past the end is clamped; emphasis and escapes inside survive as text
    ("[a:b:25]", [(10, "a")]),
    ("([a:b:5]:1.3) \\(x\\)", [(5, "(a:1.3) \\(x\\)"), (10, "(b:1.3) \\(x\\)")]),
    # an empty alternative (A1111 fails the render) is empty text
    ("x[|a]", [(i, "x" if i % 2 else "xa") for i in range(1, 11)]),
    # what the grammar rejects is one plain prompt
    ("a | b [c:d:2]", [(10, "a | b [c:d:2]")]),
    ("[a:b]", [(10, "[a:b]")]),
    ("a (b:1.2) c", [(10, "a (b:1.2) c")]),
    ("trailing \\", [(10, "trailing \\")]),
]


@pytest.mark.parametrize("prompt, expected", SCHEDULES)
def test_prompt_schedule(prompt, expected):
    assert prompt_schedule(prompt, 10) == expected


def test_absurd_nesting_is_one_plain_prompt():
    prompt = "[" * 5000 + "a:b:3" + "]" * 5000
    assert prompt_schedule(prompt, 10) == [(10, prompt)]
    assert parse_attention("(" * 5000 + "a")[0][0] == "a"


def test_schedule_index_follows_a1111_step_counting():
    schedule = prompt_schedule("a [b:c:3]", 10)  # [(3, 'a b'), (10, 'a c')]
    assert [schedule_index(schedule, step) for step in range(10)] == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]


LORAS = [
    ("a <lora:detail:0.6> b", "a  b", [("lora", "detail", 0.6)]),
    ("<lora:Add Detail>x", "x", [("lora", "Add Detail", 1.0)]),
    ("<lyco:style:1.2:0.5>, y", ", y", [("lyco", "style", 1.2)]),
    ("<hypernet:h:1> <lora:a:0> <lora:b:1.5>", "<hypernet:h:1>  ", [("lora", "a", 0.0), ("lora", "b", 1.5)]),
    ("no tags (a:1.2)", "no tags (a:1.2)", []),
]


@pytest.mark.parametrize("prompt, text, expected", LORAS)
def test_extract_lora_tags(prompt, text, expected):
    stripped, tags = extract_lora_tags(prompt)
    assert stripped == text
    assert [(t.kind, t.name, t.weight) for t in tags] == expected


def test_lora_tag_with_a_bad_weight_is_nan():
    _, [tag] = extract_lora_tags("<lora:x:strong>")
    assert math.isnan(tag.weight) and tag.tag == "<lora:x:strong>"


# -- time linear in the prompt (#23 item 4) ------------------------------------------------------------------------

def _seconds(function, *args) -> float:
    """CPU seconds of one call (this process's: other work on a loaded machine does not count)."""
    started = time.process_time()
    function(*args)
    return time.process_time() - started


@pytest.mark.parametrize("prompt", [
    "a" + " " * 200_000 + "b",             # a whitespace run (BREAK's \s* backtracked over it: 81 s at 100 KB)
    "a " + " " * 100_000 + "BREAK" + " " * 100_000 + "b",
    "(a" * 100_000,                         # brackets left open, closed at the end
    "[a" * 100_000,
    "[a:" * 60_000,
])
def test_parse_attention_is_linear(prompt):
    assert _seconds(parse_attention, prompt) < 2  # minutes before


def test_lora_tags_without_an_end_are_linear():
    prompt = "<lora:" * 40_000 + "x"
    assert _seconds(extract_lora_tags, prompt) < 2
    assert extract_lora_tags(prompt) == (prompt, [])
    assert extract_lora_tags("<a:<lora:x:0.5> y") == ("<a:<lora:x:0.5> y", [])  # A1111's `[^>]+` takes the "<"


def test_worst_nesting_at_the_prompt_length_limit_parses_well_within_a_second():
    """The one quadratic shape left (each closing bracket re-weights every distinct weight inside it) is bounded
    by the prompt length limit enforced at submit."""
    third = PROMPT_MAX_LENGTH // 3
    prompt = "(" * third + "a)" * third
    assert len(prompt) <= PROMPT_MAX_LENGTH
    assert _seconds(parse_attention, prompt) < 0.5
    assert _seconds(prompt_schedule, "[a|b] " * (PROMPT_MAX_LENGTH // 6), MAX_STEPS) < 0.5


def test_weights_are_a1111s_floats():
    """Multiplied factor by factor from the innermost bracket out, as A1111 does, so equal weights merge."""
    assert parse_attention("(((a)b)c)") == [("a", 1.1 * 1.1 * 1.1), ("b", 1.1 * 1.1), ("c", 1.1)]
    assert parse_attention("((a (b) [c]) (d") == [("a ", 1.1 * 1.1), ("b", 1.1 * 1.1 * 1.1), (" ", 1.1 * 1.1),
                                                   ("c ", 1.1), ("d", 1.1 * 1.1)]
    assert parse_attention("a  BREAK\n\tb BREAK") == [("a", 1.0), ("BREAK", BREAK_WEIGHT), ("b", 1.0),
                                                     ("BREAK", BREAK_WEIGHT), ("", 1.0)]
