"""Model endpoints: JSON:API reads (query engine) + commands (models_app/api/commands.py)."""

from rest_framework.viewsets import ViewSet

from sdhost.jsonapi import ResourceReadMixin

from .commands import ModelCommandsMixin
from .resources import ModelResource


class ModelViewSet(ModelCommandsMixin, ResourceReadMixin, ViewSet):
    resource = ModelResource
