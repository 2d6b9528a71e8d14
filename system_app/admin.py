"""Django admin for tags and system facts."""

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from system_app.models import SystemFact, Tag, fold_tag_name
from system_app.tags import tag_name_problem


def usage_count(link_model):
    """Rows of `link_model` pointing at the tag (a correlated subquery: no join fan-out)."""
    counts = link_model.objects.filter(tag=OuterRef("pk")).values("tag").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ("name", "description")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if problem := tag_name_problem(name):
            raise forms.ValidationError(problem)
        clash = Tag.objects.filter(folded=fold_tag_name(name)).exclude(pk=self.instance.pk if self.instance.pk else None)
        if clash.exists():
            raise forms.ValidationError(f"Tag '{clash.first().name}' already exists (names ignore case)")
        return name


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    form = TagForm
    list_display = ("name", "description", "model_count", "image_count", "task_count", "created_at")
    search_fields = ("name", "folded", "description")
    ordering = ("name",)

    def get_readonly_fields(self, request, obj=None):
        # The name is the primary key: renaming would create a second tag.
        return ("name", "created_at", "updated_at") if obj else ("created_at", "updated_at")

    def get_queryset(self, request):
        from images_app.models import ImageTag
        from models_app.models import ModelTag
        from tasks_app.models import TaskTag

        return super().get_queryset(request).annotate(
            model_total=usage_count(ModelTag), image_total=usage_count(ImageTag), task_total=usage_count(TaskTag),
        )

    @admin.display(description="Models", ordering="model_total")
    def model_count(self, tag):
        return tag.model_total

    @admin.display(description="Images", ordering="image_total")
    def image_count(self, tag):
        return tag.image_total

    @admin.display(description="Tasks", ordering="task_total")
    def task_count(self, tag):
        return tag.task_total


@admin.register(SystemFact)
class SystemFactAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "type", "description", "updated_at")
    list_filter = ("type",)
    search_fields = ("key", "value", "description")
    readonly_fields = ("created_at", "updated_at")
    ordering = ("key",)
