import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0004_lead_amount"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="tags",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="lead",
            name="tags_auto",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=django.contrib.postgres.indexes.GinIndex(fields=["tags"], name="lead_tags_gin"),
        ),
    ]
