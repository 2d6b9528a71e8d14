"""Tag naming rules (D3) and get-or-create by case-insensitive name."""

from system_app.models import TAG_NAME_MAX, Tag, fold_tag_name


def tag_name_problem(name):
    """Why `name` is not a valid tag name, or None when it is."""
    if not isinstance(name, str):
        return "Tag names must be strings"
    if not name.strip():
        return "Tag names must not be empty"
    if len(name) > TAG_NAME_MAX:
        return f"Tag name '{name}' is longer than {TAG_NAME_MAX} characters"
    return None


def get_or_create_tags(names):
    """The Tag rows for `names` (matched without regard to case), created on first use."""
    tags = []
    seen = set()
    for name in names:
        key = fold_tag_name(name)
        if key in seen:
            continue
        seen.add(key)
        tag = Tag.objects.filter(folded=key).first()
        if tag is None:
            tag = Tag(name=name)
            tag.save()
        tags.append(tag)
    return tags
