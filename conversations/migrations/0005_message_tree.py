"""Messages form a tree (conversations/tree.py): a parent per message, and the
conversation's active leaf. Existing conversations become one branch: each
message follows the one before it (by id), and the last message is the leaf."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def link_existing(apps, schema_editor):
    Conversation = apps.get_model("conversations", "Conversation")
    Message = apps.get_model("conversations", "Message")
    db = schema_editor.connection.alias
    # Only parent_id changes: the search triggers fire on content columns only.
    previous = (
        Message.objects.using(db)
        .filter(conversation_id=OuterRef("conversation_id"), id__lt=OuterRef("id"))
        .order_by("-id")
        .values("id")[:1]
    )
    Message.objects.using(db).update(parent_id=Subquery(previous))
    last = (
        Message.objects.using(db)
        .filter(conversation_id=OuterRef("id"))
        .order_by("-id")
        .values("id")[:1]
    )
    Conversation.objects.using(db).update(active_leaf_id=Subquery(last))


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0004_message_context_trimmed"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="conversations.message",
                verbose_name="parent",
            ),
        ),
        migrations.AddField(
            model_name="conversation",
            name="active_leaf",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="conversations.message",
                verbose_name="active leaf",
            ),
        ),
        migrations.RunPython(link_existing, migrations.RunPython.noop),
    ]
