"""Version 2 of the tasks table's trigger sets (core/trigger_sql/v2.*.sql): its row count spread over the slots of
`row_count_slots` (PostgreSQL: concurrent writers no longer queue for one row), and `seq`'s sequence owned by its
column (PostgreSQL)."""

from django.db import migrations

from core.triggers import upgrade_step


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0010_row_keys"),
        ("system_app", "0005_trigger_sets"),
    ]

    operations = [
        upgrade_step("row_counts:tasks", 2),
        upgrade_step("row_keys:tasks", 2),
    ]
