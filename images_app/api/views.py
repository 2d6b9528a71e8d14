"""Image endpoints: JSON:API reads (query engine) + commands (images_app/api/commands.py)."""

from rest_framework.viewsets import ViewSet

from .commands import ImageCommandsMixin


class ImageViewSet(ImageCommandsMixin, ViewSet):
    pass
