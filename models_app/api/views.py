"""Model endpoints: JSON:API reads (query engine) + commands (models_app/api/commands.py)."""

from rest_framework.viewsets import ViewSet

from .commands import ModelCommandsMixin


class ModelViewSet(ModelCommandsMixin, ViewSet):
    pass
