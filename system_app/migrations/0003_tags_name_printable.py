"""Tag names hold no control characters (core/text.py); names stored before the rule are cleaned first."""

from django.apps import apps as current_apps
from django.db import migrations, models

from core.tags import TAG_NAME_MAX, fold_tag_name
from core.text import CONTROL_RE


def clean_tag_names(apps, schema_editor):
    """Rename tags whose names hold control characters (tab and line breaks were accepted before): each becomes
    a space, and a name taken by another tag (or left empty) gets a numbered one; links follow the rename.

    Uses the current models, not the historical ones: the link tables belong to apps migrated independently.
    """
    tag_model = current_apps.get_model("system_app", "Tag")
    for tag in [tag for tag in tag_model.objects.all() if CONTROL_RE.search(tag.name)]:
        base = " ".join(CONTROL_RE.sub(" ", tag.name).split())[:TAG_NAME_MAX] or "tag"
        name, number = base, 1
        while tag_model.objects.filter(folded=fold_tag_name(name)).exists():
            number += 1
            name = f"{base[:TAG_NAME_MAX - len(str(number)) - 1]}-{number}"
        renamed = tag_model(name=name, description=tag.description, created_at=tag.created_at)
        renamed.save()
        for link_model in tag_model.link_models():
            link_model.objects.filter(tag=tag).update(tag=renamed)
        tag.delete()


class Migration(migrations.Migration):

    dependencies = [
        ('system_app', '0002_seed_facts'),
    ]

    operations = [
        migrations.RunPython(clean_tag_names, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='tag',
            constraint=models.CheckConstraint(condition=models.Q(('name__regex', '^[ -~\\u00a0-\\U0010ffff]*$')), name='tags_name_printable'),
        ),
    ]
