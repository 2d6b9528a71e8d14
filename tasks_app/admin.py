"""Django admin for render tasks, with their extra models inline."""

from django.contrib import admin
from django.utils.text import Truncator

from tasks_app.models import Task, TaskModel, TaskTag


class TaskModelInline(admin.TabularInline):
    model = TaskModel
    extra = 0
    raw_id_fields = ("model", "control_image")


class TaskTagInline(admin.TabularInline):
    model = TaskTag
    extra = 0
    autocomplete_fields = ("tag",)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "short_prompt", "checkpoint", "sampler", "steps", "batch_size",
                    "created_at", "completed_at")
    list_filter = ("status", "sampler")
    list_select_related = ("checkpoint",)
    search_fields = ("id", "prompt", "negative_prompt", "checkpoint__name")
    raw_id_fields = ("checkpoint", "vae")
    readonly_fields = ("id", "created_at", "updated_at", "queue_order", "overtaken", "promote_rank")
    inlines = (TaskModelInline, TaskTagInline)
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # tasks are submitted through POST /api/tasks, which validates and schedules them

    @admin.display(description="Prompt", ordering="prompt")
    def short_prompt(self, task):
        return Truncator(task.prompt).chars(60)
