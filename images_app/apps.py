from django.apps import AppConfig


class ImagesAppConfig(AppConfig):
    name = "images_app"
    verbose_name = "Images"
