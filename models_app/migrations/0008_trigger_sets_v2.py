"""Version 2 of the models table's trigger sets (core/trigger_sql/v2.*.sql): its row count spread over the slots of
`row_count_slots` (PostgreSQL: concurrent writers no longer queue for one row), and `seq`'s sequence owned by its
column (PostgreSQL)."""

from django.db import migrations

from core.triggers import upgrade_step


class Migration(migrations.Migration):

    dependencies = [
        ("models_app", "0007_row_keys"),
        ("system_app", "0005_trigger_sets"),
    ]

    operations = [
        upgrade_step("row_counts:models", 2),
        upgrade_step("row_keys:models", 2),
    ]
