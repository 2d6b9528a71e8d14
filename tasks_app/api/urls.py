from django.urls import path, re_path

from tasks_app.models import TASK_ID_PATTERN

from . import queue_stream
from .parameters import ImageParametersView, ParseParametersView
from .upscale import ImageUpscaleView
from .views import TaskViewSet

collection = TaskViewSet.as_view({"get": "list", "post": "create", "delete": "batch_cancel"})
promote = TaskViewSet.as_view({"put": "promote"})
detail = TaskViewSet.as_view({"get": "retrieve", "patch": "patch_one"})
preview = TaskViewSet.as_view({"get": "preview"})

urlpatterns = [
    path("tasks", collection, name="task-list"),
    path("tasks/queue", queue_stream.queue_stream, name="task-queue"),
    path("tasks/promote", promote, name="task-promote"),
    path("tasks/parse-parameters", ParseParametersView.as_view(), name="task-parse-parameters"),
    # only a task id (TASK_ID_PATTERN) reaches the task: "queue" was a task id too
    re_path(rf"^tasks/(?P<pk>{TASK_ID_PATTERN})$", detail, name="task-detail"),
    re_path(rf"^tasks/(?P<pk>{TASK_ID_PATTERN})/preview$", preview, name="task-preview"),
    # Image routes answered by tasks_app, which knows task bodies and the queue (images_app may not import it):
    # an image's parameters chunk as a task body (D35), an upscale task (D38).
    path("images/<str:pk>/parameters", ImageParametersView.as_view(), name="image-parameters"),
    path("images/<str:pk>/upscale", ImageUpscaleView.as_view(), name="image-upscale"),
]
