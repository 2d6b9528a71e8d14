"""Integer row keys (core/row_keys.py): `models.seq` and `model_tags.entity_seq`, given to the existing rows, then
assigned by triggers; the link table's tag index becomes `(tag, entity_seq)` with `(entity_seq, tag)` beside it."""

from django.db import migrations

from core.row_keys import row_key_operations
from core.tag_counts import CountedLink


class Migration(migrations.Migration):

    dependencies = [
        ("models_app", "0006_tag_counts"),
    ]

    operations = row_key_operations("sdmodel", "modeltag", CountedLink("model_tags", "model_hash", "models", "hash"),
                                    "idx_model_tags_tag_model", ("model", "models_app.sdmodel"))
