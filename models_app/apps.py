from django.apps import AppConfig
from django.db.models.signals import pre_delete


class ModelsAppConfig(AppConfig):
    name = "models_app"
    verbose_name = "Models"

    def ready(self):
        from images_app.models import Image
        from models_app.signals import drop_cover_image

        pre_delete.connect(drop_cover_image, sender=Image, dispatch_uid="models_app.drop_cover_image")

        from core import store_sweep
        from models_app.storage import swept_store

        store_sweep.register("models", swept_store)
