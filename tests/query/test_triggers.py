"""Trigger sets in frozen, versioned SQL (core/triggers.py): migrations install a fixed version, the newest frozen
version is what the code writes, `migrate` repairs a set whose triggers are missing or whose body was changed, a
second `migrate` changes nothing; the maintained columns are never written by a save; the sequences of `seq` belong
to their columns; metadata index names fit PostgreSQL's 63 characters; every signal receiver has a dispatch_uid."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.core import serializers
from django.core.management import call_command
from django.db import connection
from django.db.backends import signals as backend_signals
from django.db.migrations.executor import MigrationExecutor
from django.db.models import signals as model_signals

from core.jsonapi.metadata_indexes import existing_indexes, index_name, sync_metadata_indexes
from core.tag_counts import table_rows
from core.triggers import (
    TABLE,
    ensure_triggers,
    fingerprint,
    frozen,
    frozen_versions,
    installed_versions,
    latest_version,
    parse_version,
    write_version,
)
from images_app.models import Image
from sdhost.management.commands.freeze_triggers import changed_sets, trigger_sets
from tests.support.factories import make_image

ROOT = Path(__file__).resolve().parents[2]


def recorded():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, version, fingerprint FROM {TABLE}")
        return {name: (version, fp) for name, version, fp in cursor.fetchall()}


def test_the_newest_frozen_versions_are_what_the_code_writes(db):
    """A change to the code that writes trigger SQL must ship as a new frozen version (`freeze_triggers`) and a
    migration installing it: the migrations installed the newest version of every set, and it is the code's SQL."""
    assert [trigger_set.name for trigger_set in changed_sets()] == []
    names = {trigger_set.name for trigger_set in trigger_sets()}
    assert installed_versions(connection) == {name: latest_version(name) for name in names}
    vendor = connection.vendor
    assert recorded() == {name: (latest_version(name), fingerprint(name, latest_version(name), vendor))
                          for name in names}


def test_frozen_files_read_back_as_written():
    for vendors in frozen_versions().values():
        for vendor, sets in vendors.items():
            assert parse_version(write_version(sets, vendor)) == sets


@pytest.mark.django_db(transaction=True)  # DDL: SQLite's schema editor runs outside a transaction
def test_a_second_migrate_changes_nothing():
    assert ensure_triggers(connection) == []
    assert sync_metadata_indexes(settings.SDHOST["METADATA_INDEXES"]) == ([], [])


def definitions(name):
    """What the database reports for the set's triggers: CREATE TRIGGER text (SQLite), function source
    (PostgreSQL)."""
    names = [trigger for _, trigger in frozen(name, latest_version(name), connection.vendor)["triggers"]]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT t.tgname, p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid")
        return {trigger: sql for trigger, sql in cursor.fetchall() if trigger in names}


def frozen_definitions(name):
    entry = frozen(name, latest_version(name), connection.vendor)
    if connection.vendor == "sqlite":
        return {trigger: sql for (_, trigger), sql in zip(entry["triggers"], entry["create"])}
    functions = [sql for sql in entry["create"] if sql.startswith("CREATE OR REPLACE FUNCTION")]
    return {trigger: sql.split("$$")[1] for (_, trigger), sql in zip(entry["triggers"], functions)}


@pytest.mark.django_db(transaction=True)
def test_migrate_repairs_an_altered_trigger_body(api):
    """The triggers are there under their names but one counts nothing now (changed by hand, or by an old release):
    `migrate` sees that the database reports another definition, installs the set's version again and recounts."""
    make_image()
    assert definitions("row_counts:images") == frozen_definitions("row_counts:images")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER images_rows_insert")
            cursor.execute("CREATE TRIGGER images_rows_insert AFTER INSERT ON images BEGIN SELECT 1; END")
        else:
            cursor.execute("CREATE OR REPLACE FUNCTION images_rows_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
                           "BEGIN RETURN NULL; END $$")
            # and a trigger of another set made to fire on other events, its function unchanged
            cursor.execute("DROP TRIGGER image_tags_count_delete ON image_tags")
            cursor.execute("CREATE TRIGGER image_tags_count_delete AFTER TRUNCATE ON image_tags "
                           "FOR EACH STATEMENT EXECUTE FUNCTION image_tags_count_delete()")
    assert definitions("row_counts:images") != frozen_definitions("row_counts:images")
    make_image()
    assert table_rows("images") == 1  # the altered trigger did not count it

    call_command("migrate", verbosity=0)

    assert definitions("row_counts:images") == frozen_definitions("row_counts:images")
    assert table_rows("images") == 2  # recounted
    make_image()
    assert table_rows("images") == Image.objects.count() == 3
    if connection.vendor == "postgresql":
        hash_ = Image.objects.first().hash
        api.post_json(f"/api/images/{hash_}", {"tags": ["a", "b"]})
        api.post_json(f"/api/images/{hash_}", {"tags": ["a"]})  # a delete of a link, counted again
        assert Image.objects.get(pk=hash_).tag_count == 1
    assert ensure_triggers(connection) == []


AT_VERSION_1 = [("system_app", "0005_trigger_sets"), ("images_app", "0005_row_keys"), ("models_app", "0007_row_keys"),
                ("tasks_app", "0010_row_keys")]


@pytest.mark.django_db(transaction=True)
def test_version_2_replaces_version_1_in_place_and_back(api):
    """The migrations to version 2 of the row counts (slots) and keys move the counts of a library, and back."""
    make_image()
    executor = MigrationExecutor(connection)
    executor.migrate(AT_VERSION_1)
    assert installed_versions(connection)["row_counts:images"] == 1
    assert recorded()["row_counts:images"] == (1, fingerprint("row_counts:images", 1, connection.vendor))
    with connection.cursor() as cursor:  # version 1 counts into row_counts
        cursor.execute("INSERT INTO images (hash, width, height, size, metadata, format, created_at, tag_count) "
                       "VALUES (%s, 8, 8, 10, '{}', 'png', %s, 0)", [f"{7:064x}", "2026-01-01T00:00:00Z"])
        cursor.execute("SELECT row_total FROM row_counts WHERE table_name = 'images'")
        assert cursor.fetchone()[0] == 2

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert table_rows("images") == 2
    make_image()
    assert table_rows("images") == Image.objects.count() == 3
    assert recorded()["row_counts:images"] == (2, fingerprint("row_counts:images", 2, connection.vendor))


def test_sequences_belong_to_their_columns(db):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's seq comes from MAX(seq) + 1, no sequence")
    with connection.cursor() as cursor:
        for table in ("images", "models", "tasks"):
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'seq')", [table])
            assert cursor.fetchone()[0] == f"public.{table}_seq_seq"


def test_a_save_never_writes_the_maintained_columns(api):
    """However a stored row is saved (in full, with `update_fields` naming a maintained column, with fields
    deferred), the triggers' `tag_count` and `seq` stay."""
    image = make_image()
    stale = Image.objects.get(pk=image.hash)
    api.post_json(f"/api/images/{image.hash}", {"tags": ["x", "y"]})
    seq = Image.objects.get(pk=image.hash).seq
    stale.metadata = {"rating": 1}
    stale.tag_count, stale.seq = 7, None
    stale.save(update_fields=["metadata", "tag_count", "seq"])
    stale.save()
    deferred = Image.objects.only("hash", "width").get(pk=image.hash)
    deferred.width = 9
    deferred.save()
    assert Image.objects.values_list("tag_count", "seq", "width", "metadata").get(pk=image.hash) == (
        2, seq, 9, {"rating": 1})


def test_loaddata_over_stored_rows_keeps_the_maintained_columns(api):
    """`loaddata` saves raw (`save_base`, not `save()`): a fixture row already stored keeps its count and key; a new
    one gets them from the triggers."""
    image = make_image()
    api.post_json(f"/api/images/{image.hash}", {"tags": ["x", "y"]})
    stored = Image.objects.values_list("tag_count", "seq").get(pk=image.hash)
    fixture = serializers.serialize("json", [Image.objects.get(pk=image.hash)])
    new = serializers.serialize("json", [Image(hash=f"{5:064x}", width=8, height=8, size=10)])
    for text in (fixture, new):
        for obj in serializers.deserialize("json", text):
            obj.save()
    assert Image.objects.values_list("tag_count", "seq").get(pk=image.hash) == stored
    tag_count, seq = Image.objects.values_list("tag_count", "seq").get(pk=f"{5:064x}")
    assert tag_count == 0 and seq is not None and seq != stored[1]


@pytest.mark.django_db(transaction=True)  # DDL: SQLite's schema editor runs outside a transaction
def test_metadata_index_names_fit_and_stay(db):
    """A long key (and one with capitals, which PostgreSQL folds) gets short names that `migrate` finds again."""
    keys = ["k" * 64, "Rating"]
    try:
        created, dropped = sync_metadata_indexes(keys)
        names = {index_name(table, key, kind) for table in ("images", "models") for key in keys
                 for kind in ("value", "sort")}
        assert set(created) == names and all(len(name) <= 63 for name in names)
        assert existing_indexes(connection, {"images", "models"}) == names
        assert sync_metadata_indexes(keys) == ([], [])
    finally:
        sync_metadata_indexes(settings.SDHOST["METADATA_INDEXES"])
    assert index_name("images", "rating", "sort") == "idx_meta_images_rating_sort"  # short names stay as they were


SIGNALS = {name for module in (model_signals, backend_signals) for name in dir(module)} - {"Signal"}


def test_every_signal_receiver_has_a_dispatch_uid():
    """A receiver connected twice (an app's `ready()` run again, a test that reloads) runs once."""
    missing = []
    for package in ("core", "engine", "sdhost", "models_app", "images_app", "tasks_app", "system_app", "a1111_app",
                    "ui_app"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "connect" and isinstance(node.func.value, ast.Name)
                        and node.func.value.id in SIGNALS
                        and "dispatch_uid" not in {keyword.arg for keyword in node.keywords}):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []
    assert ("sdhost.after_migrate" in {key[0] for key, *_ in model_signals.post_migrate.receivers})
