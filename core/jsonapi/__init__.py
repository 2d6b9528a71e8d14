"""The generic JSON:API query engine (query-protocol.md): resources are declared once in
`<app>/api/resources.py`; filtering, sorting, paging, sparse fieldsets, includes and documents
are handled here for all of them."""

from .documents import collection_data, resource_object, single_document
from .filters import JSONAPIFilterBackend, jsonapi_query
from .pagination import JSONAPIPagination
from .resource import Attribute, Resource, ToMany, ToOne, resource_for
from .views import ResourceReadMixin, get_instance

__all__ = [
    "Attribute", "JSONAPIFilterBackend", "JSONAPIPagination", "Resource", "ResourceReadMixin", "ToMany", "ToOne",
    "collection_data", "get_instance", "jsonapi_query", "resource_for", "resource_object", "single_document",
]
