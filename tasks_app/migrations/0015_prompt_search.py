"""Word search over task prompts (core/prompt_search.py): the FTS5 table and its triggers on SQLite, a GIN index on
PostgreSQL, from the frozen trigger SQL of version 3 (core/trigger_sql/v3.*.sql)."""

from django.db import migrations

from core.prompt_search import drop_fts_table
from core.triggers import new_set_step


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0014_image_models"),
        ("system_app", "0005_trigger_sets"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, drop_fts_table("tasks")),
        new_set_step("prompt_search:tasks", 3),
    ]
