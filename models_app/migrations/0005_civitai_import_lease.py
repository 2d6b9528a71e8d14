from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("models_app", "0004_upscaler_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="civitaiimport",
            name="owner",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AddField(
            model_name="civitaiimport",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
