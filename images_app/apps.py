from django.apps import AppConfig


class ImagesAppConfig(AppConfig):
    name = "images_app"
    verbose_name = "Images"

    def ready(self):
        from core import store_sweep
        from images_app.storage import swept_stores

        for name, describe in swept_stores().items():
            store_sweep.register(name, describe)
