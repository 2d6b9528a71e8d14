"""Sets of database triggers that keep derived data (counts, integer keys) equal to the rows it derives from.

A `TriggerSet` names its triggers and gives, per database, the SQL that brings the derived data up to date
(`backfill_sql`) and the SQL that creates the triggers (`create_sql`). On PostgreSQL each trigger runs a
function of the same name. A migration installs a set with `migration_step()`; `ensure_triggers` recreates
after every `migrate` the sets a later migration dropped (a remade SQLite table loses its triggers).
"""

from core.db import run_sql_per_vendor

VENDORS = ("sqlite", "postgresql")


class TriggerSet:
    """Triggers that maintain some derived data. Subclasses define `triggers`, `backfill_sql` and `create_sql`."""

    def triggers(self, vendor):
        """[(table, trigger name)] on `vendor`."""
        raise NotImplementedError

    def backfill_sql(self, vendor):
        """Statements that make the derived data right for the rows already there."""
        raise NotImplementedError

    def create_sql(self, vendor):
        raise NotImplementedError

    def drop_sql(self, vendor):
        if vendor == "sqlite":
            return [f"DROP TRIGGER IF EXISTS {name}" for _, name in self.triggers(vendor)]
        return [sql for table, name in self.triggers(vendor)
                for sql in (f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()")]

    def install_sql(self, vendor):
        """Drop, bring up to date, create: what a migration and a repair run."""
        return self.drop_sql(vendor) + self.backfill_sql(vendor) + self.create_sql(vendor)

    def migration_step(self):
        """Install the set (reverse: drop it). Run it after any step that remakes its tables on SQLite."""
        return run_sql_per_vendor({vendor: self.install_sql(vendor) for vendor in VENDORS},
                                  {vendor: self.drop_sql(vendor) for vendor in VENDORS})


def existing_triggers(connection):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        return {row[0] for row in cursor.fetchall()}


def ensure_triggers(connection, trigger_sets):
    """Install again each of `trigger_sets` that misses a trigger (bringing its data up to date first). Run after
    every `migrate` (sdhost/apps.py). Returns the sets it installed."""
    if connection.vendor not in VENDORS:
        return []
    existing, repaired = existing_triggers(connection), []
    with connection.schema_editor() as editor:
        for trigger_set in trigger_sets:
            if not {name for _, name in trigger_set.triggers(connection.vendor)} <= existing:
                for sql in trigger_set.install_sql(connection.vendor):
                    editor.execute(sql)
                repaired.append(trigger_set)
    return repaired
