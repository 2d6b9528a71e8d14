from django.urls import path

from . import queue_stream
from .parameters import ImageParametersView, ParseParametersView
from .views import TaskViewSet

collection = TaskViewSet.as_view({"get": "list", "post": "create", "delete": "batch_cancel"})
promote = TaskViewSet.as_view({"put": "promote"})
detail = TaskViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("tasks", collection, name="task-list"),
    path("tasks/queue", queue_stream.queue_stream, name="task-queue"),
    path("tasks/promote", promote, name="task-promote"),
    path("tasks/parse-parameters", ParseParametersView.as_view(), name="task-parse-parameters"),
    path("tasks/<str:pk>", detail, name="task-detail"),
    # An image's parameters chunk read as a task body (D35): the images resource, answered by tasks_app, which
    # knows task bodies (images_app may not import tasks_app).
    path("images/<str:pk>/parameters", ImageParametersView.as_view(), name="image-parameters"),
]
