"""What differs between the two databases SD-Host runs on, SQLite and PostgreSQL (D40).

Everything vendor-specific lives here, so models, migrations and the query engine stay portable:
the case-insensitive collation of tag names and NULL placement in ORDER BY (trigger SQL per vendor:
core/triggers.py).
"""

from django.db import models

# PostgreSQL has no NOCASE; an ICU collation ignoring case (level 2) orders names the same way for
# letters, digits and the usual punctuation. It stays deterministic, so LIKE and equality work.
POSTGRES_NOCASE = "sdhost_nocase"
POSTGRES_NOCASE_SQL = (
    f"CREATE COLLATION IF NOT EXISTS {POSTGRES_NOCASE} (provider = icu, locale = 'und-u-ks-level2', deterministic = true)"
)


class NoCaseCharField(models.CharField):
    """A CharField that sorts without regard to case: SQLite's NOCASE, an ICU collation on PostgreSQL."""

    def db_parameters(self, connection):
        parameters = super().db_parameters(connection)
        parameters["collation"] = {"sqlite": "NOCASE", "postgresql": POSTGRES_NOCASE}.get(connection.vendor)
        return parameters


def create_collations(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_NOCASE_SQL)


class SQLiteNullsOrderBy(models.OrderBy):
    """ORDER BY with SQLite's NULL placement (NULL is the smallest value) on every database, so
    answers are the same on both; an explicit `nulls_first`/`nulls_last` still wins."""

    def as_postgresql(self, compiler, connection, **extra):
        if self.nulls_first or self.nulls_last or not self._nullable():
            return self.as_sql(compiler, connection, **extra)
        clone = self.copy()
        if self.descending:
            clone.nulls_last = True
        else:
            clone.nulls_first = True
        return clone.as_sql(compiler, connection, **extra)

    def _nullable(self):
        """False for a NOT NULL column: its order then needs no NULLS clause, so a plain b-tree index
        (`-created_at`) serves it on PostgreSQL too."""
        target = getattr(self.expression, "target", None)
        return target is None or target.null
