"""History: title source, import fingerprint, and the search index (conversations/search.py).

SQLite: FTS5 tables kept by triggers, so any write (a reply's checkpoints, a bulk
update, a cascade delete) updates them. `history_grams()` is a Python function that
conversations.search registers on every connection Django opens; a write to messages
from a client outside Django (the sqlite3 shell) fails with "no such function".

PostgreSQL: GIN indexes on the tables (pg_trgm, and history_grams() expressions), kept
by PostgreSQL itself. pg_trgm needs a UTF-8 LC_CTYPE to see Chinese text (the
conversations.W001 check says so). On a large existing table, building them takes a
while (see bench/history.py for figures).
"""

from django.conf import settings
from django.db import migrations, models

from conversations.search import (
    CJK_RANGES,
    SQLITE_TABLES_V1,
    grams_text,
    sqlite_index_statements,
    sqlite_trigger_names,
)

# The same grams as conversations.search.grams(): keep the two in step.
PG_GRAMS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION history_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 5000 AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{{}}'::text[]) FROM (
    SELECT substr(r[1], i, n) AS g
    FROM regexp_matches(lower(t), '[{CJK_RANGES}]+', 'g') AS r,
         generate_series(1, char_length(r[1])) AS i,
         (VALUES (1), (2)) AS k(n)
    WHERE i + n - 1 <= char_length(r[1])
    UNION ALL
    SELECT w[1] FROM regexp_matches(lower(t), '[a-z0-9]+', 'g') AS w
    WHERE char_length(w[1]) <= 2
  ) AS grams
$$
"""

PG_INDEXES = [
    ("message_content_trgm", "conversations_message", "content gin_trgm_ops"),
    ("message_reasoning_trgm", "conversations_message", "reasoning gin_trgm_ops"),
    ("message_content_grams", "conversations_message", "history_grams(content)"),
    ("message_reasoning_grams", "conversations_message", "history_grams(reasoning)"),
    ("conversation_title_trgm", "conversations_conversation", "title gin_trgm_ops"),
    ("conversation_title_grams", "conversations_conversation", "history_grams(title)"),
]


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        # migrate may run before conversations.search's signal saw this connection.
        connection.connection.create_function(
            "history_grams", 1, grams_text, deterministic=True
        )
        for spec in SQLITE_TABLES_V1:
            for statement in sqlite_index_statements(*spec):
                schema_editor.execute(statement)
    elif connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(PG_GRAMS_FUNCTION)
        for name, table, expression in PG_INDEXES:
            schema_editor.execute(
                f"CREATE INDEX {name} ON {table} USING gin ({expression})"
            )


def drop_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        for _table, _columns, prefix, _keyed in SQLITE_TABLES_V1:
            for trigger in sqlite_trigger_names(prefix):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            schema_editor.execute(f"DROP TABLE IF EXISTS {prefix}_fts")
            schema_editor.execute(f"DROP TABLE IF EXISTS {prefix}_grams")
    elif connection.vendor == "postgresql":
        for name, _table, _expression in PG_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute("DROP FUNCTION IF EXISTS history_grams(text)")


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0002_message_hidden_at'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='conversation',
            name='import_fingerprint',
            field=models.CharField(blank=True, max_length=64, verbose_name='import fingerprint'),
        ),
        migrations.AddField(
            model_name='conversation',
            name='title_source',
            field=models.CharField(choices=[('auto', 'automatic'), ('user', 'set by the user')], default='auto', max_length=8, verbose_name='title source'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['owner', 'archived', '-pinned', '-updated_at', '-id'], name='conversation_owner_list'),
        ),
        migrations.AddConstraint(
            model_name='conversation',
            constraint=models.UniqueConstraint(condition=models.Q(('import_fingerprint', ''), _negated=True), fields=('owner', 'import_fingerprint'), name='conversation_unique_import'),
        ),
        migrations.RunPython(create_index, drop_index),
    ]
