"""Image endpoints: JSON:API reads (query engine) + commands (images_app/api/commands.py)."""

from rest_framework.viewsets import ViewSet

from sdhost.jsonapi import ResourceReadMixin
from tasks_app.api.upscale import ImageUpscaleMixin

from .commands import ImageCommandsMixin
from .resources import ImageResource


class ImageViewSet(ImageCommandsMixin, ImageUpscaleMixin, ResourceReadMixin, ViewSet):
    resource = ImageResource
