"""GET /api/tags (D6)."""

from rest_framework.viewsets import GenericViewSet

from core.jsonapi import ResourceReadMixin

from .resources import TagResource


class TagViewSet(ResourceReadMixin, GenericViewSet):
    """GET /api/tags through the query protocol (D6)."""

    resource = TagResource
