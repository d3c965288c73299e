from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0002_message_hidden_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="context_trimmed",
            field=models.PositiveIntegerField(default=0, verbose_name="turns left out"),
        ),
    ]
