"""What stored text may contain (docs/input.md): no control characters, except tab, line feed and
carriage return in free text (names, prompts, descriptions, metadata strings); none at all in labels (tag names).

Control characters are Unicode's category Cc: C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F).
NUL breaks SQLite's text functions (LENGTH stops at it), PostgreSQL cannot store it and PNG text chunks
cannot carry it; the others are invisible and mean nothing in a label or a prompt.
"""

import re

from .jsondata import scalars

# Python's `re` and JSON Schema (ECMA-262) read these the same way (OpenAPI `pattern`).
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
LABEL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
# A label that is not blank (a tag name), and free text that is not blank (a name): something besides white space.
NON_BLANK_LABEL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
NON_BLANK_FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# LABEL_PATTERN as a positive class without NUL in the pattern, for database CHECK constraints: PostgreSQL's
# regular expressions and Python's `re` (Django's REGEXP on SQLite, which also sees past a NUL) agree on it.
LABEL_DB_REGEX = r"^[ -~\u00a0-\U0010ffff]*$"

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FREE_TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(text: str, *, line_breaks=True) -> str | None:
    """Why `text` may not be stored (a control character, named with its position), or None.

    `line_breaks` allows tab, line feed and carriage return (free text); labels such as tag names allow none.
    """
    found = (FREE_TEXT_CONTROL_RE if line_breaks else CONTROL_RE).search(text)
    if found is None:
        return None
    return f"contains the control character U+{ord(found.group()):04X} at position {found.start()}"


def json_text_problem(value) -> tuple[tuple, str] | None:
    """(path, problem) of the first string in JSON data (object keys included) that is not valid free text."""
    for path, item in scalars(value):
        if isinstance(item, str) and (problem := control_character_problem(item)):
            return path, problem
    return None
