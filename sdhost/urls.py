"""Root URL configuration: the API under /api, the A1111-compatible API under /sdapi/v1, the Django admin under
/admin, the web UI at /."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from sdhost.api.views import DocsView, IndexView, SchemaView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api", IndexView.as_view(), name="api-index"),
    path("api/schema", SchemaView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema"), name="api-docs"),
    # the spec's URLs have no trailing slash; these pages are also typed with one: a permanent redirect to the spec's
    path("api/", RedirectView.as_view(pattern_name="api-index", permanent=True, query_string=True)),
    path("api/docs/", RedirectView.as_view(pattern_name="api-docs", permanent=True, query_string=True)),
    path("api/schema/", RedirectView.as_view(pattern_name="schema", permanent=True, query_string=True)),
    path("api/", include("sdhost.api.urls")),
    path("api/", include("system_app.api.urls")),
    path("api/", include("models_app.api.urls")),
    path("api/", include("images_app.api.urls")),
    path("api/", include("tasks_app.api.urls")),
    path("sdapi/v1/", include("a1111_app.urls")),  # D39
    path("controlnet/", include("a1111_app.controlnet_urls")),  # D39: what A1111's ControlNet clients ask first
    path("", include("ui_app.urls")),
]
