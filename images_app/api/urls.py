from django.urls import path

from .views import ImageViewSet

collection = ImageViewSet.as_view({"get": "list", "post": "batch_update", "delete": "batch_destroy"})
upload = ImageViewSet.as_view({"post": "upload"})
detail = ImageViewSet.as_view({"get": "retrieve", "post": "update_one", "patch": "patch_one", "delete": "destroy_one"})
content = ImageViewSet.as_view({"get": "content"})
thumbnail = ImageViewSet.as_view({"get": "thumbnail"})

urlpatterns = [
    path("images", collection, name="image-list"),
    path("images/upload", upload, name="image-upload"),
    path("images/<str:pk>", detail, name="image-detail"),
    path("images/<str:pk>/content", content, name="image-content"),
    path("images/<str:pk>/thumbnail", thumbnail, name="image-thumbnail"),
]
