"""Walking parsed JSON without recursion (request bodies may nest as deep as the parser allows)."""


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


def is_int(value) -> bool:
    """Whether a parsed JSON value is an integer (true and false parse to bool, a kind of int in Python: not integers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def integral(value) -> int | None:
    """`value` as an int when it is an integer or a float with an integral value (A1111's clients send 20.0 for
    20), else None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if is_int(value) else None
