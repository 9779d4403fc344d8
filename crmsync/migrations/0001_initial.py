"""AmoLeadLink moved here from integrations (issue 13): only Django's state changes, the table
`integrations_amoleadlink` (created by integrations.0001_initial) and its rows stay as they are."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("leads", "0001_initial"),
        ("integrations", "0002_amoleadlink_moved_to_crmsync"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AmoLeadLink",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("account_id", models.BigIntegerField()),
                        ("amo_lead_id", models.BigIntegerField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("lead", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                   related_name="amo_links", to="leads.lead")),
                    ],
                    options={
                        "db_table": "integrations_amoleadlink",
                        "constraints": [models.UniqueConstraint(fields=("account_id", "amo_lead_id"),
                                                                name="uniq_amo_lead")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
