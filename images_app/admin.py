"""Django admin for the image library: thumbnails in the list, a preview on the change page."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html

from core.content_store import is_sha256
from core.downloads import file_response
from images_app.models import Image, ImageTag
from images_app.services import delete_image_rows
from images_app.storage import image_file_path
from images_app.thumbnails import CONTENT_TYPE as THUMBNAIL_TYPE
from images_app.thumbnails import thumbnail_etag, thumbnail_path

THUMBNAIL_SIDE = 128


class ImageTagInline(admin.TabularInline):
    model = ImageTag
    extra = 0
    autocomplete_fields = ("tag",)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("thumbnail", "hash", "width", "height", "format", "size", "seed", "task", "created_at")
    list_display_links = ("thumbnail", "hash")
    list_filter = ("format", ("task", admin.EmptyFieldListFilter))
    list_select_related = ("task",)
    search_fields = ("hash", "task__id", "task__prompt")
    fields = ("preview", "hash", "width", "height", "size", "format", "seed", "task", "metadata", "created_at")
    # The bytes decide hash, size and format; seed and producing task are render facts. Not editable here.
    readonly_fields = ("preview", "hash", "width", "height", "size", "format", "seed", "task", "created_at")
    inlines = (ImageTagInline,)
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # images enter through tasks, uploads (POST /api/images/upload) and import_image

    def get_urls(self):
        view = self.admin_site.admin_view(self.file_view)
        return [path("<str:pk>/file/", view, name="images_app_image_file")] + super().get_urls()

    def file_view(self, request, pk):
        """The stored file (or, with ?thumbnail=1, a cached small WebP) for staff with view permission."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        image = Image.objects.filter(pk=pk).first() if is_sha256(pk) else None
        if image is None or not image_file_path(image).is_file():
            raise Http404("No such image file")
        if request.GET.get("thumbnail"):
            return file_response(request, thumbnail_path(image, THUMBNAIL_SIDE), content_type=THUMBNAIL_TYPE,
                                 etag=thumbnail_etag(image.hash, THUMBNAIL_SIDE))
        return file_response(request, image_file_path(image), content_type=image.content_type, etag=image.hash)

    def file_url(self, image, thumbnail=False):
        url = reverse("admin:images_app_image_file", args=[image.hash])
        return url + "?thumbnail=1" if thumbnail else url

    @admin.display(description="")
    def thumbnail(self, image):
        return format_html('<img src="{}" alt="" loading="lazy" style="max-height:64px;max-width:64px">',
                           self.file_url(image, thumbnail=True))

    @admin.display(description="Preview")
    def preview(self, image):
        return format_html('<a href="{0}"><img src="{0}" alt="" style="max-width:512px;max-height:512px"></a>',
                           self.file_url(image))

    def delete_model(self, request, obj):
        delete_image_rows(Image.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        delete_image_rows(queryset)
