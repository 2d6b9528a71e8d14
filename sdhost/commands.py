"""Shared mechanics of library commands: body limits and shapes, JSON pointers, batch deletes (D11)."""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from . import updates
from .errors import APIError, invalid_request, json_pointer  # noqa: F401 (json_pointer re-exported)


class StrictJSONParser(JSONParser):
    """JSONParser that also turns absurd nesting and lone UTF-16 surrogates into a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON nested too deeply") from None
        except UnicodeEncodeError:
            raise ParseError("JSON string holds a lone UTF-16 surrogate") from None
        return data


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Every API view answers JSON (or a file): an `Accept` header we cannot match, such as
    application/vnd.api+json, still gets the answer, never a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)


class LibraryCommandsMixin:
    """The update and delete actions shared by library entities (models, images), configured per
    ViewSet: `update_target` (an sdhost.updates.UpdateTarget), `delete_entity` (pk -> None, raising APIError),
    `delete_reasons`, `resource_type` (for D11's JSON:API body form) and `noun` ("Model", "Image")."""

    update_target = None
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


def check_body_size(request, limit=None):
    """413 payload_too_large when the declared body length exceeds `limit` (default: Django's body limit)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else limit
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise invalid_request("Content-Length is not a number") from None
    if limit is not None and length > limit:
        raise APIError(413, "payload_too_large", f"Request body of {length} bytes exceeds the limit of {limit} bytes")


def json_object(request) -> dict:
    """The request's JSON body, which must be an object (400 invalid_request otherwise)."""
    check_body_size(request)
    data = request.data
    if not isinstance(data, dict):
        raise invalid_request("Request body must be a JSON object")
    return data


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
