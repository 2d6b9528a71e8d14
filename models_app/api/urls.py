from django.urls import path

from . import civitai, scan
from .views import ModelViewSet

collection = ModelViewSet.as_view({"get": "list", "post": "batch_update", "delete": "batch_destroy"})
detail = ModelViewSet.as_view({"get": "retrieve", "post": "update_one", "patch": "patch_one", "delete": "destroy_one"})
content = ModelViewSet.as_view({"get": "content"})

urlpatterns = [
    path("models", collection, name="model-list"),
    path("models/add-from-civitai", civitai.AddFromCivitaiView.as_view(), name="model-add-from-civitai"),
    path("models/add-from-civitai/<str:pk>", civitai.import_progress_stream, name="model-import-progress"),
    path("models/scan", scan.ScanView.as_view(), name="model-scan"),
    path("models/scan/events", scan.scan_progress_stream, name="model-scan-progress"),
    path("models/civitai-sync", scan.CivitaiSyncBatchView.as_view(), name="model-civitai-sync-batch"),
    path("models/<str:pk>/civitai-sync", scan.CivitaiSyncView.as_view(), name="model-civitai-sync"),
    path("models/<str:pk>", detail, name="model-detail"),
    path("models/<str:pk>/content", content, name="model-content"),
]
