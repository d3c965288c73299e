"""System checks for the history search index (run by `migrate` and `check --database`).

A database whose LC_CTYPE is C makes pg_trgm extract no trigrams from Chinese text
(show_trgm('学习三星堆') is {}): Chinese searches would then read every row through
the index's "match anything" path instead of failing loudly. Warn instead.
"""

from __future__ import annotations

from django.core import checks
from django.db import connections, transaction
from django.db.utils import DatabaseError

PROBE = "学习三星堆"


@checks.register(checks.Tags.database)
def check_search_index(databases=None, **kwargs) -> list[checks.CheckMessage]:
    """Return warnings for databases whose search index cannot serve Chinese."""
    found: list[checks.CheckMessage] = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor == "postgresql":
            found.extend(_check_postgresql(alias, connection))
        elif connection.vendor == "sqlite":
            found.extend(_check_sqlite(alias, connection))
    return found


def _check_postgresql(alias: str, connection) -> list[checks.CheckMessage]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datctype FROM pg_database WHERE datname = current_database()"
        )
        (ctype,) = cursor.fetchone()
        try:
            # A savepoint: a failed probe must not spoil a transaction around us.
            with transaction.atomic(using=alias):
                cursor.execute("SELECT show_trgm(%s)", [PROBE])
                trigrams = cursor.fetchone()[0]
        except DatabaseError:
            # pg_trgm is not installed yet (before migrate): judge by the ctype.
            trigrams = None
    blind = trigrams == [] or (trigrams is None and _ctype_is_ascii(ctype))
    if not blind:
        return []
    return [
        checks.Warning(
            f"Database {alias!r} has LC_CTYPE {ctype!r}: pg_trgm finds no trigrams "
            "in Chinese text, so searches in Chinese read every message.",
            hint="Create the database with a UTF-8 ctype, e.g. "
            "CREATE DATABASE chat LC_CTYPE 'C.UTF-8' LC_COLLATE 'C.UTF-8' "
            "TEMPLATE template0 (docs/api.md).",
            id="conversations.W001",
        )
    ]


def _ctype_is_ascii(ctype: str) -> bool:
    return ctype.upper() in {"C", "POSIX"} or "UTF" not in ctype.upper()


def _check_sqlite(alias: str, connection) -> list[checks.CheckMessage]:
    with connection.cursor() as cursor:
        try:
            cursor.execute(
                "CREATE VIRTUAL TABLE temp.history_probe"
                " USING fts5(x, tokenize='trigram')"
            )
            cursor.execute("DROP TABLE temp.history_probe")
        except DatabaseError:
            return [
                checks.Error(
                    f"Database {alias!r}: this SQLite has no FTS5 trigram tokenizer "
                    "(needs SQLite 3.34 or newer), which history search needs.",
                    id="conversations.E001",
                )
            ]
    return []
