"""Model endpoints: JSON:API reads (query engine) + actions (models_app/api/actions.py)."""

from rest_framework.viewsets import GenericViewSet

from core.jsonapi import ResourceReadMixin

from .actions import ModelActionsMixin
from .resources import ModelResource


class ModelViewSet(ModelActionsMixin, ResourceReadMixin, GenericViewSet):
    resource = ModelResource
