from django.db import migrations
from django.utils import timezone


def seed(apps, schema_editor):
    SystemFact = apps.get_model("system_app", "SystemFact")
    now = timezone.now()
    for key, value, description in [
        ("db_version", "1.0.0", "Schema version of this database"),
        ("api_version", "1.0.0", "Version of the API contract"),
        ("created_at", now.strftime("%Y-%m-%dT%H:%M:%SZ"), "When this database was created"),
    ]:
        SystemFact.objects.get_or_create(key=key, defaults={"value": value, "type": "string", "description": description})


class Migration(migrations.Migration):
    dependencies = [("system_app", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
