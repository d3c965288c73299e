from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_search_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="context_trimmed",
            field=models.PositiveIntegerField(default=0, verbose_name="turns left out"),
        ),
    ]
