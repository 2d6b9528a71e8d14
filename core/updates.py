"""The D3 metadata update engine, shared by models and images.

An `UpdateTarget` describes one entity: its writable attributes (each with a cleaner), its tag
link table and the timestamp it maintains. Every key of an update object is one of:

- a writable attribute -> cleaned and set (a wrong type is a 400 naming the key);
- `tags` -> replaces the whole tag set; `tag_<name>: true|false` -> adds/removes one tag; `tags` applies first,
  then the flags, whatever the key order (docs/library.md);
- `data` -> 400: a JSON:API resource document, which goes to PATCH (core/jsonapi/writes.py), never into metadata;
- a read-only attribute (D24) -> 400 naming the key (every other key too, for an entity without metadata: tasks);
- anything else -> merged into `metadata` (`null` deletes the key); keys match [A-Za-z0-9_]{1,64}; the keys the
  application reads (`UpdateTarget.metadata_checks`, e.g. a model's `prediction_type`) have their values checked.

Bodies are validated completely before anything is written, and applied in one transaction, so
an error changes nothing.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from django.db.models import Q

from core.content_store import is_sha256
from core.errors import invalid_request, json_pointer, not_found
from core.metadata import METADATA_KEY_RE
from core.tags import fold_tag_name, get_or_create_tags, tag_name_problem
from core.text import control_character_problem, json_text_problem
from core.writes import write_transaction

# D24 plus the resource-object members that can never be metadata.
READ_ONLY_KEYS = frozenset({
    "hash", "size", "status", "model_type", "width", "height", "seed", "task_id", "created_at", "updated_at",
    "type", "id", "metadata", "attributes", "relationships",
})
TAG_KEY_PREFIX = "tag_"
# JSON:API's top-level member: `{"data": {...}}` sent to a D3 endpoint is a resource document, not metadata
DOCUMENT_KEY = "data"


def document_key_refusal(pointer):
    return invalid_request(
        "'data' is not an update key: a JSON:API resource document ({\"data\": {\"type\", \"id\", \"attributes\"}}) "
        "is sent with PATCH to the resource's URL; a D3 update is a plain object of keys", pointer=pointer)


class InvalidValue(ValueError):
    """A cleaner's refusal; the message becomes the error detail."""


@dataclass(frozen=True)
class UpdateTarget:
    """How D3 applies to one entity kind."""

    label: str  # "Model" / "Image": used in messages ("Model not found")
    model: type  # ORM class whose primary key is the hash
    tag_link: type  # through-model of the entity's tags
    tag_link_field: str  # its foreign key to the entity
    writable: dict = field(default_factory=dict)  # attribute -> cleaner(value) -> stored value
    read_only: frozenset = READ_ONLY_KEYS
    touch: str | None = None  # timestamp field that follows every change
    metadata: bool = True  # whether other keys go to a `metadata` object (False: they are refused as read-only)
    pk_check: Callable = is_sha256  # whether a primary key is well formed (others are simply not found)
    # metadata keys the application reads, each with a check of its value (InvalidValue: a 400 naming the key);
    # null still deletes the key
    metadata_checks: dict = field(default_factory=dict)


@dataclass
class UpdatePlan:
    """A validated update object, ready to apply to any instance."""

    keys: list = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    tag_ops: list = field(default_factory=list)  # ("set"|"add"|"remove", [names])
    metadata: dict = field(default_factory=dict)  # key -> value, None deletes


# --- cleaners for writable attributes ---------------------------------------------------------

def non_empty_string(value):
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("must be a non-empty string")
    return free_text(value)


def optional_string(max_length=None) -> Callable:
    def clean(value):
        if value is not None and not isinstance(value, str):
            raise InvalidValue("must be a string or null")
        if value is not None and max_length is not None and len(value) > max_length:
            raise InvalidValue(f"must be at most {max_length} characters")
        return value if value is None else free_text(value)
    return clean


def free_text(value: str) -> str:
    """`value`, if it holds no control character but tab, line feed and carriage return (docs/input.md)."""
    if problem := control_character_problem(value):
        raise InvalidValue(problem)
    return value


def reference_or_null(model, label) -> Callable:
    """Cleaner for a hash naming a stored `model` row (or null); returns the instance."""
    def clean(value):
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidValue(f"must be the hash of a stored {label} or null")
        instance = model.objects.filter(pk=value).first() if is_sha256(value) else None
        if instance is None:
            raise InvalidValue(f"no stored {label} has hash '{value}'")
        return instance
    return clean


# --- validation --------------------------------------------------------------------------------

def validate_update(target: UpdateTarget, update, prefix=()) -> UpdatePlan:
    """Check one update object against D3/D24; raise a 400 whose pointer names the offending key."""
    if not isinstance(update, dict):
        raise invalid_request("An update must be a JSON object", pointer=json_pointer(*prefix) or None)
    plan = UpdatePlan()
    replace, flags = [], []  # tag operations: `tags` first, then the flags, whatever the key order
    for key, value in update.items():
        pointer = json_pointer(*prefix, key)
        if key == DOCUMENT_KEY:
            raise document_key_refusal(pointer)
        if key in target.writable:
            try:
                plan.attributes[key] = target.writable[key](value)
            except InvalidValue as exc:
                raise invalid_request(f"'{key}' {exc}", pointer=pointer) from None
        elif key == "tags":
            if not isinstance(value, list):
                raise invalid_request("'tags' must be an array of tag names", pointer=pointer)
            for name in value:
                if problem := tag_name_problem(name):
                    raise invalid_request(problem, pointer=pointer)
            replace.append(("set", value))
        elif key.startswith(TAG_KEY_PREFIX):
            name = key[len(TAG_KEY_PREFIX):]
            if problem := tag_name_problem(name):
                raise invalid_request(problem, pointer=pointer)
            if not isinstance(value, bool):
                raise invalid_request(f"'{key}' must be true or false", pointer=pointer)
            flags.append(("add" if value else "remove", [name]))
        elif key in target.read_only or not target.metadata:
            raise invalid_request(f"'{key}' is read-only", pointer=pointer)
        elif not METADATA_KEY_RE.fullmatch(key):
            raise invalid_request(
                f"Metadata key '{key}' must be 1-64 characters of letters, digits and '_'", pointer=pointer
            )
        else:
            if found := json_text_problem(value):
                path, problem = found
                raise invalid_request(f"Metadata '{key}' {problem}", pointer=json_pointer(*prefix, key, *path))
            if value is not None and key in target.metadata_checks:
                try:
                    target.metadata_checks[key](value)
                except InvalidValue as exc:
                    raise invalid_request(f"Metadata '{key}' {exc}", pointer=pointer) from None
            plan.metadata[key] = value
        plan.keys.append(key)
    plan.tag_ops = replace + flags
    return plan


# --- application -------------------------------------------------------------------------------

def apply_update(target: UpdateTarget, instance, plan: UpdatePlan, *, tags=True) -> None:
    """Write a validated plan to `instance` (call inside a transaction); `tags=False` leaves its tag operations to
    the caller (`apply_tag_ops` for many entities at once)."""
    if not plan.keys:
        return
    update_fields = []
    for name, value in plan.attributes.items():
        setattr(instance, name, value)
        update_fields.append(name)
    if plan.metadata:
        metadata = dict(instance.metadata or {})
        for key, value in plan.metadata.items():
            if value is None:
                metadata.pop(key, None)
            else:
                metadata[key] = value
        instance.metadata = metadata
        update_fields.append("metadata")
    if plan.tag_ops and tags:
        apply_tag_ops(target, [(instance, plan.tag_ops)])
    if target.touch:
        update_fields.append(target.touch)  # auto_now fields refresh on save()
    if update_fields:
        instance.save(update_fields=update_fields)


def apply_tag_ops(target: UpdateTarget, changes) -> None:
    """Replace/add/remove tags of several entities, `changes` = [(instance, ops)], each in body order; names compare
    case-insensitively, tags are created on first use. A fixed number of statements for the whole batch."""
    link, field = target.tag_link, target.tag_link_field
    tag_model = link._meta.get_field("tag").related_model
    current = defaultdict(dict)
    rows = link.objects.filter(**{f"{field}__in": [instance.pk for instance, _ in changes]})
    for pk, folded, name in rows.values_list(field, "tag__folded", "tag__name"):
        current[pk][folded] = name
    removed_by_tag, added = defaultdict(list), []
    for instance, ops in changes:
        have = current[instance.pk]
        wanted = dict(have)
        for op, names in ops:
            if op == "set":
                wanted = {}
            for name in names:
                key = fold_tag_name(name)
                if op == "remove":
                    wanted.pop(key, None)
                else:
                    wanted.setdefault(key, have.get(key, name))
        for key in have.keys() - wanted.keys():
            removed_by_tag[key].append(instance.pk)
        added += [(instance, name) for key, name in wanted.items() if key not in have]
    if removed_by_tag:
        removals = Q()
        for key, pks in removed_by_tag.items():
            removals |= Q(tag__folded=key, **{f"{field}__in": pks})
        link.objects.filter(removals).delete()
    tags = {tag.folded: tag for tag in get_or_create_tags(tag_model, [name for _, name in added])}
    link.objects.bulk_create(link(**{field: instance, "tag": tags[fold_tag_name(name)]}) for instance, name in added)


# --- the two request forms ---------------------------------------------------------------------

def update_one(target: UpdateTarget, pk, update) -> dict:
    """POST /api/<entity>/{hash}: {"success": true, "updated_fields": [...]}."""
    def write():
        instance = target.model.objects.select_for_update().filter(pk=pk).first() if target.pk_check(pk) else None
        if instance is None:
            raise not_found(f"{target.label} {pk} not found")
        plan = validate_update(target, update)
        apply_update(target, instance, plan)
        return plan

    plan = write_transaction(write, tags=writes_tags(update))
    return {"success": True, "updated_fields": plan.keys}


def update_many(target: UpdateTarget, body: dict) -> dict:
    """POST /api/<entity>: {hash: update, ...} -> {"success": [hashes], "failed": [{"hash", "error"}]}.

    The whole body is validated before anything is written; unknown hashes are reported, not errors.
    """
    if DOCUMENT_KEY in body:
        raise document_key_refusal(json_pointer(DOCUMENT_KEY))
    plans = {pk: validate_update(target, update, prefix=(pk,)) for pk, update in body.items()}

    def write():
        known = locked(target.model, [pk for pk in plans if is_sha256(pk)])
        success, failed = [], []
        tag_changes = []
        for pk, plan in plans.items():
            instance = known.get(pk)
            if instance is None:
                failed.append({"hash": pk, "error": f"{target.label} not found"})
                continue
            apply_update(target, instance, plan, tags=False)
            if plan.tag_ops:
                tag_changes.append((instance, plan.tag_ops))
            success.append(pk)
        if tag_changes:
            apply_tag_ops(target, tag_changes)
        return {"success": success, "failed": failed}

    return write_transaction(write, tags=any(plan.tag_ops for plan in plans.values()))


def writes_tags(update) -> bool:
    """Whether an update object (not validated yet: a refused one writes nothing) has tag operations."""
    return isinstance(update, dict) and any(key == "tags" or key.startswith(TAG_KEY_PREFIX) for key in update)


def locked(model, pks) -> dict:
    """The rows of `pks` by pk, locked until the transaction ends (PostgreSQL; SQLite writers take turns anyway)
    in pk order, so concurrent batches wait for each other instead of reading the same tags and adding twice."""
    return {row.pk: row for row in model.objects.select_for_update().filter(pk__in=pks).order_by("pk")}
