from django.urls import path

from .views import ConfigView, TagViewSet, VersionView

urlpatterns = [
    path("version", VersionView.as_view(), name="version"),
    path("config", ConfigView.as_view(), name="config"),
    path("tags", TagViewSet.as_view({"get": "list"}), name="tag-list"),
]
