"""Task endpoints: JSON:API reads (query engine) + commands (tasks_app/api/commands.py)."""

from rest_framework.viewsets import ViewSet

from .commands import TaskCommandsMixin


class TaskViewSet(TaskCommandsMixin, ViewSet):
    pass
