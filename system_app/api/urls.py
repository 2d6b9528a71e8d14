from django.urls import path

from .views import TagViewSet

urlpatterns = [
    path("tags", TagViewSet.as_view({"get": "list"}), name="tag-list"),
]
