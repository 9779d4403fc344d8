"""AmoLeadLink moved to crmsync (issue 13): only Django's state forgets it here; the table and its rows stay, and
crmsync.0001_initial takes them over."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AmoLeadLink")],
            database_operations=[],
        ),
    ]
