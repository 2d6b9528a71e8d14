from django.apps import AppConfig
from django.db.models.signals import post_save, pre_delete


class ModelsAppConfig(AppConfig):
    name = "models_app"
    verbose_name = "Models"

    def ready(self):
        from images_app.models import Image
        from models_app.signals import drop_cover_image

        pre_delete.connect(drop_cover_image, sender=Image, dispatch_uid="models_app.drop_cover_image")

        from images_app.models import model_refs_stored
        from models_app.links import on_model_refs_stored, on_model_saved
        from models_app.models import SDModel

        model_refs_stored.connect(on_model_refs_stored, dispatch_uid="models_app.link_image_refs")
        post_save.connect(on_model_saved, sender=SDModel, dispatch_uid="models_app.link_model_images")

        from core import store_sweep
        from models_app.storage import swept_store

        store_sweep.register("models", swept_store)
