"""Integer row keys (core/row_keys.py): `tasks.seq` and `task_tags.entity_seq`, given to the existing rows, then
assigned by triggers; the link table's tag index becomes `(tag, entity_seq)` with `(entity_seq, tag)` beside it."""

from django.db import migrations

from core.row_keys import row_key_operations
from core.tag_counts import CountedLink


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0009_tag_counts"),
    ]

    operations = row_key_operations("task", "tasktag", CountedLink("task_tags", "task_id", "tasks", "id"),
                                    "idx_task_tags_tag_task", ("task", "tasks_app.task"))
