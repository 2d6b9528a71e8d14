from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate

from core.jsonapi import metadata_indexes
from core.metadata import METADATA_KEY_RE
from core.triggers import ensure_triggers


class SDHostConfig(AppConfig):
    """The composition root as an app, for its management commands (`serve`) and API schema module."""

    name = "sdhost"
    verbose_name = "SD-Host"

    def ready(self):
        connection_created.connect(sqlite_wal_once, dispatch_uid="sdhost.sqlite_wal_once")
        # once per `migrate` (after all apps): the signal goes to each app with models; this one has none
        post_migrate.connect(after_migrate, sender=self.apps.get_app_config("tasks_app"),
                             dispatch_uid="sdhost.after_migrate")


def after_migrate(using="default", **kwargs):
    """After `migrate`: the trigger sets (counts, row keys) whose triggers are missing or differ from the version the
    applied migrations installed (core/triggers.py), and the expression indexes of the configured metadata keys
    (core/jsonapi/metadata_indexes.py)."""
    ensure_triggers(connections[using])

    keys = settings.SDHOST["METADATA_INDEXES"]
    if bad := [key for key in keys if not METADATA_KEY_RE.fullmatch(key)]:
        raise ValueError(f"SDHOST_METADATA_INDEXES: not metadata keys: {', '.join(bad)}")
    metadata_indexes.sync_metadata_indexes(keys, using)


_wal_files = set()


def sqlite_wal_once(sender, connection, **kwargs):
    """WAL mode for each SQLite database file, once per process: readers never block the writer. The file keeps
    the mode, so later connections need not set it (settings.DATABASES)."""
    if connection.vendor != "sqlite" or connection.settings_dict["NAME"] in _wal_files:
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
    _wal_files.add(connection.settings_dict["NAME"])
