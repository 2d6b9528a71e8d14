"""Task endpoints: JSON:API reads (query engine) + actions (tasks_app/api/actions.py)."""

from rest_framework.viewsets import GenericViewSet

from core.jsonapi import ResourceReadMixin

from .actions import TaskActionsMixin
from .resources import TaskResource


class TaskViewSet(TaskActionsMixin, ResourceReadMixin, GenericViewSet):
    resource = TaskResource
