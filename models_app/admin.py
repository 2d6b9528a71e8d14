"""Django admin for the model library."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html

from core.content_store import is_sha256
from core.downloads import file_response
from models_app.models import ModelTag, SDModel
from models_app.services import delete_model_rows
from models_app.storage import model_file_path


class ModelTagInline(admin.TabularInline):
    model = ModelTag
    extra = 0
    autocomplete_fields = ("tag",)


@admin.register(SDModel)
class SDModelAdmin(admin.ModelAdmin):
    list_display = ("name", "model_type", "base_model", "status", "file_size", "created_at", "updated_at")
    list_filter = ("model_type", "status", "base_model")
    search_fields = ("name", "hash", "description", "source_url")
    # The file decides hash, size, extension, place and type; status follows imports and scans (D2). Not editable here.
    readonly_fields = ("hash", "size", "file_ext", "local_path", "model_type", "status", "download", "created_at",
                       "updated_at")
    raw_id_fields = ("cover_image",)
    inlines = (ModelTagInline,)
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # models enter through manage.py import_model and Civitai imports

    def get_urls(self):
        view = self.admin_site.admin_view(self.file_view)
        return [path("<str:pk>/file/", view, name="models_app_sdmodel_file")] + super().get_urls()

    def file_view(self, request, pk):
        """The stored file as a download, for staff with view permission (the API may require a token)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        model = SDModel.objects.filter(pk=pk).first() if is_sha256(pk) else None
        if model is None or model.status != "ready" or not model_file_path(model).is_file():
            raise Http404("No such model file")
        return file_response(request, model_file_path(model), content_type="application/octet-stream",
                             etag=model.hash, filename=f"{model.name}{model.file_ext}")

    @admin.display(description="Size", ordering="size")
    def file_size(self, model):
        return filesizeformat(model.size)

    @admin.display(description="File")
    def download(self, model):
        if model.status != "ready":
            return "-"
        url = reverse("admin:models_app_sdmodel_file", args=[model.hash])
        return format_html('<a href="{}">{}{}</a> ({})', url, model.name, model.file_ext, filesizeformat(model.size))

    def delete_model(self, request, obj):
        delete_model_rows(SDModel.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        delete_model_rows(queryset)
