"""Owners provisioned without a name were named after their role ("Владелец"), so the PWA's header read
"Владелец · Владелец" (issue 16); they get a blank name and the PWA shows their e-mail instead."""
from django.db import migrations


def blank_role_word_names(apps, schema_editor):
    apps.get_model("accounts", "User").objects.filter(role="owner", full_name="Владелец").update(full_name="")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(blank_role_word_names, migrations.RunPython.noop)]
