"""Time the history list and search on a big history, on SQLite or PostgreSQL.

    .venv/bin/python -m bench.history --messages 100000
    scripts/with-postgres .venv/bin/python -m bench.history --messages 100000

Seeds one user with conversations and messages (60% Chinese) and a few other users
with a little each, builds the search index on the seeded rows (timed, and sized),
then requests the list page and search pages through Django's test client (the
whole view: session, ORM, JSON; no network) and prints the median and p95.

With no DATABASE_URL it uses a fresh SQLite file in a temporary folder; with one
(scripts/with-postgres) it uses that database, which it fills and leaves to the
script to throw away. Never point it at a database you want to keep.

`--measure-only` times the searches again on a database an earlier run seeded and
left (DATABASE_URL naming it), without seeding or building the index: seeding and
indexing 1,000,000 messages takes 20-40 minutes, a query change is measured in one.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

OTHER_USERS = 3
# Planted so that each query shape has a known number of matches.
RARE_PLANTS = 20
CHINESE_SHARE = 0.6
SEARCHES = [
    ("rare English word", "krakatoa"),
    ("common English word", "model"),
    ("rare Chinese word (3 chars)", "三星堆"),
    ("common Chinese word (2 chars)", "学习"),
    ("Chinese word (2 chars)", "图标"),
    ("one Chinese character", "猫"),
    ("no match (English)", "zzyzxq"),
    ("no match (2 Chinese chars)", "电力"),
    ("common word, page 2", "model&page2"),
]
# Kept out of the random text so that the planted words are the only matches.
RESERVED = set("电力三星堆猫图标学习")
# "vortex" and "model" are kept out of the random English words too.


def setup_django(workdir: Path) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    # One persistent connection (below), which psycopg's pool does not allow.
    os.environ.setdefault("DATABASE_POOL", "0")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    # One connection for the run: the figures are the view's own time. What a new
    # connection per request adds is printed apart (connect_cost).
    connection.settings_dict["CONN_MAX_AGE"] = None

    call_command("migrate", verbosity=0)


# --- the history ------------------------------------------------------------------


class Texts:
    """Random English and Chinese text with a Zipf-like word frequency."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        syllables = ["ka", "lo", "ri", "men", "tor", "sa", "vel", "qu", "an", "dis"]
        words = {
            "".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(3000)
        }
        common = [
            "the",
            "of",
            "and",
            "to",
            "in",
            "is",
            "that",
            "for",
            "it",
            "with",
            "as",
            "on",
            "be",
            "this",
            "are",
            "you",
        ]
        self.english = common + sorted(words - {"model", "vortex"})
        self.english_weights = [1 / (rank + 1) for rank in range(len(self.english))]
        han = [chr(c) for c in range(0x4E00, 0x9FA6) if chr(c) not in RESERVED]
        self.chinese = rng.sample(han, 3000)
        self.chinese_weights = [1 / (rank + 1) ** 0.9 for rank in range(3000)]

    def english_text(self, words: int) -> str:
        picked = self.rng.choices(self.english, self.english_weights, k=words)
        if self.rng.random() < 0.3:
            picked.insert(self.rng.randrange(len(picked) + 1), "model")
        return " ".join(picked)

    def chinese_text(self, chars: int) -> str:
        picked = self.rng.choices(self.chinese, self.chinese_weights, k=chars)
        for word, share in (("学习", 0.05), ("图标", 0.003), ("猫", 0.01)):
            if self.rng.random() < share:
                picked.insert(self.rng.randrange(len(picked) + 1), word)
        for n in range(10, len(picked), 12):
            picked.insert(n, "，" if n % 3 else "。")
        return "".join(picked)

    def message(self, role: str) -> str:
        long = role == "assistant"
        if self.rng.random() < CHINESE_SHARE:
            return self.chinese_text(self.rng.randint(60, 300) if long else 25)
        return self.english_text(self.rng.randint(40, 120) if long else 12)


def seed(messages: int, rng: random.Random) -> int:
    """Create the users, conversations and messages; return the main user's id."""
    from django.contrib.auth import get_user_model
    from django.db.models import Max

    from conversations.models import Conversation, Message

    users = [
        get_user_model().objects.create_user(f"bench{n}", password="bench-password")
        for n in range(OTHER_USERS + 1)
    ]
    main_user = users[0]
    conversations_count = max(messages // 100, 10)
    start = datetime.now(UTC) - timedelta(days=730)
    step = timedelta(days=730) / messages
    owners = [main_user] * conversations_count + users[1:] * max(
        conversations_count // 100, 1
    )
    conversations = Conversation.objects.bulk_create(
        Conversation(owner=owner, title=f"Conversation {n}", model="MiniMax-M1")
        for n, owner in enumerate(owners)
    )
    texts = Texts(rng)
    plants = {
        word: set(rng.sample(range(messages), RARE_PLANTS))
        for word in ("krakatoa", "三星堆")
    }
    last_activity: dict[int, datetime] = {}
    # Ids given here so each message can name the one before it as its parent
    # (bulk_create skips the linking save() does): one branch per conversation.
    first_id = (Message.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    last_message: dict[int, int] = {}
    batch: list[Message] = []
    for n in range(messages):
        conversation = rng.choice(conversations)
        role = "user" if n % 2 == 0 else "assistant"
        content = texts.message(role)
        if conversation.owner_id == main_user.pk and rng.random() < 0.2:
            # Common for the main user, absent for the others: their worst case.
            content += " vortex"
        for word, chosen in plants.items():
            if n in chosen:
                content = f"{content} {word} {content[:20]}"
        created = start + step * n
        last_activity[conversation.pk] = created
        reasoning = ""
        if role == "assistant" and rng.random() < 0.2:
            reasoning = texts.message("user")
        message_id = first_id + n
        batch.append(
            Message(
                id=message_id,
                parent_id=last_message.get(conversation.pk),
                conversation_id=conversation.pk,
                # The database's trigger would set it; it is dropped while seeding.
                owner_id=conversation.owner_id,
                role=role,
                content=content,
                reasoning=reasoning,
                created_at=created,
            )
        )
        last_message[conversation.pk] = message_id
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    reset_id_sequence(Message)
    for conversation in conversations:
        conversation.updated_at = last_activity.get(conversation.pk, start)
    Conversation.objects.bulk_update(conversations, ["updated_at"], batch_size=5000)
    return main_user.pk


def reset_id_sequence(model) -> None:
    """After explicit ids, move PostgreSQL's sequence past them (SQLite: nothing)."""
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [model]):
            cursor.execute(statement)


# --- the index --------------------------------------------------------------------


def migration():
    """The migration that made the current index (its PG_INDEXES are measured)."""
    return importlib.import_module("conversations.migrations.0006_message_owner")


def drop_index() -> None:
    from django.db import connection

    first = importlib.import_module("conversations.migrations.0003_search_index")
    with connection.schema_editor() as editor:
        migration().drop_message_index(editor)
        first.drop_index(None, editor)


def build_index() -> tuple[float, int]:
    """Build the index over the seeded rows; return seconds and its size in bytes."""
    from django.db import connection

    from conversations import search

    first = importlib.import_module("conversations.migrations.0003_search_index")
    before = database_size()
    started = time.perf_counter()
    with connection.schema_editor() as editor:
        # The titles' index as migration 0003 made it, the messages' as 0006 did.
        if connection.vendor == "postgresql":
            editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            editor.execute(first.PG_GRAMS_FUNCTION)
            for name, table, expression in migration().PG_INDEXES:
                if table == "conversations_conversation":
                    editor.execute(
                        f"CREATE INDEX {name} ON {table} USING gin ({expression})"
                    )
        else:
            connection.connection.create_function(
                "history_grams", 1, search.grams_text, deterministic=True
            )
            for spec in search.SQLITE_TABLES:
                if not spec[3]:
                    for statement in search.sqlite_index_statements(*spec):
                        editor.execute(statement)
        migration().create_message_index(editor)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    if connection.vendor == "postgresql":
        return seconds, postgres_index_size()
    return seconds, database_size() - before


def database_size() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return pages * cursor.fetchone()[0]


def index_sizes() -> list[tuple[str, int]]:
    """Return each part of the search index and its size in bytes."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = [name for name, _table, _expression in migration().PG_INDEXES]
            cursor.execute(
                "SELECT relname, pg_relation_size(oid) FROM pg_class"
                " WHERE relname = ANY(%s) ORDER BY relname",
                [names],
            )
        else:
            # An FTS5 table's index lives in its shadow tables (<name>_data, ...).
            cursor.execute(
                "SELECT name, pgsize FROM dbstat"
                " WHERE name LIKE 'conversations_%_fts_%'"
                " OR name LIKE 'conversations_%_grams_%'"
            )
            sizes: dict[str, int] = {}
            for name, size in cursor.fetchall():
                table = name.rsplit("_", 1)[0]
                sizes[table] = sizes.get(table, 0) + size
            return sorted(sizes.items())
        return [(name, int(size)) for name, size in cursor.fetchall()]


def postgres_index_size() -> int:
    from django.db import connection

    names = [name for name, _table, _expression in migration().PG_INDEXES]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c"
            " WHERE c.relname = ANY(%s)",
            [names],
        )
        return int(cursor.fetchone()[0])


# --- timing -----------------------------------------------------------------------


def connect_cost(repeats: int = 10) -> float:
    """Return the median milliseconds to open a new database connection."""
    from django.db import connection

    timings = []
    for _ in range(repeats):
        connection.close()
        started = time.perf_counter()
        connection.ensure_connection()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def timed(client, url: str, params: dict, repeats: int) -> tuple[list[float], dict]:
    for _ in range(3):
        body = client.get(url, params).json()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url, params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
    return timings, body


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(name: str, timings: list[float], detail: str) -> None:
    print(
        f"  {name:<52} median {statistics.median(timings):7.2f} ms"
        f"   p95 {p95(timings):7.2f} ms   {detail}"
    )


def measure(user_id: int, repeats: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(pk=user_id))
    timings, body = timed(client, "/api/conversations/", {}, repeats)
    report("list, first page", timings, f"{len(body['conversations'])} conversations")
    pages = 1
    cursor = body["next"]
    while pages < 10 and body["next"]:
        cursor = body["next"]
        body = client.get("/api/conversations/", {"cursor": cursor}).json()
        pages += 1
    timings, body = timed(client, "/api/conversations/", {"cursor": cursor}, repeats)
    report(
        f"list, page {pages}", timings, f"{len(body['conversations'])} conversations"
    )
    for name, query in SEARCHES:
        params = {"q": query.split("&")[0]}
        if query.endswith("&page2"):
            params["cursor"] = client.get("/api/search/", params).json()["next"]
        timings, body = timed(client, "/api/search/", params, repeats)
        more = "more" if body["next"] else "last page"
        report(
            f"search {query.split('&')[0]!r} ({name})",
            timings,
            f"{len(body['results'])} results, {more}",
        )


def measure_small_user(repeats: int) -> None:
    """Time searches of a user who owns about 1% of the messages."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username="bench1"))
    for name, query in [
        ("common English word", "model"),
        ("common Chinese word (2 chars)", "学习"),
        ("rare word", "krakatoa"),
        ("common for the main user, none here", "vortex"),
    ]:
        timings, body = timed(client, "/api/search/", {"q": query}, repeats)
        report(
            f"search {query!r} ({name})",
            timings,
            f"{len(body['results'])} results",
        )


def measure_seeded(repeats: int) -> int:
    from django.contrib.auth import get_user_model

    from conversations.models import Message

    main_user = get_user_model().objects.filter(username="bench0").first()
    if main_user is None:
        print("no seeded history here (no user bench0)", file=sys.stderr)
        return 1
    print(f"{Message.objects.count():,} messages seeded earlier")
    print(load_average())
    measure(main_user.pk, repeats)
    print("  another user, who owns about 1% of the messages:")
    measure_small_user(repeats)
    print(load_average())
    return 0


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"  load average (1, 5, 15 min): {one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="time an earlier run's database (DATABASE_URL) without seeding",
    )
    args = parser.parse_args(argv)
    if args.measure_only and "DATABASE_URL" not in os.environ:
        parser.error("--measure-only needs DATABASE_URL naming a seeded database")
    with tempfile.TemporaryDirectory() as workdir:
        setup_django(Path(workdir))
        from django.db import connection

        if args.measure_only:
            return measure_seeded(args.repeats)
        print(
            f"{connection.vendor}: seeding {args.messages:,} messages ...", flush=True
        )
        started = time.perf_counter()
        drop_index()
        user_id = seed(args.messages, random.Random(args.seed))
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        seconds, size = build_index()
        print(f"  search index built in {seconds:.1f} s, {size / 2**20:.1f} MiB")
        for name, part in index_sizes():
            print(f"    {name:<40} {part / 2**20:8.1f} MiB")
        print(f"  database {database_size() / 2**20:.1f} MiB in all")
        print(f"  a new database connection: {connect_cost():.2f} ms (median)")
        print(load_average())
        measure(user_id, args.repeats)
        print("  another user, who owns about 1% of the messages:")
        measure_small_user(args.repeats)
        print(load_average())
    return 0


if __name__ == "__main__":
    sys.exit(main())
