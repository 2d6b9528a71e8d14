"""Django admin for tags and system facts."""

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from core.tags import fold_tag_name, tag_name_problem
from system_app.models import SystemFact, Tag


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


def usage_column(link_model):
    """An admin column showing how many `link_model` rows carry the tag (sortable)."""
    alias = f"usage_{link_model.usage_count}"
    label = link_model.usage_count.removesuffix("_count").capitalize() + "s"

    @admin.display(description=label, ordering=alias)
    def column(tag):
        return getattr(tag, alias)

    column.__name__ = link_model.usage_count
    return column


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    form = TagForm
    search_fields = ("name", "folded", "description")
    ordering = ("name",)

    def get_list_display(self, request):
        return ("name", "description", *(usage_column(link) for link in Tag.link_models()), "created_at")

    def get_readonly_fields(self, request, obj=None):
        # The name is the primary key: renaming would create a second tag.
        return ("name", "created_at", "updated_at") if obj else ("created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            **{f"usage_{link.usage_count}": usage_count(link) for link in Tag.link_models()}
        )


@admin.register(SystemFact)
class SystemFactAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "type", "description", "updated_at")
    list_filter = ("type",)
    search_fields = ("key", "value", "description")
    readonly_fields = ("created_at", "updated_at")
    ordering = ("key",)
