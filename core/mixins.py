"""ViewSet mixins for the write actions shared by library entities."""

from rest_framework.response import Response

from . import updates
from .bodies import json_object
from .errors import APIError, invalid_request, json_pointer
from .jsonapi import get_instance, single_document
from .jsonapi.writes import moved_pointer, update_from_document


class ResourceUpdateMixin:
    """JSON:API's update form, `PATCH` with a resource document, for a ViewSet with `resource` (the JSON:API
    Resource, from ResourceReadMixin) and `update_target` (a core.updates.UpdateTarget)."""

    update_target = None

    def patch_one(self, request, pk):
        """The document is mapped onto the D3 update and applied by `update_one`'s path; answers the updated resource
        document, with `meta.updated_fields` as in the POST form's answer."""
        update, pointers = update_from_document(json_object(request), self.resource, self.update_target, pk)
        try:
            result = updates.update_one(self.update_target, pk, update)
        except APIError as exc:
            raise moved_pointer(exc, pointers) from None
        document = single_document(self.resource, get_instance(self.resource, pk))
        document["meta"] = {"updated_fields": result["updated_fields"]}
        return Response(document)


class LibraryActionsMixin(ResourceUpdateMixin):
    """The update and delete actions shared by library entities (models, images), configured per
    ViewSet: `update_target` (an core.updates.UpdateTarget), `delete_entity` (pk -> None, raising APIError),
    `delete_reasons`, `resource_type` (for D11's JSON:API body form) and `noun` ("Model", "Image")."""

    delete_entity = None
    delete_reasons = None
    resource_type = ""
    noun = ""

    def update_one(self, request, pk):
        return Response(updates.update_one(self.update_target, pk, json_object(request)))

    def batch_update(self, request):
        return Response(updates.update_many(self.update_target, json_object(request)))

    def destroy_one(self, request, pk):
        self.delete_entity(pk)
        return Response({"success": True, "message": f"{self.noun} deleted successfully"})

    def batch_destroy(self, request):
        ids = hashes_to_delete(json_object(request), self.resource_type)
        return Response(batch_delete(ids, self.delete_entity, self.delete_reasons))


def hashes_to_delete(body: dict, type_name: str) -> list:
    """The ids of a batch delete body, in either D11 form, without duplicates, in request order.

    `{"hashes": ["..."]}` or `{"data": [{"type": type_name, "id": "..."}]}` (JSON:API `meta`/`jsonapi`
    members are tolerated); anything else is a 400.
    Ids are not checked against the database here (unknown ones are reported per hash by the caller).
    """
    forms = [key for key in ("hashes", "data") if key in body]
    if len(forms) != 1 or set(body) - {forms[0], "meta", "jsonapi"}:
        raise invalid_request(f'Body must be {{"hashes": [...]}} or {{"data": [{{"type": "{type_name}", "id": ...}}]}}')
    form = forms[0]
    items = body[form]
    if not isinstance(items, list):
        raise invalid_request(f"'{form}' must be an array", pointer=json_pointer(form))
    ids = []
    for index, item in enumerate(items):
        if form == "data":
            if not isinstance(item, dict):
                raise invalid_request("Each entry must be a resource identifier object", pointer=json_pointer("data", index))
            if item.get("type") != type_name:
                raise invalid_request(f"Resource type must be '{type_name}'", pointer=json_pointer("data", index, "type"))
            item = item.get("id")
            pointer = json_pointer("data", index, "id")
        else:
            pointer = json_pointer("hashes", index)
        if not isinstance(item, str):
            raise invalid_request("Each id must be a string", pointer=pointer)
        ids.append(item)
    return list(dict.fromkeys(ids))


def batch_delete(ids, delete_one, reasons: dict) -> dict:
    """Delete each id with `delete_one(id)`; an APIError is reported per id with `reasons[error.code]`.

    Answers {"deleted": [...], "failed": [{"hash", "reason"}], "count": n}.
    """
    deleted, failed = [], []
    for pk in ids:
        try:
            delete_one(pk)
        except APIError as exc:
            if exc.code not in reasons:
                raise
            failed.append({"hash": pk, "reason": reasons[exc.code]})
        else:
            deleted.append(pk)
    return {"deleted": deleted, "failed": failed, "count": len(deleted)}
