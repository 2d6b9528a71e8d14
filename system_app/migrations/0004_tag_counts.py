"""Per-tag usage counts per link table and rows per entity table (core/tag_counts.py); the entity apps'
migrations add the triggers."""

import django.db.models.manager
from django.db import migrations, models

from core.triggers import install_step


class Migration(migrations.Migration):

    dependencies = [
        ('system_app', '0003_tags_name_printable'),
    ]

    operations = [
        migrations.CreateModel(
            name='TagUsage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tag_name', models.CharField(max_length=20)),
                ('link', models.CharField(max_length=40)),
                ('uses', models.IntegerField(default=0)),
            ],
            options={
                'db_table': 'tag_usage',
                'default_manager_name': 'derived',
                'constraints': [models.UniqueConstraint(fields=('tag_name', 'link'), name='tag_usage_pair')],
            },
            managers=[
                ('derived', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='RowCount',
            fields=[
                ('table_name', models.CharField(max_length=40, primary_key=True, serialize=False)),
                ('row_total', models.BigIntegerField(default=0)),
            ],
            options={
                'db_table': 'row_counts',
                'default_manager_name': 'derived',
            },
            managers=[
                ('derived', django.db.models.manager.Manager()),
            ],
        ),
        # the SQL it ran when released: version 1's create statements (reverse: its drop)
        install_step("tag_usage_delete:tags", 1, statements=("create",)),
    ]
