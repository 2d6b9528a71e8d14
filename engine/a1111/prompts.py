"""A1111 prompt syntax as plain Python (no torch, no Django): emphasis, BREAK, prompt editing, alternation, LoRA tags.

The semantics follow AUTOMATIC1111's `modules/prompt_parser.py` and `modules/extra_networks.py` (D31, D34); the
code is our own. Three steps turn a prompt into what the text encoders see:

1. `extract_lora_tags` removes `<lora:NAME:WEIGHT>` / `<lyco:...>` tags (the worker resolves them to LoRAs).
2. `prompt_schedule` expands prompt editing `[from:to:when]` and alternation `[a|b]` into the texts in force
   up to each sampling step.
3. `parse_attention` splits one such text into (fragment, weight) pairs; `BREAK` pairs carry weight -1.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

ROUND_FACTOR = 1.1
BREAK_WEIGHT = -1.0

_ATTENTION_TOKEN = re.compile(r"""
\\\( | \\\) | \\\[ | \\] | \\\\ | \\ |
\( | \[ | :([+-]?[.\d]+)\) | \) | ] |
[^\\()\[\]:]+ | :
""", re.X)
_BREAK = re.compile(r"\bBREAK\b")


def parse_attention(text: str) -> list[tuple[str, float]]:
    """(fragment, weight) pairs of one prompt text, as A1111's `parse_prompt_attention`.

    `(a)` x1.1, `[a]` /1.1, `(a:w)` xw, `\\(` `\\)` `\\[` `\\]` `\\\\` literal; brackets left open are closed at the
    end; `BREAK` (a whole upper-case word) becomes ("BREAK", -1). Neighbours of equal weight are merged.
    """
    weights = _Weights()
    round_open: list[int] = []
    square_open: list[int] = []
    for match in _ATTENTION_TOKEN.finditer(text):
        token, weight = match.group(0), match.group(1)
        explicit = _float_or_none(weight) if weight is not None else None
        if token.startswith("\\"):
            weights.append(token[1:], 1.0)
        elif token == "(":
            round_open.append(len(weights.texts))
        elif token == "[":
            square_open.append(len(weights.texts))
        elif explicit is not None and round_open:
            weights.multiply_from(round_open.pop(), explicit)
        elif token == ")" and round_open:
            weights.multiply_from(round_open.pop(), ROUND_FACTOR)
        elif token == "]" and square_open:
            weights.multiply_from(square_open.pop(), 1 / ROUND_FACTOR)
        else:
            parts = _BREAK.split(token)
            for index, part in enumerate(parts):
                # the whitespace around a BREAK goes with it (A1111 splits on \s*\bBREAK\b\s*, a pattern that
                # backtracks quadratically over a long run of whitespace)
                if index:
                    weights.append("BREAK", BREAK_WEIGHT)
                    part = part.lstrip()
                if index < len(parts) - 1:
                    part = part.rstrip()
                weights.append(part, 1.0)
    for start in round_open:
        weights.multiply_from(start, ROUND_FACTOR)
    for start in square_open:
        weights.multiply_from(start, 1 / ROUND_FACTOR)
    pieces = weights.pieces() or [("", 1.0)]
    merged = [list(pieces[0])]
    for fragment, weight in pieces[1:]:
        if weight == merged[-1][1]:
            merged[-1][0] += fragment
        else:
            merged.append([fragment, weight])
    return [(fragment, weight) for fragment, weight in merged]


class _Weights:
    """The pieces of a prompt and their weights, multiplied as A1111 does (every piece from a bracket's start on,
    factor by factor, so the floats are A1111's), in time linear in the prompt for unclosed brackets.

    Pieces appended one after another with equal weights share one block, split where a bracket starts: a bracket
    multiplies blocks, not pieces (the cost is blocks x brackets, bounded by the prompt length limit).
    """

    def __init__(self):
        self.texts: list[str] = []
        self.starts: list[int] = []     # the first piece of each block
        self.values: list[float] = []   # the weight of each block's pieces

    def append(self, text: str, weight: float) -> None:
        if not self.values or self.values[-1] != weight:
            self.starts.append(len(self.texts))
            self.values.append(weight)
        self.texts.append(text)

    def multiply_from(self, start: int, factor: float) -> None:
        """Multiplies the weights of the pieces from `start` on."""
        if start >= len(self.texts):
            return
        block = bisect.bisect_right(self.starts, start) - 1
        if self.starts[block] != start:  # split the block at `start`
            block += 1
            self.starts.insert(block, start)
            self.values.insert(block, self.values[block - 1])
        self.values[block:] = [value * factor for value in self.values[block:]]

    def pieces(self) -> list[tuple[str, float]]:
        ends = self.starts[1:] + [len(self.texts)]
        return [(text, value) for start, end, value in zip(self.starts, ends, self.values)
                for text in self.texts[start:end]]


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "(a:1.2.3)": A1111 fails the render; we read the text literally
        return None


# -- prompt editing and alternation ---------------------------------------------------------------------------

@dataclass
class _Edit:
    before: list | None
    after: list
    when: float


@dataclass
class _Alternate:
    options: list


class _Unparsable(Exception):
    pass


_NUMBER = re.compile(r"\s*([+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)")
_SPECIAL = set("\\[]():|")


class _ScheduleParser:
    """Recursive descent over A1111's schedule grammar.

    Inside brackets a prompt is plain text (escapes included), `(…)`, `(…:…)`, `[…]`, `[from:to:when]`,
    `[to:when]` and `[a|b|…]`; at the top level stray `( ) [ ] :` are literal. Emphasis stays as text for
    `parse_attention`. Text the grammar rejects (a `|` outside brackets, a trailing lone backslash) is one
    unscheduled prompt, as in A1111.
    """

    def __init__(self, text: str):
        self.text = text

    def parse(self) -> list:
        items, pos = [], 0
        while pos < len(self.text):
            seq, pos = self._sequence(pos, top=True)
            items += seq
            if pos < len(self.text):
                if self.text[pos] == "|":
                    raise _Unparsable
                items.append(self.text[pos])  # a stray bracket or colon, literal at the top level
                pos += 1
        return items

    def _sequence(self, pos: int, top: bool = False) -> tuple[list, int]:
        """Items from pos up to the first character that ends a bracketed prompt."""
        items = []
        text = self.text
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                if pos + 1 >= len(text):
                    raise _Unparsable
                items.append(text[pos:pos + 2])
                pos += 2
            elif char not in _SPECIAL:
                end = pos
                while end < len(text) and text[end] not in _SPECIAL:
                    end += 1
                items.append(text[pos:end])
                pos = end
            elif char in "([":
                try:
                    node, pos = self._group(pos)
                except _Unparsable:
                    if top:
                        return items, pos
                    raise
                items.append(node)
            else:
                break
        return items, pos

    def _group(self, pos: int) -> tuple[object, int]:
        text = self.text
        opener = text[pos]
        first, pos = self._sequence(pos + 1)
        following = text[pos] if pos < len(text) else ""
        if opener == "(":
            if following == ")":
                return ["(", *first, ")"], pos + 1
            if following == ":":
                second, end = self._sequence(pos + 1)
                if end < len(text) and text[end] == ")":
                    return ["(", *first, ":", *second, ")"], end + 1
            raise _Unparsable
        if following == "]":
            return ["[", *first, "]"], pos + 1
        if following == "|":
            options = [first]
            while pos < len(text) and text[pos] == "|":
                option, pos = self._sequence(pos + 1)
                options.append(option)
            if pos < len(text) and text[pos] == "]":
                return _Alternate(options), pos + 1
            raise _Unparsable
        if following == ":":
            colon = pos
            second, pos = self._sequence(pos + 1)
            if pos < len(text) and text[pos] == "]":  # [to:when]
                number = _NUMBER.fullmatch(text, colon + 1, pos)
                if number:
                    return _Edit(None, first, float(number.group(1))), pos + 1
            elif pos < len(text) and text[pos] == ":":  # [from:to:when]
                number = _NUMBER.match(text, pos + 1)
                if number and number.end() < len(text) and text[number.end()] == "]":
                    return _Edit(first, second, float(number.group(1))), number.end() + 1
        raise _Unparsable


def _edit_steps(items: list, steps: int, found: set) -> None:
    for item in items:
        if isinstance(item, _Edit):
            when = item.when * steps if item.when < 1 else item.when
            item.when = min(steps, int(when))
            found.add(item.when)
            _edit_steps(item.before or [], steps, found)
            _edit_steps(item.after, steps, found)
        elif isinstance(item, _Alternate):
            found.update(range(1, steps + 1))
            for option in item.options:
                _edit_steps(option, steps, found)
        elif isinstance(item, list):
            _edit_steps(item, steps, found)


def _text_at(items: list, step: int) -> str:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, _Edit):
            out.append(_text_at((item.before or []) if step <= item.when else item.after, step))
        elif isinstance(item, _Alternate):
            out.append(_text_at(item.options[(step - 1) % len(item.options)], step))
        else:
            out.append(_text_at(item, step))
    return "".join(out)


def prompt_schedule(prompt: str, steps: int) -> list[tuple[int, str]]:
    """[(last step, text)...] as A1111's `get_learned_conditioning_prompt_schedules` for one prompt.

    A text is in force for the 0-based sampling steps i with i <= its last step, after the previous entry's.
    """
    try:
        items = _ScheduleParser(prompt).parse()
        found = {steps}
        _edit_steps(items, steps, found)
        return [(step, _text_at(items, step)) for step in sorted(found)]
    except (_Unparsable, RecursionError):  # RecursionError: absurdly deep nesting
        return [(steps, prompt)]


def schedule_index(schedule: list[tuple[int, str]], step: int) -> int:
    """Which entry of a schedule conditions the 0-based sampling step `step` (A1111's reconstruct_cond_batch)."""
    for index, (last_step, _) in enumerate(schedule):
        if step <= last_step:
            return index
    return 0


# -- LoRA tags -------------------------------------------------------------------------------------------------

_EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")
LORA_TAG_KINDS = ("lora", "lyco")


@dataclass(frozen=True)
class LoraTag:
    """A `<lora:NAME:WEIGHT>` tag as written (`tag`); a weight that is not a number is NaN."""

    kind: str
    name: str
    weight: float
    tag: str


def extract_lora_tags(prompt: str) -> tuple[str, list[LoraTag]]:
    """The prompt without its LoRA tags, and the tags in order (A1111's `extra_networks.parse_prompt`).

    A weight that is not a number is reported as NaN (the caller rejects it); further `:`-arguments (UNet
    weight, dyn) are ignored. Other extra-network tags (`<hypernet:…>`) stay in the text.
    """
    tags: list[LoraTag] = []

    def take(match: re.Match) -> str:
        kind = match.group(1)
        if kind not in LORA_TAG_KINDS:
            return match.group(0)
        args = match.group(2).split(":")
        weight_text = args[1].strip() if len(args) > 1 else None
        parsed = 1.0 if weight_text is None else _float_or_none(weight_text)
        weight = float("nan") if parsed is None else parsed
        tags.append(LoraTag(kind, args[0].strip(), weight, match.group(0)))
        return ""

    # a tag ends at a ">": searching no further than the last one keeps a prompt full of "<a:" linear
    end = prompt.rfind(">") + 1
    return _EXTRA_NETWORK.sub(take, prompt[:end]) + prompt[end:], tags
