"""Sets of database triggers that keep derived data (counts, integer keys) equal to the rows it derives from, in
frozen, versioned SQL (docs/decisions.md, "Triggers that cannot drift").

A trigger set (e.g. `row_counts:images`) is installed by the SQL of one *version*, frozen as text in
core/trigger_sql/v<N>.<vendor>.sql: the triggers it makes, the statements that drop them (`drop`), bring the derived
data up to date (`backfill`) and create them (`create`). A migration names the set and the version it installs
(`install_step`, `upgrade_step`, `new_set_step`), so it runs the same SQL forever, whatever the code that writes
trigger SQL becomes. That code, a `TriggerSet` subclass per kind (core/tag_counts.py, core/row_keys.py,
core/prompt_search.py), only authors the next version: `manage.py freeze_triggers` writes the sets whose SQL it now
makes differently into a new version file, which a new migration installs; tests/query/test_triggers.py fails while
the newest frozen version and the code differ.

Each installed set has a fingerprint, the SHA-256 of its frozen SQL, kept in the `trigger_sets` table with a digest
of the definitions the database reports for its triggers right after the install (SQLite: sqlite_master.sql;
PostgreSQL: pg_get_triggerdef and the function's source). After every `migrate` (sdhost/apps.py) `ensure_triggers`
reinstalls a set whose stored fingerprint is not that of the version the applied migrations installed, or whose
triggers the database now reports differently (one was dropped, e.g. by a table remade on SQLite, or its body
changed by hand): a drifted trigger is repaired by name *and* by body.
"""

import hashlib
import json
from functools import cache
from pathlib import Path

from django.db import migrations
from django.db.migrations.loader import MigrationLoader

VENDORS = ("sqlite", "postgresql")
SQL_DIR = Path(__file__).with_name("trigger_sql")
SECTIONS = ("drop", "backfill", "create")
END = ";"  # the line that ends each statement in a frozen file (statements hold `;` of their own)


class TriggerSet:
    """Writes the SQL of one trigger set as the code now makes it (for `freeze_triggers`, never for a migration).
    Subclasses define `name`, `triggers`, `backfill_sql` and `create_sql`."""

    name = None

    def triggers(self, vendor):
        """[(table, trigger name)] on `vendor`; on PostgreSQL each trigger runs a function of the same name."""
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

    def sql(self, vendor):
        """The set on `vendor` in the shape of a frozen version."""
        return {"triggers": [list(trigger) for trigger in self.triggers(vendor)], "drop": self.drop_sql(vendor),
                "backfill": self.backfill_sql(vendor), "create": self.create_sql(vendor)}


# --- the frozen versions ---------------------------------------------------------------------------

def version_path(version, vendor):
    return SQL_DIR / f"v{version}.{vendor}.sql"


def write_version(sets, vendor):
    """The text of a version file holding `sets` ({name: TriggerSet.sql(vendor)})."""
    lines = [f"-- Frozen trigger SQL ({vendor}); core/triggers.py. Never edit: a change is a new version.", ""]
    for name, entry in sets.items():
        lines.append(f"-- @set {name}")
        lines.append("-- @triggers " + " ".join(f"{table}.{trigger}" for table, trigger in entry["triggers"]))
        for section in SECTIONS:
            lines.append(f"-- @{section}")
            for statement in entry[section]:
                lines += [statement, END]
        lines.append("")
    return "\n".join(lines)


def parse_version(text):
    """{set name: {"triggers": [[table, name]], "drop": [...], "backfill": [...], "create": [...]}}."""
    sets, entry, section, statement = {}, None, None, []
    for line in text.split("\n"):
        if line.startswith("-- @set "):
            entry = sets[line.removeprefix("-- @set ")] = {"triggers": [], **{s: [] for s in SECTIONS}}
        elif line.startswith("-- @triggers"):
            entry["triggers"] = [item.split(".") for item in line.removeprefix("-- @triggers").split()]
        elif line.removeprefix("-- @") in SECTIONS and line.startswith("-- @"):
            section = line.removeprefix("-- @")
        elif line == END:
            entry[section].append("\n".join(statement))
            statement = []
        elif section and (statement or line):
            statement.append(line)
    return sets


@cache
def frozen_versions():
    """{version: {vendor: {set name: entry}}} of every file in core/trigger_sql/."""
    versions = {}
    for path in sorted(SQL_DIR.glob("v*.sql")):
        version, vendor = path.name.removesuffix(".sql").split(".")
        versions.setdefault(int(version[1:]), {})[vendor] = parse_version(path.read_text())
    return versions


def frozen(name, version, vendor):
    """The frozen SQL of set `name` in `version` (the set must be in that version's file)."""
    return frozen_versions()[version][vendor][name]


def versions_of(name):
    """The versions that hold set `name`, oldest first."""
    return sorted(version for version, vendors in frozen_versions().items() if name in vendors["sqlite"])


def latest_version(name):
    return versions_of(name)[-1]


def fingerprint(name, version, vendor):
    """SHA-256 of the frozen SQL of set `name` in `version` on `vendor`."""
    text = json.dumps(frozen(name, version, vendor), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --- migrations ------------------------------------------------------------------------------------

def _run(statements, schema_editor):
    for sql in statements:
        schema_editor.execute(sql, None)  # no parameters: a `%` in the SQL is an operator


class TriggerStep(migrations.RunPython):
    """A migration step that installs `version` of set `name` (the repair after `migrate` reads which version the
    applied migrations installed from these steps)."""

    def __init__(self, name, version, forward, backward):
        self.set_name, self.version = name, version
        super().__init__(forward, backward)


def install_step(name, version=1, statements=("drop", "backfill", "create")):
    """The step of a migration that first installed set `name`: it runs the frozen `statements` of `version` (what
    the migration ran when released; reverse: the drop). It records nothing: `trigger_sets` came later."""

    def forward(apps, schema_editor):
        entry = frozen(name, version, schema_editor.connection.vendor)
        _run([sql for section in statements for sql in entry[section]], schema_editor)

    def backward(apps, schema_editor):
        _run(frozen(name, version, schema_editor.connection.vendor)["drop"], schema_editor)

    return TriggerStep(name, version, forward, backward)


def around_sqlite_remake(sets, operations):
    """`operations` that remake a table on SQLite (Django copies it, drops the old one and renames the copy), with the
    trigger sets `sets` ({name: version installed so far}) that mention the table dropped before and installed
    again after: SQLite refuses to rename a table while another table's trigger names it, and a remake loses the
    table's own triggers. PostgreSQL alters tables in place: the steps do nothing there."""

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            _run([sql for name, version in sets.items()
                  for sql in frozen(name, version, "sqlite")["drop"]], schema_editor)

    def reinstall(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for name, version in sets.items():
                install(schema_editor, name, version)

    return [migrations.RunPython(drop, reinstall), *operations, migrations.RunPython(reinstall, drop)]


def upgrade_step(name, version):
    """The step of a migration that replaces the set's previous version by `version`, and records its fingerprint
    (reverse: the previous version again)."""
    versions = versions_of(name)
    if versions.index(version) == 0:
        raise ValueError(f"{name}: version {version} is its first; install it with install_step")
    previous = versions[versions.index(version) - 1]

    def forward(apps, schema_editor):
        install(schema_editor, name, version)

    def backward(apps, schema_editor):
        _run(frozen(name, version, schema_editor.connection.vendor)["drop"], schema_editor)
        install(schema_editor, name, previous)

    return TriggerStep(name, version, forward, backward)


def new_set_step(name, version):
    """The step of a migration that installs set `name`, first frozen in `version` (a set born after
    `trigger_sets`), and records its fingerprint (reverse: the drop)."""

    def forward(apps, schema_editor):
        install(schema_editor, name, version)

    def backward(apps, schema_editor):
        _run(frozen(name, version, schema_editor.connection.vendor)["drop"], schema_editor)
        schema_editor.execute(f"DELETE FROM {TABLE} WHERE name = %s", [name])

    return TriggerStep(name, version, forward, backward)


# --- installing, recording, repairing --------------------------------------------------------------

TABLE = "trigger_sets"
# No model: Django's `flush` (tests) empties the tables of models, and this one describes the schema, not data.
CREATE_TABLE_SQL = (f"CREATE TABLE {TABLE} (name varchar(100) PRIMARY KEY, version integer NOT NULL, "
                    f"fingerprint varchar(64) NOT NULL, definition varchar(64) NOT NULL)")
DROP_TABLE_SQL = f"DROP TABLE {TABLE}"


def install(schema_editor, name, version):
    """Drop every version's triggers of set `name`, bring its data up to date, create `version`'s, record them."""
    vendor = schema_editor.connection.vendor
    entry = frozen(name, version, vendor)
    drops = dict.fromkeys(sql for v in versions_of(name) for sql in frozen(name, v, vendor)["drop"])
    _run([*drops, *entry["backfill"], *entry["create"]], schema_editor)
    definition = reported_definition(schema_editor.connection, entry["triggers"])
    schema_editor.execute(f"DELETE FROM {TABLE} WHERE name = %s", [name])
    schema_editor.execute(f"INSERT INTO {TABLE} (name, version, fingerprint, definition) VALUES (%s, %s, %s, %s)",
                          [name, version, fingerprint(name, version, vendor), definition])


def reported_definition(connection, triggers):
    """SHA-256 of what the database reports for `triggers` ([table, name]): each one's CREATE TRIGGER text on SQLite;
    on PostgreSQL its definition and its function's source. A missing trigger is reported as missing."""
    names = [name for _, name in triggers]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                           f"({', '.join(['%s'] * len(names))})", names)
        else:
            cursor.execute("SELECT t.tgname, t.tgrelid::regclass::text, pg_get_triggerdef(t.oid), p.prosrc "
                           "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                           "WHERE NOT t.tgisinternal AND t.tgname = ANY(%s)", [names])
        found = {row[0]: list(row[1:]) for row in cursor.fetchall()}
    report = [[table, name, found.get(name)] for table, name in triggers]
    return hashlib.sha256(json.dumps(report).encode()).hexdigest()


def installed_versions(connection):
    """{set name: version} that the applied migrations installed (the newest per set)."""
    loader = MigrationLoader(connection)
    versions = {}
    for key in loader.applied_migrations:
        for operation in getattr(loader.graph.nodes.get(key), "operations", ()):
            if isinstance(operation, TriggerStep):
                versions[operation.set_name] = max(versions.get(operation.set_name, 0), operation.version)
    return versions


def ensure_triggers(connection):
    """Reinstall each set the applied migrations installed whose recorded fingerprint is not its version's or whose
    triggers the database reports otherwise than when it was installed. Run after every `migrate`
    (sdhost/apps.py). Returns the names of the sets it installed."""
    if connection.vendor not in VENDORS or TABLE not in connection.introspection.table_names():
        return []  # migrated back before the fingerprints
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, fingerprint, definition FROM {TABLE}")
        recorded = {name: (fp, definition) for name, fp, definition in cursor.fetchall()}
    stale = {}
    for name, version in sorted(installed_versions(connection).items()):
        triggers = frozen(name, version, connection.vendor)["triggers"]
        if recorded.get(name) != (fingerprint(name, version, connection.vendor),
                                  reported_definition(connection, triggers)):
            stale[name] = version
    if stale:
        with connection.schema_editor() as editor:
            for name, version in stale.items():
                install(editor, name, version)
    return list(stale)
