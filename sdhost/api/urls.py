from django.urls import path

from .views import ConfigView, VersionView

urlpatterns = [
    path("version", VersionView.as_view(), name="version"),
    path("config", ConfigView.as_view(), name="config"),
]
