"""The history search index: SQLite FTS5 (trigram) or PostgreSQL pg_trgm, and grams.

Both databases keep the index themselves, so whatever writes a message (a reply's
checkpoints, a bulk `.update()`, a cascade delete) keeps it in step:

* SQLite: the FTS5 tables of migration 0003, filled by triggers on the message and
  conversation tables.
* PostgreSQL: GIN indexes on the tables themselves (pg_trgm, and an expression index
  on `history_grams(...)`).

A trigram index cannot answer a term of one or two characters, so those go to a
second index of "grams": every CJK character and every pair of adjacent CJK
characters, and each ASCII word of one or two letters. `猫` and `图标` are found
there; `ai` finds the word "AI" (not "said": substring search on two Latin letters
would match nearly everything).

Results come newest first without sorting every match: SQLite walks the FTS table
by rowid (= message id) downwards and stops at the page size; PostgreSQL (a GIN
index gives no order) searches id windows from the newest down, each sized from
the density of matches the earlier ones showed, until the page is full; a word
that looks rare for this user is fetched whole instead (the probe).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.dispatch import receiver

# Han (with extension A and compatibility), kana, hangul syllables.
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
CJK_RUN = re.compile(f"[{CJK_RANGES}]+")
ASCII_WORD = re.compile("[a-z0-9]+")
# A term this short cannot be found through trigrams.
SHORT_TERM = 2
MAX_TERMS = 8
MAX_QUERY_LENGTH = 200
# PostgreSQL: the first id window searched, and how much each next one grows while
# none has found anything.
FIRST_WINDOW = 4096
WINDOW_GROWTH = 4
# ...and the widest one. A wider id range makes PostgreSQL's bitmap of it lossy
# (work_mem), and a lossy page rechecks history_grams() on every row: at 1,000,000
# messages an absent two-character word took 33 s with unbounded windows.
MAX_WINDOW = 65536
# ...and the most matches fetched at once when the first window did not fill a page.
PROBE_LIMIT = 2000
# A window sized from the density seen so far is this much wider than the page needs.
WINDOW_MARGIN = 2
# The probe's candidates are filtered this many pages' worth at a time, newest first.
KEEP_BATCH_PAGES = 4


# grams() runs in SQLite's triggers on every write of a message's text (its old and
# its new value), holding the GIL the event loop needs: it works on the UTF-8
# bytes, in C loops, where regular expressions over the whole text took 2.5 to 3.5
# times as long for an English reply (docs/performance.md, 2026-12-08).
ASCII_ALNUM = b"0123456789abcdefghijklmnopqrstuvwxyz"
# Every other byte (UTF-8's too) becomes a space: the rest splits into ASCII_WORDs.
WORD_BYTES = bytes(byte if byte in ASCII_ALNUM else ord(" ") for byte in range(256))
# The lead bytes of CJK_RANGES' characters in UTF-8 (U+3040-U+D7AF: E3-ED,
# U+F900-U+FAFF: EF): text without any has no CJK run to look for.
CJK_LEAD_BYTES = (*range(0xE3, 0xEE), 0xEF)


def grams(text: str) -> list[str]:
    """Return the one- and two-character terms `text` can be found by: each CJK
    character and pair of adjacent ones (CJK_RUN), each ASCII_WORD of at most
    SHORT_TERM characters, of the lowercased text.

    PostgreSQL's `history_grams()` (migration 0003) computes the same list; the two
    must agree, or SQLite and PostgreSQL would find different messages.
    """
    lowered = text.lower()
    encoded = lowered.encode(errors="surrogatepass")
    found = {
        word.decode()
        for word in encoded.translate(WORD_BYTES).split()
        if len(word) <= SHORT_TERM
    }
    if any(lead in encoded for lead in CJK_LEAD_BYTES):
        for run in CJK_RUN.findall(lowered):
            found.update(run)
            found.update(map(operator.add, run, run[1:]))
    return sorted(found)


def grams_text(text: str | None) -> str:
    """Return the grams as the space-separated text SQLite's grams tables index."""
    return " ".join(grams(text or ""))


@receiver(connection_created)
def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """Give every SQLite connection `history_grams()`, which the triggers call."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "history_grams", 1, grams_text, deterministic=True
        )


# --- the SQLite index: FTS5 tables kept in step by triggers ----------------------

MESSAGES = "conversations_message"
CONVERSATIONS = "conversations_conversation"
# The owner's key in the message index (migration 0006): "u<id>u". Looked up as a
# trigram phrase it matches one owner only (the u's end it), so the walk down the
# index skips every other user's matches instead of reading them.
OWNER_KEY_SQL = (
    f"(SELECT 'u' || owner_id || 'u' FROM {CONVERSATIONS}"
    " WHERE id = {}.conversation_id)"
)

OWNER_SQL = f"(SELECT owner_id FROM {CONVERSATIONS} WHERE id = {{}}.conversation_id)"

# (table, its text columns, the FTS tables' prefix, keyed by owner)
# Migration 0003's index: no owner in it (an id walk read other users' matches).
SQLITE_TABLES_V1 = [
    (MESSAGES, ["content", "reasoning"], MESSAGES, False),
    (CONVERSATIONS, ["title"], "conversations_title", False),
]
# Migration 0006's: the message tables also index the owner's key.
SQLITE_TABLES = [
    (MESSAGES, ["content", "reasoning"], MESSAGES, True),
    (CONVERSATIONS, ["title"], "conversations_title", False),
]


def owner_key(owner_id: int) -> str:
    return f"u{owner_id}u"


def sqlite_trigger_names(prefix: str, keyed: bool = False) -> list[str]:
    names = [f"{prefix}_ai", f"{prefix}_ad", f"{prefix}_au"]
    if keyed:
        names += [f"{prefix}_owner_ai", f"{prefix}_owner_au", f"{prefix}_owner_cu"]
    return names


def _sqlite_rows(table: str, columns: list[str], keyed: bool, row: str):
    """Return (column list, trigram values, grams values) of one row's entry."""
    names = [*columns, "owner"] if keyed else columns
    values = [f"{row}.{c}" for c in columns]
    gram_values = [f"history_grams({row}.{c})" for c in columns]
    if keyed:
        values.append(OWNER_KEY_SQL.format(row))
        gram_values.append(OWNER_KEY_SQL.format(row))
    return ", ".join(names), ", ".join(values), ", ".join(gram_values)


def sqlite_triggers(
    table: str, columns: list[str], prefix: str, keyed: bool = False
) -> list[str]:
    """Return the statements that keep the FTS tables in step with `table`."""
    fts, gram_table = f"{prefix}_fts", f"{prefix}_grams"
    cols, new, new_grams = _sqlite_rows(table, columns, keyed, "new")
    _cols, old, old_grams = _sqlite_rows(table, columns, keyed, "old")
    insert = (
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
        f" INSERT INTO {gram_table}(rowid, {cols}) VALUES (new.id, {new_grams});"
    )
    delete = (
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO {gram_table}({gram_table}, rowid, {cols})"
        f" VALUES ('delete', old.id, {old_grams});"
    )
    watched = [*columns, "conversation_id"] if keyed else columns
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in watched)
    on_insert, on_delete, on_update = sqlite_trigger_names(prefix)[:3]
    statements = [
        f"CREATE TRIGGER IF NOT EXISTS {on_insert} AFTER INSERT ON {table}"
        f" BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {on_delete} AFTER DELETE ON {table}"
        f" BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {on_update} AFTER UPDATE OF"
        f" {', '.join(watched)} ON {table} WHEN {changed} BEGIN {delete} {insert} END",
    ]
    if keyed:
        statements += _sqlite_owner_triggers(table, columns, prefix)
    return statements


def _sqlite_owner_triggers(table: str, columns: list[str], prefix: str) -> list[str]:
    """Keep message.owner_id equal to its conversation's owner, and the keys too.

    Whatever writes a message (save() with a stale instance, bulk_create, raw
    SQL), the database sets the owner; a conversation given to another user takes
    its messages' index entries along.
    """
    fts, gram_table = f"{prefix}_fts", f"{prefix}_grams"
    owner = f"(SELECT owner_id FROM {CONVERSATIONS} WHERE id = new.conversation_id)"
    fix = f"UPDATE {table} SET owner_id = {owner} WHERE id = new.id;"
    cols = ", ".join([*columns, "owner"])
    plain = ", ".join(columns)
    gram_cols = ", ".join(f"history_grams({c})" for c in columns)
    rekey = []
    for target, values in ((fts, plain), (gram_table, gram_cols)):
        rekey.append(
            f"INSERT INTO {target}({target}, rowid, {cols}) SELECT 'delete', id,"
            f" {values}, 'u' || old.owner_id || 'u' FROM {table}"
            " WHERE conversation_id = new.id;"
        )
        rekey.append(
            f"INSERT INTO {target}(rowid, {cols}) SELECT id, {values},"
            f" 'u' || new.owner_id || 'u' FROM {table} WHERE conversation_id = new.id;"
        )
    on_insert, on_update, on_conversation = sqlite_trigger_names(prefix, True)[3:]
    return [
        f"CREATE TRIGGER IF NOT EXISTS {on_insert} AFTER INSERT ON {table}"
        f" WHEN new.owner_id IS NOT {owner} BEGIN {fix} END",
        f"CREATE TRIGGER IF NOT EXISTS {on_update} AFTER UPDATE OF owner_id,"
        f" conversation_id ON {table} WHEN new.owner_id IS NOT {owner}"
        f" BEGIN {fix} END",
        f"CREATE TRIGGER IF NOT EXISTS {on_conversation} AFTER UPDATE OF owner_id"
        f" ON {CONVERSATIONS} WHEN old.owner_id IS NOT new.owner_id BEGIN"
        f" {' '.join(rekey)}"
        f" UPDATE {table} SET owner_id = new.owner_id WHERE conversation_id = new.id;"
        " END",
    ]


def sqlite_rebuild(
    table: str, columns: list[str], prefix: str, keyed: bool = False
) -> list[str]:
    """Return the statements that fill the FTS tables anew from `table`."""
    cols = ", ".join(columns)
    fts, gram_table = f"{prefix}_fts", f"{prefix}_grams"
    gram_values = ", ".join(f"history_grams({c})" for c in columns)
    if not keyed:
        return [
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
            f"INSERT INTO {gram_table}({gram_table}) VALUES ('delete-all')",
            f"INSERT INTO {gram_table}(rowid, {cols}) SELECT id, {gram_values}"
            f" FROM {table}",
        ]
    key = "'u' || c.owner_id || 'u'"
    source = f" FROM {table} AS m JOIN {CONVERSATIONS} AS c ON c.id = m.conversation_id"
    return [
        # Rows written while the triggers were missing get their owner first.
        f"UPDATE {table} SET owner_id = {OWNER_SQL.format(table)}"
        f" WHERE owner_id IS NOT {OWNER_SQL.format(table)}",
        f"INSERT INTO {fts}({fts}) VALUES ('delete-all')",
        f"INSERT INTO {fts}(rowid, {cols}, owner) SELECT m.id, "
        + ", ".join(f"m.{c}" for c in columns)
        + f", {key}{source}",
        f"INSERT INTO {gram_table}({gram_table}) VALUES ('delete-all')",
        f"INSERT INTO {gram_table}(rowid, {cols}, owner) SELECT m.id, "
        + ", ".join(f"history_grams(m.{c})" for c in columns)
        + f", {key}{source}",
    ]


def sqlite_index_statements(
    table: str, columns: list[str], prefix: str, keyed: bool = False
) -> list[str]:
    """Return the statements that create the index of `table` and fill it."""
    cols = ", ".join(columns)
    if keyed:
        # Both contentless: the owner's key is in no table to read it back from.
        tables = [
            f"CREATE VIRTUAL TABLE {prefix}_fts USING fts5({cols}, owner,"
            " content='', tokenize='trigram')",
            f"CREATE VIRTUAL TABLE {prefix}_grams USING fts5({cols}, owner,"
            " content='', tokenize='unicode61')",
        ]
    else:
        tables = [
            # The trigram table reads its text from the table itself (no second
            # copy); the grams table stores only its index (contentless).
            f"CREATE VIRTUAL TABLE {prefix}_fts USING fts5({cols}, content='{table}',"
            " content_rowid='id', tokenize='trigram')",
            f"CREATE VIRTUAL TABLE {prefix}_grams USING fts5({cols}, content='',"
            " tokenize='unicode61')",
        ]
    return [
        *tables,
        *sqlite_triggers(table, columns, prefix, keyed),
        *sqlite_rebuild(table, columns, prefix, keyed),
    ]


def sqlite_drop_statements(prefix: str, keyed: bool = False) -> list[str]:
    return [
        *(f"DROP TRIGGER IF EXISTS {t}" for t in sqlite_trigger_names(prefix, keyed)),
        f"DROP TABLE IF EXISTS {prefix}_fts",
        f"DROP TABLE IF EXISTS {prefix}_grams",
    ]


@receiver(post_migrate)
def repair_sqlite_index(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """Put back triggers a later migration dropped, and refill the index.

    SQLite cannot alter most columns in place: Django copies the table into a new
    one, and the triggers die with the old table. Without this, the first AddField
    on messages after 0003 would leave search silently out of step.
    """
    connection = connections[using]
    if connection.vendor != "sqlite" or sender.name != "conversations":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"
        )
        present = {name for (name,) in cursor.fetchall()}
        cursor.execute(f"SELECT name FROM pragma_table_info('{MESSAGES}')")
        keyed_index = "owner_id" in {name for (name,) in cursor.fetchall()}
        for table, columns, prefix, keyed in SQLITE_TABLES:
            if f"{prefix}_fts" not in present or (keyed and not keyed_index):
                continue  # the index migration has not run (yet)
            if set(sqlite_trigger_names(prefix, keyed)) <= present:
                continue
            for statement in [
                *sqlite_triggers(table, columns, prefix, keyed),
                *sqlite_rebuild(table, columns, prefix, keyed),
            ]:
                cursor.execute(statement)


# --- queries ------------------------------------------------------------------


class QueryError(ValueError):
    """The search text cannot be searched (empty, too long, too many words)."""


@dataclass(frozen=True)
class Term:
    text: str

    @property
    def short(self) -> bool:
        return len(self.text) <= SHORT_TERM

    @property
    def exact_in_grams(self) -> bool:
        """Return whether the term is itself one of the grams (猫, 图标, ai)."""
        return self.text.lower() in grams(self.text)

    def as_grams(self) -> list[str]:
        """Return the grams that must all be present for a short term to match."""
        if self.exact_in_grams:
            return [self.text.lower()]
        # Mixed, e.g. "A猫": its CJK part narrows the search; an exact check the rest.
        return [g for g in grams(self.text) if CJK_RUN.fullmatch(g)]


@dataclass(frozen=True)
class Filters:
    owner_id: int
    model: str = ""
    since: datetime | None = None
    until: datetime | None = None
    flagged: bool = False
    # None: every conversation; True: only archived ones; False: none archived.
    archived: bool | None = None
    reasoning: bool = False


@dataclass
class Hits:
    message_ids: list[int] = field(default_factory=list)
    has_more: bool = False


def parse_terms(query: str) -> list[Term]:
    """Return the words of a search; raise QueryError when there are none."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"at most {MAX_QUERY_LENGTH} characters")
    words = list(dict.fromkeys(query.split()))
    if not words:
        raise QueryError("empty")
    if len(words) > MAX_TERMS:
        raise QueryError(f"at most {MAX_TERMS} words")
    terms = [Term(w) for w in words]
    for term in terms:
        if term.short and not term.as_grams():
            raise QueryError(f"{term.text!r} is too short to search for")
    return terms


def search_messages(
    terms: list[Term], filters: Filters, *, before: int | None, limit: int
) -> Hits:
    """Return the ids of the newest `limit` matching messages below id `before`."""
    if connection.vendor == "postgresql":
        ids = _pg_message_ids(terms, filters, before, limit + 1)
    else:
        ids = _sqlite_message_ids(terms, filters, before, limit + 1)
    return Hits(ids[:limit], has_more=len(ids) > limit)


def search_titles(terms: list[Term], filters: Filters, *, limit: int) -> list[int]:
    """Return the ids of the newest conversations whose title has every term."""
    if connection.vendor == "postgresql":
        return _pg_title_ids(terms, filters, limit)
    return _sqlite_title_ids(terms, filters, limit)


def highlight_pattern(terms: list[Term]) -> re.Pattern[str]:
    """Return a pattern matching each term the way the index matched it."""
    parts = []
    for term in sorted(terms, key=lambda t: -len(t.text)):
        escaped = re.escape(term.text)
        if term.short and ASCII_WORD.fullmatch(term.text.lower()):
            # Short Latin terms match whole words only (see the module docstring).
            escaped = f"(?<![a-z0-9]){escaped}(?![a-z0-9])"
        parts.append(escaped)
    return re.compile("|".join(parts), re.IGNORECASE)


# --- SQLite -------------------------------------------------------------------


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_match(phrases: list[str], columns: list[str]) -> str:
    column_filter = "{" + " ".join(columns) + "}"
    return f"{column_filter} : ({' AND '.join(phrases)})"


def _sqlite_matches(
    terms: list[Term], columns: list[str]
) -> tuple[str | None, str | None]:
    """Return the MATCH text for the trigram table and for the grams table."""
    long_phrases = [_fts_phrase(t.text) for t in terms if not t.short]
    gram_phrases = [_fts_phrase(g) for t in terms if t.short for g in t.as_grams()]
    return (
        _fts_match(long_phrases, columns) if long_phrases else None,
        _fts_match(gram_phrases, columns) if gram_phrases else None,
    )


def _verify_sql(terms: list[Term], columns: list[str], alias: str) -> Iterator:
    """Yield (sql, params) checking short terms the grams cannot decide alone."""
    for term in terms:
        if term.short and not term.exact_in_grams:
            checks = " OR ".join(
                f"instr(lower({alias}.{column}), %s) > 0" for column in columns
            )
            yield f"({checks})", [term.text.lower()] * len(columns)


def _message_filter_sql(filters: Filters) -> tuple[list[str], list]:
    # A message a reviewer hid is never found: its text must not show in a snippet.
    # m.owner_id (kept by the database, migration 0006) is what the index knows;
    # the conversation's owner decides.
    where = ["m.owner_id = %s", "m.hidden_at IS NULL"]
    params: list = [filters.owner_id]
    if connection.vendor != "postgresql":
        # PostgreSQL: not this too, or its planner may read the owner's
        # conversations first and compute history_grams() on each of their messages.
        where.append("c.owner_id = %s")
        params.append(filters.owner_id)
    if filters.model:
        where.append("c.model = %s")
        params.append(filters.model)
    if filters.archived is not None:
        where.append("c.archived = %s")
        params.append(filters.archived)
    # Raw SQL: the value must be written the way the ORM stores it (SQLite: UTC text).
    adapt = connection.ops.adapt_datetimefield_value
    if filters.since is not None:
        where.append("m.created_at >= %s")
        params.append(adapt(filters.since))
    if filters.until is not None:
        where.append("m.created_at < %s")
        params.append(adapt(filters.until))
    if filters.flagged:
        where.append("(m.input_sensitive OR m.output_sensitive)")
    return where, params


def _sqlite_message_ids(
    terms: list[Term], filters: Filters, before: int | None, limit: int
) -> list[int]:
    columns = ["content", "reasoning"] if filters.reasoning else ["content"]
    trigram_match, gram_match = _sqlite_matches(terms, columns)
    # Only the owner's entries: the walk never reads another user's matches.
    owned = "{owner} : " + _fts_phrase(owner_key(filters.owner_id)) + " AND "
    trigram_match = owned + trigram_match if trigram_match else None
    gram_match = owned + gram_match if gram_match else None
    # The table the walk runs down; the other one, if any, is a filter.
    if trigram_match is not None:
        walk, walk_match = "conversations_message_fts", trigram_match
    else:
        walk, walk_match = "conversations_message_grams", gram_match
    where, params = _message_filter_sql(filters)
    where.insert(0, f"{walk} MATCH %s")
    params.insert(0, walk_match)
    if trigram_match is not None and gram_match is not None:
        where.append(
            "f.rowid IN (SELECT rowid FROM conversations_message_grams"
            " WHERE conversations_message_grams MATCH %s)"
        )
        params.append(gram_match)
    for sql, extra in _verify_sql(terms, columns, "m"):
        where.append(sql)
        params.extend(extra)
    if before is not None:
        where.append("f.rowid < %s")
        params.append(before)
    sql = (
        f"SELECT f.rowid FROM {walk} AS f"
        " JOIN conversations_message AS m ON m.id = f.rowid"
        " JOIN conversations_conversation AS c ON c.id = m.conversation_id"
        f" WHERE {' AND '.join(where)} ORDER BY f.rowid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]


def _sqlite_title_ids(terms: list[Term], filters: Filters, limit: int) -> list[int]:
    trigram_match, gram_match = _sqlite_matches(terms, ["title"])
    if trigram_match is not None:
        walk, walk_match = "conversations_title_fts", trigram_match
    else:
        walk, walk_match = "conversations_title_grams", gram_match
    where = [f"{walk} MATCH %s", "c.owner_id = %s"]
    params: list = [walk_match, filters.owner_id]
    if trigram_match is not None and gram_match is not None:
        where.append(
            "f.rowid IN (SELECT rowid FROM conversations_title_grams"
            " WHERE conversations_title_grams MATCH %s)"
        )
        params.append(gram_match)
    for sql, extra in _verify_sql(terms, ["title"], "c"):
        where.append(sql)
        params.extend(extra)
    if filters.model:
        where.append("c.model = %s")
        params.append(filters.model)
    if filters.archived is not None:
        where.append("c.archived = %s")
        params.append(filters.archived)
    sql = (
        f"SELECT f.rowid FROM {walk} AS f"
        " JOIN conversations_conversation AS c ON c.id = f.rowid"
        f" WHERE {' AND '.join(where)} ORDER BY f.rowid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]


# --- PostgreSQL ---------------------------------------------------------------


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _pg_term_sql(term: Term, columns: list[str], alias: str) -> tuple[str, list]:
    """Return the condition for one term, written so that an index answers it."""
    if not term.short:
        sql = " OR ".join(f"{alias}.{column} ILIKE %s" for column in columns)
        return f"({sql})", [_like_pattern(term.text)] * len(columns)
    # The expression must be the indexed one, history_grams(<column>), as is.
    sql = " OR ".join(
        f"history_grams({alias}.{column}) @> %s::text[]" for column in columns
    )
    params: list = [term.as_grams()] * len(columns)
    if not term.exact_in_grams:
        exact = " OR ".join(f"{alias}.{column} ILIKE %s" for column in columns)
        sql = f"({sql}) AND ({exact})"
        params += [_like_pattern(term.text)] * len(columns)
    return f"({sql})", params


def _pg_message_ids(
    terms: list[Term], filters: Filters, before: int | None, limit: int
) -> list[int]:
    columns = ["content", "reasoning"] if filters.reasoning else ["content"]
    filter_where, filter_params = _message_filter_sql(filters)
    term_sql, term_params = [], []
    for term in terms:
        sql, extra = _pg_term_sql(term, columns, "m")
        term_sql.append(sql)
        term_params.extend(extra)
    where = filter_where + term_sql
    params = filter_params + term_params
    window_sql = (
        "SELECT m.id FROM conversations_message AS m"
        " JOIN conversations_conversation AS c ON c.id = m.conversation_id"
        f" WHERE {' AND '.join(where)} AND m.id >= %s AND m.id < %s"
        " ORDER BY m.id DESC LIMIT %s"
    )
    # All of the owner's matches below an id, as long as there are few: only the
    # (owner_id, text) indexes can answer it (`m.id + 0` keeps the id index out).
    probe_sql = (
        "SELECT m.id FROM conversations_message AS m"
        f" WHERE m.owner_id = %s AND {' AND '.join(term_sql)} AND m.id + 0 < %s"
        " LIMIT %s"
    )
    probe_params = [filters.owner_id, *term_params]
    found: list[int] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM conversations_message")
        lowest, highest = cursor.fetchone()
        if lowest is None:
            return []
        high = min(before, highest + 1) if before is not None else highest + 1
        walk = _WindowWalk(limit, window=FIRST_WINDOW)
        while high > lowest and len(found) < limit:
            if walk.probe_pays(len(found), high - lowest):
                walk.probed = True
                candidates = _pg_probe(cursor, probe_sql, [*probe_params, high])
                if candidates is not None:
                    found.extend(
                        _pg_keep(
                            cursor,
                            filter_where,
                            filter_params,
                            candidates,
                            limit - len(found),
                        )
                    )
                    break
            low = max(high - walk.window, lowest)
            cursor.execute(window_sql, [*params, low, high, limit - len(found)])
            found.extend(row[0] for row in cursor.fetchall())
            walk.searched(high - low, len(found))
            high = low
    return found


@dataclass
class _WindowWalk:
    """How wide the next id window is, and whether to probe instead.

    The windows searched so far tell how dense the matches are: the next window is
    sized to fill the page at that density (with room to spare), so a word found a
    few times per window (图标: 0.3% of the rows) takes two windows, not one per
    four-fold growth step. The probe runs once, when the matches left below are
    expected to be few enough for it (none found yet: a rare word, or none at all).
    """

    limit: int
    window: int
    scanned: int = 0
    probed: bool = False

    def probe_pays(self, found: int, ids_left: int) -> bool:
        if self.probed or self.scanned == 0:
            return False
        expected_left = found / self.scanned * ids_left
        return expected_left <= PROBE_LIMIT / 2

    def searched(self, width: int, found: int) -> None:
        self.scanned += width
        if found == 0:
            self.window = min(self.window * WINDOW_GROWTH, MAX_WINDOW)
            return
        missing = self.limit - found
        needed = math.ceil(missing * self.scanned / found * WINDOW_MARGIN)
        self.window = max(FIRST_WINDOW, min(needed, MAX_WINDOW))


def _pg_probe(cursor, sql: str, params: list) -> list[int] | None:
    """Return every id the probe finds, or None when there are more than PROBE_LIMIT.

    A word the newest window did not fill a page with is rare for this user, or
    absent: one pass over the owner's index entries finds all of it, where the id
    windows would search the index once per window (16 at 1,000,000 messages).
    """
    # The planner may not know the word is rare for this user (its estimate comes
    # from the whole table) and pick a sequential scan; never here.
    cursor.execute("SET enable_seqscan = off")
    try:
        cursor.execute(sql, [*params, PROBE_LIMIT + 1])
        ids = [row[0] for row in cursor.fetchall()]
    finally:
        cursor.execute("RESET enable_seqscan")
    return ids if len(ids) <= PROBE_LIMIT else None


def _pg_keep(cursor, where: list[str], params: list, ids: list[int], limit: int):
    """Return the newest `limit` of `ids` that pass the filters.

    The probe has matched the terms already; only the filters (hidden, model,
    dates, archived...) are left, checked on the newest candidates first, a few
    pages' worth at a time, so that a thousand candidates cost a page's reads.
    """
    kept: list[int] = []
    newest_first = sorted(ids, reverse=True)
    step = limit * KEEP_BATCH_PAGES
    for start in range(0, len(newest_first), step):
        batch = newest_first[start : start + step]
        cursor.execute(
            "SELECT m.id FROM conversations_message AS m"
            " JOIN conversations_conversation AS c ON c.id = m.conversation_id"
            f" WHERE {' AND '.join(where)} AND m.id = ANY(%s)"
            " ORDER BY m.id DESC LIMIT %s",
            [*params, batch, limit - len(kept)],
        )
        kept.extend(row[0] for row in cursor.fetchall())
        if len(kept) >= limit:
            break
    return kept


def _pg_title_ids(terms: list[Term], filters: Filters, limit: int) -> list[int]:
    # A user has thousands of conversations, not millions: one query, sorted.
    where = ["c.owner_id = %s"]
    params: list = [filters.owner_id]
    for term in terms:
        sql, extra = _pg_term_sql(term, ["title"], "c")
        where.append(sql)
        params.extend(extra)
    if filters.model:
        where.append("c.model = %s")
        params.append(filters.model)
    if filters.archived is not None:
        where.append("c.archived = %s")
        params.append(filters.archived)
    sql = (
        "SELECT c.id FROM conversations_conversation AS c"
        f" WHERE {' AND '.join(where)} ORDER BY c.id DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]
