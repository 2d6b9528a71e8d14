"""Versioned trigger sets (core/triggers.py): the `trigger_sets` table (each installed set's fingerprint and the
digest of its triggers' definitions, read by the repair after `migrate`), and `row_count_slots`, the row counts
spread over slots, which version 2 of the row-count triggers writes (the entity apps' next migrations)."""

import django.db.models.manager
from django.db import migrations, models

from core.triggers import CREATE_TABLE_SQL, DROP_TABLE_SQL


class Migration(migrations.Migration):

    dependencies = [
        ("system_app", "0004_tag_counts"),
    ]

    operations = [
        migrations.RunSQL(CREATE_TABLE_SQL, DROP_TABLE_SQL),
        migrations.CreateModel(
            name="RowCountSlot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("table_name", models.CharField(max_length=40)),
                ("slot", models.SmallIntegerField()),
                ("row_total", models.BigIntegerField(default=0)),
            ],
            options={
                "db_table": "row_count_slots",
                "default_manager_name": "derived",
                "constraints": [models.UniqueConstraint(fields=("table_name", "slot"), name="row_count_slots_slot")],
            },
            managers=[
                ("derived", django.db.models.manager.Manager()),
            ],
        ),
    ]
