"""`row_counts` goes: the row-count triggers of version 2 write `row_count_slots` (core/tag_counts.py)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("system_app", "0005_trigger_sets"),
        ("images_app", "0006_trigger_sets_v2"),
        ("models_app", "0008_trigger_sets_v2"),
        ("tasks_app", "0011_trigger_sets_v2"),
    ]

    operations = [
        migrations.DeleteModel(name="RowCount"),
    ]
