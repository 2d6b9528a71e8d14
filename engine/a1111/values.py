"""How A1111 writes and reads single values of an infotext: numbers, integers, sizes (plain Python)."""

from __future__ import annotations

import re

INTEGER_TEXT = re.compile(r"[+-]?\d+")
NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
SIZE_TEXT = re.compile(r"^(\d+)x(\d+)$")


def format_number(value: float) -> str:
    """WebUI style: 7.0 -> '7', 6.5 -> '6.5'."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def parse_integer(text: str):
    return int(text) if INTEGER_TEXT.fullmatch(text.strip()) else None


def parse_number(text: str):
    """A number as infotext writes it; integral values come back as int (7, not 7.0), as A1111 reads them."""
    if not NUMBER_TEXT.fullmatch(text.strip()):
        return None
    number = float(text)
    return int(number) if number.is_integer() else number


def parse_size(text: str) -> tuple[int, int] | None:
    match = SIZE_TEXT.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None
