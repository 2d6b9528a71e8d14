"""Tag naming rules (D3) and get-or-create by case-insensitive name, for any tag model with `name` and
`folded` columns (the apps' Tag model is found through their link tables' foreign keys)."""

from .text import control_character_problem

TAG_NAME_MAX = 20


def fold_tag_name(name: str) -> str:
    """The case-insensitive comparison key of a tag name (D3)."""
    return name.casefold()


def tag_name_problem(name):
    """Why `name` is not a valid tag name, or None when it is."""
    if not isinstance(name, str):
        return "Tag names must be strings"
    if not name.strip():
        return "Tag names must not be empty"
    if len(name) > TAG_NAME_MAX:
        return f"Tag name '{name}' is longer than {TAG_NAME_MAX} characters"
    if problem := control_character_problem(name, line_breaks=False):
        return f"Tag name {name!r} {problem}"
    return None


def get_or_create_tags(tag_model, names):
    """The `tag_model` rows for `names` (matched without regard to case), created on first use."""
    tags = []
    seen = set()
    for name in names:
        key = fold_tag_name(name)
        if key in seen:
            continue
        seen.add(key)
        tag = tag_model._default_manager.filter(folded=key).first()
        if tag is None:
            # a concurrent writer may be creating the same tag: its row then wins (PostgreSQL waits for it)
            tag_model._default_manager.bulk_create([tag_model(name=name, folded=key)], ignore_conflicts=True)
            tag = tag_model._default_manager.get(folded=key)
        tags.append(tag)
    return tags
