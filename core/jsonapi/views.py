"""The read half of an entity viewset: `list` and `retrieve` through the query engine, on DRF's extension
points (filter backend, pagination class) like any generic DRF view."""

from rest_framework.response import Response

from core.errors import not_found

from .documents import collection_data, single_document
from .filters import JSONAPIFilterBackend, jsonapi_query
from .pagination import JSONAPIPagination


def get_instance(resource, public_id):
    """The row with this public id; 404 `not_found` when it is unknown or malformed."""
    lookup = resource.id_q(public_id)
    instance = resource.queryset().filter(lookup).first() if lookup is not None else None
    if instance is None:
        raise not_found(f"{resource.type.replace('_', ' ').capitalize()} not found", parameter=None)
    return instance


class ResourceReadMixin:
    """GET on the collection (`list`) and on one entity (`retrieve`) for `resource`; mix into a GenericViewSet."""

    resource = None
    filter_backends = [JSONAPIFilterBackend]
    pagination_class = JSONAPIPagination

    def get_queryset(self):
        """The resource's rows, with the computed attributes its sparse fieldset shows."""
        query = jsonapi_query(self.request, self.resource)
        return self.resource.queryset(query.fields.get(self.resource.type))

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(collection_data(self.resource, rows, jsonapi_query(request, self.resource)))

    def retrieve(self, request, pk=None, *args, **kwargs):
        return Response(single_document(self.resource, get_instance(self.resource, pk), request))
