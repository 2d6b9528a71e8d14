from django.apps import AppConfig


class SystemAppConfig(AppConfig):
    name = "system_app"
    verbose_name = "System and tags"
