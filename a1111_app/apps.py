from django.apps import AppConfig


class A1111AppConfig(AppConfig):
    name = "a1111_app"
    verbose_name = "A1111-compatible API"
