"""Task endpoints: JSON:API reads (query engine) + commands (tasks_app/api/commands.py)."""

from rest_framework.viewsets import ViewSet

from sdhost.jsonapi import ResourceReadMixin

from .commands import TaskCommandsMixin
from .resources import TaskResource


class TaskViewSet(TaskCommandsMixin, ResourceReadMixin, ViewSet):
    resource = TaskResource
