"""Walking parsed JSON without recursion (request bodies may nest as deep as the parser allows), and reading its
numbers."""

import re

DIGITS_RE = re.compile(r"\s*([0-9]{1,19})\s*")
INT64_MAX = 2**63 - 1


def scalars(data):
    """(path, item) for every object key and every non-container value of `data`, in document order.

    A key comes with the path of its member, just before that member's value(s)."""
    stack = [((), data, False)]
    while stack:
        path, value, is_key = stack.pop()
        if is_key:
            yield path, value
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                stack.append(((*path, key), item, False))
                stack.append(((*path, key), key, True))
        elif isinstance(value, list):
            stack.extend(((*path, index), item, False) for index, item in reversed(list(enumerate(value))))
        else:
            yield path, value


def too_deep(data, limit: int) -> tuple | None:
    """The path of the first object or array of `data` nested more than `limit` levels deep (`data` itself is level
    1), or None. Each item holds a link to its parent (not a copy of its path): memory linear in the body."""
    stack = [(None, data, 1)]
    while stack:
        link, value, level = stack.pop()
        if isinstance(value, (dict, list)):
            if level > limit:
                path = []
                while link is not None:
                    link, key = link
                    path.append(key)
                return tuple(reversed(path))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(((link, key), item, level + 1) for key, item in reversed(list(items)))
    return None


def is_int(value) -> bool:
    """Whether a parsed JSON value is an integer (true and false parse to bool, a kind of int in Python: not integers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def digits_value(text: str) -> int | None:
    """The int that a string of ASCII digits (whitespace around them allowed) stands for, when it fits a signed
    64-bit integer; else None. Not `text.isdigit()` then `int(text)`: isdigit() also takes "²" (which int() refuses)
    and any number of digits (int() refuses more than 4,300)."""
    match = DIGITS_RE.fullmatch(text)
    value = int(match.group(1)) if match else None
    return value if value is not None and value <= INT64_MAX else None


def integral(value) -> int | None:
    """`value` as an int when it is an integer or a float with an integral value (A1111's clients send 20.0 for
    20), else None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if is_int(value) else None
