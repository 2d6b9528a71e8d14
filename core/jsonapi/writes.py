"""JSON:API's own update form: `PATCH /api/<collection>/{id}` with a resource document, mapped onto the D3 update
object (core/updates.py), so that it takes the very same path (validation, transaction, triggers) as the POST form.

The mapping (docs/library.md, "PATCH with a JSON:API document"):

- `data.type` must be the resource's type and `data.id` the id in the URL: 409 `conflict` otherwise (JSON:API);
- every key of `data.attributes` is the D3 key of the same name (`name`, `description`, ..., any other key is
  metadata), except `metadata`, whose object is spread into metadata keys (merged, `null` deleting one);
- `data.relationships.tags` (to-many linkage of `tag` identifiers, whose ids are tag names) is D3's `tags`
  (replaces the set); a writable to-one relationship (a model's `cover_image`) is the D3 key of its name, with the
  linked id or null. Other relationships are read-only (400).

Errors keep D3's wording, their pointer moved to where the key sits in the document (`/data/attributes/name`).
"""

from core.errors import APIError, invalid_request, json_pointer
from core.updates import DOCUMENT_KEY, TAG_KEY_PREFIX

DOCUMENT_MEMBERS = {"data", "meta", "jsonapi"}
RESOURCE_MEMBERS = {"type", "id", "attributes", "relationships", "meta", "links"}


def conflict(detail, pointer):
    return APIError(409, "conflict", detail, pointer=pointer)


def resource_object_of(document, resource, public_id):
    """The `data` resource object of a PATCH document, checked to name the resource of the URL (400 / 409)."""
    if "data" not in document:
        raise invalid_request("A JSON:API update is a resource document: {\"data\": {\"type\", \"id\", \"attributes\"}}",
                              pointer="/data")
    for key in document:
        if key not in DOCUMENT_MEMBERS:
            raise invalid_request(f"'{key}' is not a member of a JSON:API update document", pointer=json_pointer(key))
    data = document["data"]
    if not isinstance(data, dict):
        raise invalid_request("'data' must be a resource object", pointer="/data")
    for key in data:
        if key not in RESOURCE_MEMBERS:
            raise invalid_request(f"'{key}' is not a member of a resource object", pointer=json_pointer("data", key))
    for path in (("meta",), ("jsonapi",), ("data", "meta"), ("data", "links")):  # tolerated, ignored, objects
        holder = document if len(path) == 1 else data
        if path[-1] in holder and not isinstance(holder[path[-1]], dict):
            raise invalid_request(f"'{path[-1]}' must be an object", pointer=json_pointer(*path))
    identify(data, resource.type, public_id)
    return data


def update_from_document(document, resource, target, public_id):
    """(D3 update object, {D3 key: pointer of its place in the document}) for a PATCH `document` of `resource`.

    `target` is the resource's core.updates.UpdateTarget: it tells writable relationships and which keys D3 reads
    as metadata. Raises a 400 invalid_request or a 409 conflict naming the member at fault."""
    data = resource_object_of(document, resource, public_id)
    update, pointers = {}, {}

    def put(key, value, pointer):
        if key in update:
            raise invalid_request(f"'{key}' is given twice (at {pointers[key]} and {pointer})", pointer=pointer)
        update[key], pointers[key] = value, pointer

    attributes = member_object(data, "attributes")
    for key, value in attributes.items():
        pointer = json_pointer("data", "attributes", key)
        if key in resource.relationships:
            raise invalid_request(f"'{key}' is a relationship: send it in data.relationships", pointer=pointer)
        if resource.metadata and key == resource.metadata:
            if not isinstance(value, dict):
                raise invalid_request(f"'{key}' must be an object of metadata keys", pointer=pointer)
            for meta_key, meta_value in value.items():
                meta_pointer = json_pointer("data", "attributes", key, meta_key)
                if not is_metadata_key(target, meta_key):
                    raise invalid_request(
                        f"'{meta_key}' is not a metadata key here; set it as data.attributes.{meta_key}", meta_pointer)
                put(meta_key, meta_value, meta_pointer)
        else:
            put(key, value, pointer)
    relationships = member_object(data, "relationships")
    for name, relationship in relationships.items():
        pointer = json_pointer("data", "relationships", name)
        declared = resource.relationships.get(name)
        if declared is None:
            raise invalid_request(f"'{name}' is not a relationship of {resource.type}", pointer=pointer)
        if name != resource.tags and name not in target.writable:
            raise invalid_request(f"Relationship '{name}' is read-only", pointer=pointer)
        if not isinstance(relationship, dict) or "data" not in relationship:
            raise invalid_request(f"Relationship '{name}' must be an object with 'data'", pointer=pointer)
        linkage = relationship["data"]
        if declared.many:
            if not isinstance(linkage, list):
                raise invalid_request(f"'{name}' is to-many: its data must be an array of resource identifiers",
                                      pointer=pointer + "/data")
            ids = [linked_id(item, declared.target, f"{pointer}/data/{index}") for index, item in enumerate(linkage)]
            put("tags" if name == resource.tags else name, ids, pointer + "/data")
        elif linkage is None:
            put(name, None, pointer + "/data")
        else:
            put(name, linked_id(linkage, declared.target, pointer + "/data"), pointer + "/data")
    return update, pointers


def identify(data, type_name, public_id):
    """`type` and `id` present, strings, and naming the resource of the URL (409 otherwise)."""
    for member in ("type", "id"):
        if not isinstance(data.get(member), str):
            raise invalid_request(f"The resource object needs '{member}' (a string)", pointer=f"/data/{member}")
    if data["type"] != type_name:
        raise conflict(f"Resource type '{data['type']}' does not match this endpoint's type '{type_name}'",
                       "/data/type")
    if data["id"] != public_id:
        raise conflict(f"Resource id '{data['id']}' does not match the id in the URL '{public_id}'", "/data/id")


def member_object(data, member):
    value = data.get(member, {})
    if not isinstance(value, dict):
        raise invalid_request(f"'{member}' must be an object", pointer=json_pointer("data", member))
    return value


def linked_id(identifier, type_name, pointer):
    """The id of a resource identifier object of `type_name`."""
    if not isinstance(identifier, dict) or not isinstance(identifier.get("id"), str) \
            or not isinstance(identifier.get("type"), str):
        raise invalid_request("A resource identifier is {\"type\": ..., \"id\": ...} with string members",
                              pointer=pointer)
    if identifier["type"] != type_name:
        raise conflict(f"Linked resource type '{identifier['type']}' must be '{type_name}'", pointer + "/type")
    return identifier["id"]


def is_metadata_key(target, key):
    """Whether D3 reads `key` as a metadata key of `target` (not an attribute, tag operation or reserved key)."""
    return not (key in target.writable or key in target.read_only or key == "tags" or key.startswith(TAG_KEY_PREFIX)
                or key == DOCUMENT_KEY)


def moved_pointer(error, pointers):
    """`error` (an APIError from the D3 update) with its pointer moved into the document; other errors unchanged."""
    pointer = getattr(error, "pointer", None)
    if not pointer:
        return error
    head, _, rest = pointer[1:].partition("/")
    key = head.replace("~1", "/").replace("~0", "~")
    if key in pointers:
        error.pointer = pointers[key] + ("/" + rest if rest else "")
    return error
