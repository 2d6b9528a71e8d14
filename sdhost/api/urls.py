from django.urls import path

from .health import HealthView
from .views import ConfigView, VersionView

urlpatterns = [
    path("version", VersionView.as_view(), name="version"),
    path("config", ConfigView.as_view(), name="config"),
    path("health", HealthView.as_view(), name="health"),
]
