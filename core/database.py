"""Bring the database schema up to date before a command touches it, quietly, the way `serve` does.

A fresh data directory has no tables; every `manage.py` command of ours that reads or writes the
library starts from `DatabaseCommand` (or calls `ensure_schema`), so the first command a user runs
creates the database instead of failing with `no such table`.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """`app.migration` names not yet applied to the database."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def database_label(alias: str = DEFAULT_DB_ALIAS) -> str:
    """The database in words: the SQLite file, or vendor://host:port/name."""
    db = connections[alias].settings_dict
    if connections[alias].vendor == "sqlite":
        return f"SQLite {db['NAME']}"
    host = f"{db.get('HOST') or 'localhost'}{':' + str(db['PORT']) if db.get('PORT') else ''}"
    return f"{connections[alias].vendor}://{host}/{db['NAME']}"


def ensure_schema(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Apply pending migrations silently; a database that cannot be opened is one CommandError line."""
    try:
        if pending_migrations(alias):
            call_command("migrate", database=alias, interactive=False, verbosity=0)
    except (DatabaseError, OSError) as exc:
        raise CommandError(f"Cannot prepare the database ({database_label(alias)}): {exc}") from None


class DatabaseCommand(BaseCommand):
    """A management command that uses the library: the schema is brought up to date first."""

    def execute(self, *args, **options):
        ensure_schema()
        return super().execute(*args, **options)
