from django.apps import AppConfig
from django.db.models.signals import pre_save


class SystemAppConfig(AppConfig):
    name = "system_app"
    verbose_name = "System and tags"

    def ready(self):
        from system_app.models import keep_maintained_columns

        pre_save.connect(keep_maintained_columns, dispatch_uid="system_app.keep_maintained_columns")
