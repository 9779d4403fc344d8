from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_message_claimed_at")]

    operations = [
        migrations.AddField(model_name="message", name="transcript", field=models.TextField(blank=True)),
        migrations.AddField(model_name="message", name="transcript_status",
                            field=models.CharField(blank=True, max_length=8)),
    ]
