"""The read half of an entity viewset: `list` and `retrieve` through the query engine."""

from rest_framework.response import Response

from core.errors import not_found

from .documents import collection_document, single_document


def get_instance(resource, public_id):
    """The row with this public id; 404 `not_found` when it is unknown or malformed."""
    lookup = resource.id_q(public_id)
    instance = resource.queryset().filter(lookup).first() if lookup is not None else None
    if instance is None:
        raise not_found(f"{resource.type.replace('_', ' ').capitalize()} not found", parameter=None)
    return instance


class ResourceReadMixin:
    """GET on the collection (`list`) and on one entity (`retrieve`) for `resource`."""

    resource = None

    def list(self, request, *args, **kwargs):
        return Response(collection_document(self.resource, request))

    def retrieve(self, request, pk=None, *args, **kwargs):
        return Response(single_document(self.resource, get_instance(self.resource, pk), request))
