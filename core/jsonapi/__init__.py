"""The generic JSON:API query engine (query-protocol.md): resources are declared once in
`<app>/api/resources.py`; filtering, sorting, paging, sparse fieldsets, includes and documents
are handled here for all of them."""

from .documents import collection_document, resource_object, single_document
from .resource import Attribute, Resource, ToMany, ToOne, resource_for
from .views import ResourceReadMixin, get_instance

__all__ = [
    "Attribute", "Resource", "ResourceReadMixin", "ToMany", "ToOne",
    "collection_document", "get_instance", "resource_for", "resource_object", "single_document",
]
