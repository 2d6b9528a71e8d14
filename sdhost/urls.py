"""Root URL configuration: the API under /api, the A1111-compatible API under /sdapi/v1, the Django admin under
/admin, the web UI at /."""

from django.contrib import admin
from django.urls import include, path

from sdhost.api.views import DocsView, IndexView, SchemaView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api", IndexView.as_view(), name="api-index"),
    path("api/schema", SchemaView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("sdhost.api.urls")),
    path("api/", include("system_app.api.urls")),
    path("api/", include("models_app.api.urls")),
    path("api/", include("images_app.api.urls")),
    path("api/", include("tasks_app.api.urls")),
    path("sdapi/v1/", include("a1111_app.urls")),  # D39
    path("controlnet/", include("a1111_app.controlnet_urls")),  # D39: what A1111's ControlNet clients ask first
    path("", include("ui_app.urls")),
]
