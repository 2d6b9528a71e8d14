"""OpenAPI declarations for GET /api/tags (system-api.md), applied to the view on import."""

from drf_spectacular.utils import OpenApiResponse

from core.openapi import QUERY_ERROR, collection_document, document_view, errors, operation

from .resources import TagResource
from .views import TagViewSet

document_view(TagViewSet, list=operation(
    "tags_list", "Tags with usage counts (query protocol, D6)",
    responses={200: OpenApiResponse(collection_document(TagResource), description="Collection document"),
               **errors(e400=QUERY_ERROR)},
))
