"""history: each message knows its owner, and the search index is keyed by it.

Before, the index knew nothing of the owner (it is the conversation's): a search
walked every user's matches and dropped the others', so a word common for one user
cost seconds to another who had none of it (bench/results/2026-12-02).

* `message.owner_id` is set by the database on every write (triggers below), from
  the message's conversation; a conversation given to another user takes its
  messages along.
* PostgreSQL: the GIN indexes become (owner_id, text) (btree_gin), so a search reads
  only the owner's entries.
* SQLite: the message FTS5 tables get an `owner` column holding "u<id>u", which
  every message search matches (conversations/search.py).

On a large existing table this rebuilds the message indexes: about as long as
building them did (docs/performance.md has the figures at 1,000,000 messages).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from conversations.search import (
    SQLITE_TABLES,
    SQLITE_TABLES_V1,
    register_sqlite_functions,
    sqlite_drop_statements,
    sqlite_index_statements,
)

OLD_PG_INDEXES = [
    "message_content_trgm",
    "message_reasoning_trgm",
    "message_content_grams",
    "message_reasoning_grams",
]
OLD_PG_DEFINITIONS = {
    "message_content_trgm": "content gin_trgm_ops",
    "message_reasoning_trgm": "reasoning gin_trgm_ops",
    "message_content_grams": "history_grams(content)",
    "message_reasoning_grams": "history_grams(reasoning)",
}
# (name, table, expression): what bench/history.py builds and sizes.
PG_INDEXES = [
    (
        "message_owner_content_trgm",
        "conversations_message",
        "owner_id, content gin_trgm_ops",
    ),
    (
        "message_owner_reasoning_trgm",
        "conversations_message",
        "owner_id, reasoning gin_trgm_ops",
    ),
    (
        "message_owner_content_grams",
        "conversations_message",
        "owner_id, history_grams(content)",
    ),
    (
        "message_owner_reasoning_grams",
        "conversations_message",
        "owner_id, history_grams(reasoning)",
    ),
    ("conversation_title_trgm", "conversations_conversation", "title gin_trgm_ops"),
    ("conversation_title_grams", "conversations_conversation", "history_grams(title)"),
]
PG_MESSAGE_INDEXES = [i for i in PG_INDEXES if i[1] == "conversations_message"]

PG_OWNER_TRIGGERS = [
    """
    CREATE OR REPLACE FUNCTION history_message_owner() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.owner_id := (SELECT owner_id FROM conversations_conversation
                       WHERE id = NEW.conversation_id);
      RETURN NEW;
    END $$
    """,
    "DROP TRIGGER IF EXISTS message_owner ON conversations_message",
    # Django's save() writes every column, a stale instance's owner_id too.
    "CREATE TRIGGER message_owner BEFORE INSERT OR UPDATE OF owner_id, conversation_id"
    " ON conversations_message FOR EACH ROW EXECUTE FUNCTION history_message_owner()",
    """
    CREATE OR REPLACE FUNCTION history_conversation_owner() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE conversations_message SET owner_id = NEW.owner_id
      WHERE conversation_id = NEW.id;
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS conversation_owner ON conversations_conversation",
    "CREATE TRIGGER conversation_owner AFTER UPDATE OF owner_id"
    " ON conversations_conversation FOR EACH ROW"
    " WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id)"
    " EXECUTE FUNCTION history_conversation_owner()",
]
PG_BACKFILL = (
    "UPDATE conversations_message AS m SET owner_id = c.owner_id"
    " FROM conversations_conversation AS c WHERE c.id = m.conversation_id"
    " AND m.owner_id IS DISTINCT FROM c.owner_id"
)


def create_message_index(schema_editor) -> None:
    """Create the owner-keyed message index (and fill owner_id) on either database."""
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        register_sqlite_functions(sender=None, connection=connection)
        for spec in SQLITE_TABLES:
            if spec[3]:
                for statement in sqlite_index_statements(*spec):
                    schema_editor.execute(statement)
    elif connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        for statement in PG_OWNER_TRIGGERS:
            schema_editor.execute(statement)
        schema_editor.execute(PG_BACKFILL)
        for name, table, expression in PG_MESSAGE_INDEXES:
            schema_editor.execute(
                f"CREATE INDEX {name} ON {table} USING gin ({expression})"
            )


def drop_message_index(schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        for _table, _columns, prefix, keyed in SQLITE_TABLES:
            if keyed:
                for statement in sqlite_drop_statements(prefix, keyed=True):
                    schema_editor.execute(statement)
    elif connection.vendor == "postgresql":
        for name, _table, _expression in PG_MESSAGE_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS message_owner ON conversations_message"
        )
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS conversation_owner ON conversations_conversation"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS history_message_owner()")
        schema_editor.execute("DROP FUNCTION IF EXISTS history_conversation_owner()")


def forward(apps, schema_editor):
    connection = schema_editor.connection
    # The old index first: it would be updated row by row by the backfill.
    if connection.vendor == "sqlite":
        for _table, _columns, prefix, _keyed in SQLITE_TABLES_V1[:1]:
            for statement in sqlite_drop_statements(prefix):
                schema_editor.execute(statement)
    elif connection.vendor == "postgresql":
        for name in OLD_PG_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    create_message_index(schema_editor)


def backward(apps, schema_editor):
    drop_message_index(schema_editor)
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        register_sqlite_functions(sender=None, connection=connection)
        for statement in sqlite_index_statements(*SQLITE_TABLES_V1[0]):
            schema_editor.execute(statement)
    elif connection.vendor == "postgresql":
        for name, expression in OLD_PG_DEFINITIONS.items():
            schema_editor.execute(
                f"CREATE INDEX {name} ON conversations_message USING gin ({expression})"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0005_message_tree"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="owner",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
