"""Django admin for render tasks, with their extra models inline."""

from django.contrib import admin
from django.utils.text import Truncator

from tasks_app.models import NEVER_PROMOTED, Task, TaskModel, TaskTag

# What a render asked for and what the queue did with it: facts, not settings. Status moves only
# through the queue and the worker (D27); changing a request would belie the images it produced.
TASK_FACTS = ("id", "status", "checkpoint", "prompt", "negative_prompt", "width", "height", "seed", "steps",
              "cfg_scale", "sampler", "batch_size", "vae", "error_message", "created_at", "promoted",
              "started_at", "completed_at", "updated_at", "queue_order", "overtaken", "promote_rank", "resumed")


class TaskModelInline(admin.TabularInline):
    model = TaskModel
    extra = 0
    fields = readonly_fields = ("model", "weight", "control_image", "position")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    fields = readonly_fields = TASK_FACTS
    inlines = (TaskModelInline, TaskTagInline)
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # tasks are submitted through POST /api/tasks, which validates and schedules them

    @admin.display(description="Promoted at", ordering="promoted_at")
    def promoted(self, task):
        """Empty for a task never promoted (stored as the epoch so that ordering needs no NULL case)."""
        return None if task.promoted_at == NEVER_PROMOTED else task.promoted_at

    @admin.display(description="Prompt", ordering="prompt")
    def short_prompt(self, task):
        return Truncator(task.prompt).chars(60)
