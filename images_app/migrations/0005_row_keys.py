"""Integer row keys (core/row_keys.py): `images.seq` and `image_tags.entity_seq`, given to the existing rows, then
assigned by triggers; the link table's tag index becomes `(tag, entity_seq)` with `(entity_seq, tag)` beside it."""

from django.db import migrations

from core.row_keys import row_key_operations
from core.tag_counts import CountedLink


class Migration(migrations.Migration):

    dependencies = [
        ("images_app", "0004_tag_counts"),
    ]

    operations = row_key_operations("image", "imagetag", CountedLink("image_tags", "image_hash", "images", "hash"),
                                    "idx_image_tags_tag_image", ("image", "images_app.image"))
