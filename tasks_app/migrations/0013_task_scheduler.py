# A1111's schedule type beside the sampler (D46). Added with a plain ALTER TABLE ... ADD COLUMN (a column default):
# Django's SQLite schema editor would rebuild the table for a NOT NULL column with a default, and the tag-count
# triggers (0011) that name the table break during such a rebuild.

from django.db import migrations, models

ADD = "ALTER TABLE tasks ADD COLUMN scheduler varchar(30) DEFAULT 'Automatic' NOT NULL"
DROP = "ALTER TABLE tasks DROP COLUMN scheduler"


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0012_task_batch_signature'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(ADD, DROP)],
            state_operations=[
                migrations.AddField(
                    model_name='task',
                    name='scheduler',
                    field=models.CharField(default='Automatic', max_length=30),
                ),
            ],
        ),
    ]
