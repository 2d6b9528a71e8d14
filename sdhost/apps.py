from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SDHostConfig(AppConfig):
    """The composition root as an app, for its management commands (`serve`) and API schema module."""

    name = "sdhost"
    verbose_name = "SD-Host"

    def ready(self):
        # once per `migrate` (after all apps): the signal goes to each app with models; this one has none
        post_migrate.connect(sync_metadata_indexes, sender=self.apps.get_app_config("tasks_app"))


def sync_metadata_indexes(using="default", **kwargs):
    """After `migrate`: the expression indexes of the configured metadata keys (core/jsonapi/metadata_indexes.py)."""
    from django.conf import settings

    from core.jsonapi import metadata_indexes
    from core.metadata import METADATA_KEY_RE

    keys = settings.SDHOST["METADATA_INDEXES"]
    if bad := [key for key in keys if not METADATA_KEY_RE.fullmatch(key)]:
        raise ValueError(f"SDHOST_METADATA_INDEXES: not metadata keys: {', '.join(bad)}")
    metadata_indexes.sync_metadata_indexes(keys, using)
