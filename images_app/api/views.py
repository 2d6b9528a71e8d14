"""Image endpoints: JSON:API reads (query engine) + actions (images_app/api/actions.py)."""

from rest_framework.viewsets import GenericViewSet

from core.jsonapi import ResourceReadMixin

from .actions import ImageActionsMixin
from .resources import ImageResource


class ImageViewSet(ImageActionsMixin, ResourceReadMixin, GenericViewSet):
    resource = ImageResource
