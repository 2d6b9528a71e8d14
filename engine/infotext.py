"""A1111 infotext (the PNG `parameters` chunk) parsing as plain Python (D35).

Follows A1111's `parse_generation_parameters` (modules/infotext_utils.py): the last line holds the
`Key: value` pairs when it has at least three; lines before it are the prompt, up to a line starting with
`Negative prompt:`, after which they are the negative prompt. A value in double quotes is JSON (so it may hold
commas and colons). Unknown keys are kept; nothing here fails on unexpected text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
NEGATIVE_PREFIX = "Negative prompt:"


@dataclass
class Infotext:
    prompt: str = ""
    negative_prompt: str = ""
    params: dict = field(default_factory=dict)  # key -> unquoted value, in the order written


def unquote(value: str) -> str:
    """A1111's unquote: a JSON string literal when the value is one, else the value unchanged."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def quote(value: str) -> str:
    """A1111's quote: JSON-quoted when the value holds a comma, colon or newline."""
    if not any(char in value for char in ",:\n"):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_infotext(text: str) -> Infotext:
    """Prompt, negative prompt and `Key: value` parameters of an A1111 / Forge infotext."""
    *lines, last = text.strip().split("\n")
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PREFIX):
            in_negative = True
            line = line[len(NEGATIVE_PREFIX):].strip()
        (negative if in_negative else prompt).append(line)
    params = {}
    for key, value in _PARAM.findall(last):
        if value:  # A1111 skips a key with an empty value
            params[key] = unquote(value)
    return Infotext("\n".join(prompt), "\n".join(negative), params)


def parse_hash_list(value: str) -> list[tuple[str, str]]:
    """`"name: hash, name2: hash2"` (Lora hashes, TI hashes) as [(name, hash)]; malformed parts are skipped."""
    pairs = []
    for part in value.split(","):
        name, colon, digest = part.rpartition(":")
        if colon and name.strip() and digest.strip():
            pairs.append((name.strip(), digest.strip()))
    return pairs
