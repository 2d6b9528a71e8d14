from django.apps import AppConfig, apps
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate

from core.jsonapi import metadata_indexes
from core.metadata import METADATA_KEY_RE
from core.row_keys import RowKeys
from core.tag_counts import LinkCounts, RowCounts
from core.triggers import ensure_triggers


class SDHostConfig(AppConfig):
    """The composition root as an app, for its management commands (`serve`) and API schema module."""

    name = "sdhost"
    verbose_name = "SD-Host"

    def ready(self):
        connection_created.connect(sqlite_wal_once)
        # once per `migrate` (after all apps): the signal goes to each app with models; this one has none
        post_migrate.connect(after_migrate, sender=self.apps.get_app_config("tasks_app"))


def after_migrate(using="default", **kwargs):
    """After `migrate`: the count and row-key triggers a later migration may have dropped (core/tag_counts.py,
    core/row_keys.py) and the
    expression indexes of the configured metadata keys (core/jsonapi/metadata_indexes.py)."""
    Tag = apps.get_model("system_app", "Tag")  # the app's model class (this module loads before the models)
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if {"tag_usage", "row_counts"} <= tables:  # not when migrated back before the counts
        links = [counted for counted in Tag.counted_links()
                 if {counted.link, counted.entity} <= tables and has_column(connection, counted.entity, "tag_count")]
        ensure_triggers(connection, [*(LinkCounts(counted) for counted in links),
                                     *(RowCounts(counted.entity) for counted in links),
                                     *(RowKeys(counted) for counted in links
                                       if has_column(connection, counted.entity, "seq"))])

    keys = settings.SDHOST["METADATA_INDEXES"]
    if bad := [key for key in keys if not METADATA_KEY_RE.fullmatch(key)]:
        raise ValueError(f"SDHOST_METADATA_INDEXES: not metadata keys: {', '.join(bad)}")
    metadata_indexes.sync_metadata_indexes(keys, using)


def has_column(connection, table, column):
    with connection.cursor() as cursor:
        return any(info.name == column for info in connection.introspection.get_table_description(cursor, table))


_wal_files = set()


def sqlite_wal_once(sender, connection, **kwargs):
    """WAL mode for each SQLite database file, once per process: readers never block the writer. The file keeps
    the mode, so later connections need not set it (settings.DATABASES)."""
    if connection.vendor != "sqlite" or connection.settings_dict["NAME"] in _wal_files:
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
    _wal_files.add(connection.settings_dict["NAME"])
