"""History search (GET /api/search/): the index on SQLite and on PostgreSQL.

Run on both databases (Makefile DB_TESTS): every write path must keep the index in
step (create, checkpoint-style save, bulk update, delete, cascade), and Chinese of
one, two and three or more characters must be found.
"""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import search
from conversations.checks import _check_postgresql, check_search_index
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client, user):
    client.force_login(user)
    return client


def say(conversation, content, role="user", **fields):
    return Message.objects.create(
        conversation=conversation, role=role, content=content, **fields
    )


def find(client, q, **params):
    response = client.get("/api/search/", {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()


def found_ids(client, q, **params):
    return [r["message_id"] for r in find(client, q, **params)["results"]]


# --- what is found --------------------------------------------------------------------


def test_english_word_is_found_whatever_its_case(ada, conversation):
    hit = say(conversation, "How do I configure Nginx as a reverse proxy?")
    say(conversation, "Something else entirely")
    assert found_ids(ada, "nginx") == [hit.pk]
    assert found_ids(ada, "REVERSE proxy") == [hit.pk]


def test_chinese_word_inside_a_sentence_is_found(ada, conversation):
    hit = say(conversation, "学习三星堆正确拍照姿势")
    say(conversation, "今天天气很好")
    assert found_ids(ada, "三星堆") == [hit.pk]


def test_one_and_two_character_chinese_queries_are_found(ada, conversation):
    cat = say(conversation, "我家的猫很可爱")
    icon = say(conversation, "帮我设计一个应用图标")
    last = say(conversation, "换个图标")  # 图标 is the text's last two characters
    assert found_ids(ada, "猫") == [cat.pk]
    assert found_ids(ada, "图标") == [last.pk, icon.pk]
    assert found_ids(ada, "电力") == []


def test_mixed_chinese_and_english_query(ada, conversation):
    hit = say(conversation, "用 Python 画一只猫")
    say(conversation, "用 Python 写爬虫")
    assert found_ids(ada, "python 猫") == [hit.pk]
    assert found_ids(ada, "Python画") == []
    assert found_ids(ada, "画一只") == [hit.pk]


def test_short_latin_query_matches_whole_words(ada, conversation):
    hit = say(conversation, "Is AI going to replace us?")
    say(conversation, "She said hello")
    assert found_ids(ada, "ai") == [hit.pk]


def test_a_word_from_an_answer_is_found(ada, conversation):
    say(conversation, "Tell me about volcanoes")
    answer = say(conversation, "Krakatoa erupted in 1883.", role="assistant")
    assert found_ids(ada, "krakatoa") == [answer.pk]


def test_reasoning_is_searched_only_when_asked(ada, conversation):
    answer = say(
        conversation, "The answer is 42.", role="assistant", reasoning="思考宇宙的意义"
    )
    assert found_ids(ada, "宇宙") == []
    result = find(ada, "宇宙", reasoning=1)["results"]
    assert [r["message_id"] for r in result] == [answer.pk]
    assert result[0]["field"] == "reasoning"
    assert found_ids(ada, "意义", reasoning=1) == [answer.pk]


def test_titles_are_searched(ada, user):
    titled = Conversation.objects.create(
        owner=user, model="MiniMax-M1", title="三星堆旅行计划"
    )
    Conversation.objects.create(owner=user, model="MiniMax-M1", title="Other")
    body = find(ada, "三星堆")
    assert [c["conversation_id"] for c in body["conversations"]] == [titled.pk]
    assert body["conversations"][0]["highlights"] == [[0, 3]]
    assert [c["conversation_id"] for c in find(ada, "旅")["conversations"]] == [
        titled.pk
    ]


# --- the index follows every write ----------------------------------------------------


def test_deleted_messages_and_conversations_are_no_longer_found(ada, user):
    first = Conversation.objects.create(owner=user, model="MiniMax-M1")
    second = Conversation.objects.create(owner=user, model="MiniMax-M1", title="猫猫")
    gone = say(first, "unicorn 独角兽")
    say(second, "unicorn 独角兽 again")
    gone.delete()
    assert len(found_ids(ada, "unicorn")) == 1
    second.delete()  # cascades to its messages
    assert found_ids(ada, "unicorn") == []
    assert found_ids(ada, "独角兽") == []
    assert found_ids(ada, "独") == []
    assert find(ada, "猫")["conversations"] == []


def test_checkpoints_and_bulk_updates_keep_the_index_in_step(ada, conversation):
    reply = say(conversation, "", role="assistant", status="streaming")
    reply.content = "Partial answer about glaciers"
    reply.save(update_fields=["content"])  # how a reply's checkpoint writes
    assert found_ids(ada, "glaciers") == [reply.pk]
    Message.objects.filter(pk=reply.pk).update(content="全部改成冰川")
    assert found_ids(ada, "glaciers") == []
    assert found_ids(ada, "冰川") == [reply.pk]
    assert found_ids(ada, "冰") == [reply.pk]
    Conversation.objects.filter(pk=conversation.pk).update(title="Renamed in bulk")
    assert [c["conversation_id"] for c in find(ada, "bulk")["conversations"]] == [
        conversation.pk
    ]


# --- order, pages, filters ------------------------------------------------------------


def test_results_come_newest_first_in_pages(ada, conversation, monkeypatch):
    # Small id windows, so PostgreSQL's window walk is exercised too.
    monkeypatch.setattr(search, "FIRST_WINDOW", 4)
    ids = [say(conversation, f"common word {n}").pk for n in range(25)]
    for n in range(10):
        say(conversation, f"filler {n}")
    first = find(ada, "common")
    assert [r["message_id"] for r in first["results"]] == ids[::-1][:20]
    assert first["next"]
    second = find(ada, "common", cursor=first["next"])
    assert [r["message_id"] for r in second["results"]] == ids[::-1][20:]
    assert second["next"] is None
    assert second["conversations"] == []


def test_search_reads_the_same_number_of_queries_for_any_number_of_hits(
    ada, conversation
):
    say(conversation, "needle")
    with CaptureQueriesContext(connection) as few:
        assert len(found_ids(ada, "needle")) == 1
    for _ in range(15):
        say(conversation, "needle in a haystack")
    with CaptureQueriesContext(connection) as many:
        assert len(found_ids(ada, "needle")) == 16
    assert len(many) == len(few)


def test_filters_model_dates_flagged_archived(ada, user):
    m1 = Conversation.objects.create(owner=user, model="MiniMax-M1")
    old = Conversation.objects.create(owner=user, model="MiniMax-Text-01")
    shelved = Conversation.objects.create(owner=user, model="MiniMax-M1", archived=True)
    recent = say(m1, "report draft")
    flagged = say(m1, "report flagged", input_sensitive=True)
    long_ago = say(
        old, "report from last year", created_at=timezone.now() - timedelta(days=400)
    )
    archived = say(shelved, "report archived")
    assert found_ids(ada, "report") == [archived.pk, long_ago.pk, flagged.pk, recent.pk]
    assert found_ids(ada, "report", model="MiniMax-Text-01") == [long_ago.pk]
    assert found_ids(ada, "report", flagged=1) == [flagged.pk]
    assert found_ids(ada, "report", archived=0) == [long_ago.pk, flagged.pk, recent.pk]
    assert found_ids(ada, "report", archived=1) == [archived.pk]
    year_ago = (timezone.now() - timedelta(days=400)).date().isoformat()
    assert found_ids(ada, "report", to=year_ago) == [long_ago.pk]
    today = timezone.now().date().isoformat()
    assert long_ago.pk not in found_ids(ada, "report", **{"from": today})


def test_bad_parameters_are_a_400_naming_them(ada):
    for params, field in [
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "é"}, "q"),
        ({"q": "ok", "cursor": "abc"}, "cursor"),
        ({"q": "ok", "from": "yesterday"}, "from"),
        ({"q": "ok", "flagged": "maybe"}, "flagged"),
        ({"q": "ok", "tz": "Mars/Olympus"}, "tz"),
        ({"q": "ok", "limit": "0"}, "limit"),
    ]:
        response = ada.get("/api/search/", params)
        assert response.status_code == 400, params
        assert field in response.json()["errors"], params


# --- snippets -------------------------------------------------------------------------


def test_snippet_is_plain_text_with_match_ranges(ada, conversation):
    say(
        conversation, "<script>alert(1)</script> 学习三星堆正确拍照姿势 😀 three 三星堆"
    )
    result = find(ada, "三星堆")["results"][0]
    snippet = result["snippet"]
    assert snippet.startswith("<script>")  # text, for textContent; never HTML
    # Ranges are JavaScript (UTF-16) indices: the emoji counts two.
    utf16 = snippet.encode("utf-16-le")
    marked = [utf16[2 * a : 2 * b].decode("utf-16-le") for a, b in result["highlights"]]
    assert marked == ["三星堆", "三星堆"]


def test_snippet_of_a_long_message_is_around_the_match(ada, conversation):
    say(conversation, "word " * 200 + "needle " + "word " * 200)
    result = find(ada, "needle")["results"][0]
    assert len(result["snippet"]) < 200
    assert result["snippet"].startswith("…") and result["snippet"].endswith("…")
    start, end = result["highlights"][0]
    assert result["snippet"][start:end] == "needle"


def test_snippet_of_a_markdown_reply_reads_as_text(ada, conversation):
    say(
        conversation,
        "## 要点概览\n> 如何煮**饺子**？\n- 先烧水\n```python\nprint('饺子')\n```\n"
        "*See [the recipe](https://example.com/r)* for 2*3 `dumplings`.",
    )
    result = find(ada, "饺子")["results"][0]
    snippet = result["snippet"]
    assert snippet == (
        "要点概览 如何煮饺子？ 先烧水 print('饺子') See the recipe for 2*3 dumplings."
    )
    marked = [snippet[a:b] for a, b in result["highlights"]]
    assert marked == ["饺子", "饺子"]


# --- owner scoping --------------------------------------------------------------------


def test_another_users_messages_are_never_found(ada, other_user):
    theirs = Conversation.objects.create(
        owner=other_user, model="MiniMax-M1", title="secret plan"
    )
    say(theirs, "secret plan 秘密")
    body = find(ada, "secret")
    assert body["results"] == [] and body["conversations"] == []
    assert found_ids(ada, "秘密") == []


def test_search_needs_a_signed_in_user(client):
    assert client.get("/api/search/", {"q": "x"}).status_code == 401


# --- the databases agree --------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL computes grams in SQL"
)
def test_postgresql_grams_match_the_python_ones():
    samples = ["学习三星堆 AI is ok", "ＡＢ猫 x1 abc 图标。カタカナ 한국어", ""]
    with connection.cursor() as cursor:
        for text in samples:
            cursor.execute("SELECT history_grams(%s)", [text])
            assert sorted(cursor.fetchone()[0]) == search.grams(text)


def regex_grams(text):
    """grams() as first written, with regular expressions over the text: the
    definition the quicker version must keep."""
    lowered = text.lower()
    found = set()
    for run in search.CJK_RUN.findall(lowered):
        found.update(run)
        found.update(run[i : i + 2] for i in range(len(run) - 1))
    found.update(w for w in search.ASCII_WORD.findall(lowered) if len(w) <= 2)
    return sorted(found)


def test_grams_are_short_ascii_words_and_cjk_characters_and_pairs():
    assert search.grams("学习 AI is OK, said x1 abc → ok") == [
        "ai",
        "is",
        "ok",
        "x1",
        "习",
        "学",
        "学习",
    ]


def test_grams_agree_with_their_regular_expression_definition():
    # Each end of CJK_RANGES and a character just outside, letters that lowercase
    # to ASCII (Kelvin sign, dotted I), other digits, fullwidth letters, emoji, a
    # lone surrogate.
    alphabet = (
        "ab1 Z,.-_é\u0130\u212a²١Ａ🙂中文日本語한국어かカ"
        "\u303f\u3040\u30ff\u3100\u33ff\u3400\u4dbf\u4e00\u9fff\ua000"
        "\uabff\uac00\ud7af\ud7b0\uf8ff\uf900\ufaff\ufb00\ud800"
    )
    rng = random.Random(7)
    texts = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for _ in range(3000)
    ]
    for text in texts:
        assert search.grams(text) == regex_grams(text), repr(text)


def test_the_test_database_passes_the_index_check():
    assert check_search_index(databases=["default"]) == []


class FakeCursor:
    def __init__(self, rows):
        self.rows = list(rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=None):
        pass

    def fetchone(self):
        return self.rows.pop(0)


class FakeConnection:
    def __init__(self, rows):
        self.rows = rows

    def cursor(self):
        return FakeCursor(self.rows)


def test_a_c_ctype_database_gets_a_warning():
    blind = _check_postgresql("default", FakeConnection([("C",), ([],)]))
    assert [w.id for w in blind] == ["conversations.W001"]
    assert _check_postgresql("default", FakeConnection([("C.UTF-8",), (["x"],)])) == []


def test_date_filters_are_local_days_in_tz(ada, conversation):
    from datetime import UTC, datetime

    # 20:00 UTC on 30 Nov is 04:00 on 1 Dec in Shanghai.
    evening = say(
        conversation, "late report", created_at=datetime(2026, 11, 30, 20, tzinfo=UTC)
    )
    day = {"from": "2026-12-01", "to": "2026-12-01"}
    assert found_ids(ada, "report", tz="Asia/Shanghai", **day) == [evening.pk]
    assert found_ids(ada, "report", tz="UTC", **day) == []
    assert found_ids(ada, "report", tz="UTC", to="2026-11-30") == [evening.pk]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite keeps triggers")
def test_a_migration_that_rebuilds_the_message_table_does_not_break_search(
    ada, conversation
):
    # What Django does on SQLite for most field changes: a new table, the old one
    # (and its triggers) dropped. Messages written meanwhile are not indexed.
    with connection.cursor() as cursor:
        for name in search.sqlite_trigger_names("conversations_message"):
            cursor.execute(f"DROP TRIGGER {name}")
    say(conversation, "a platypus written while the triggers were gone")

    search.repair_sqlite_index(
        sender=type("App", (), {"name": "conversations"}), using="default"
    )
    say(conversation, "a second platypus, after the repair")

    assert len(found_ids(ada, "platypus")) == 2


def test_a_message_a_reviewer_hid_is_never_found(ada, conversation):
    say(conversation, "the okapi lives in the forest", hidden_at=timezone.now())
    shown = say(conversation, "another okapi, not hidden")

    assert found_ids(ada, "okapi") == [shown.pk]


# --- the index is keyed by owner (migration 0006) -------------------------------------


def test_the_database_sets_each_messages_owner_whatever_writes_it(user, other_user):
    conversation = Conversation.objects.create(owner=user, model="MiniMax-M1")
    saved = say(conversation, "saved one by one")
    # bulk_create skips save(); a stale instance's save() writes owner_id=None.
    bulk = Message.objects.bulk_create(
        [Message(conversation=conversation, role="user", content="in bulk")]
    )[0]
    stale = Message.objects.get(pk=saved.pk)
    stale.owner_id = None
    stale.content = "saved again"
    stale.save()

    def owners():
        return set(
            Message.objects.filter(pk__in=[saved.pk, bulk.pk]).values_list(
                "owner_id", flat=True
            )
        )

    assert owners() == {user.pk}
    conversation.owner = other_user
    conversation.save()
    assert owners() == {other_user.pk}


def test_a_conversation_given_to_another_user_is_found_by_them_only(
    client, user, other_user
):
    conversation = Conversation.objects.create(owner=user, model="MiniMax-M1")
    message = say(conversation, "the quokka smiles 袋鼠")
    conversation.owner = other_user
    conversation.save()
    client.force_login(user)
    assert found_ids(client, "quokka") == [] and found_ids(client, "袋鼠") == []
    client.force_login(other_user)
    assert found_ids(client, "quokka") == [message.pk]
    assert found_ids(client, "袋鼠") == [message.pk]
    assert found_ids(client, "袋") == [message.pk]


@pytest.mark.parametrize("probe_limit", [2000, 3])
def test_a_word_common_for_someone_else_finds_only_yours_newest_first(
    ada, user, other_user, monkeypatch, probe_limit
):
    # A tiny first window: PostgreSQL then fetches all of the owner's (few) matches
    # at once, or, past PROBE_LIMIT of them, goes on window by window.
    monkeypatch.setattr(search, "FIRST_WINDOW", 2)
    monkeypatch.setattr(search, "PROBE_LIMIT", probe_limit)
    mine = Conversation.objects.create(owner=user, model="MiniMax-M1")
    theirs = Conversation.objects.create(owner=other_user, model="MiniMax-M1")
    ids = []
    for n in range(24):
        ids.append(say(mine, f"vortex {n} 旋涡").pk)
        for _ in range(3):
            say(theirs, "vortex 旋涡 everywhere")
    hidden = say(mine, "vortex hidden 旋涡", hidden_at=timezone.now())
    gone = say(mine, "vortex deleted 旋涡")
    gone.delete()
    for _ in range(10):
        say(theirs, "vortex 旋涡 newest of all")
    for q in ("vortex", "旋涡", "旋"):
        first = find(ada, q)
        assert [r["message_id"] for r in first["results"]] == ids[::-1][:20]
        second = find(ada, q, cursor=first["next"])
        assert [r["message_id"] for r in second["results"]] == ids[::-1][20:]
        assert second["next"] is None
    assert hidden.pk not in ids


def test_older_matches_are_found_behind_many_newer_hidden_ones(
    ada, user, other_user, monkeypatch
):
    # PostgreSQL: a tiny first window, then the probe; its candidates are filtered
    # newest first a page at a time, so the visible ones lie a batch further down.
    monkeypatch.setattr(search, "FIRST_WINDOW", 2)
    monkeypatch.setattr(search, "KEEP_BATCH_PAGES", 1)
    mine = Conversation.objects.create(owner=user, model="MiniMax-M1")
    theirs = Conversation.objects.create(owner=other_user, model="MiniMax-M1")
    visible = [say(mine, f"narwhal {n} 独角鲸").pk for n in range(5)]
    for _ in range(30):
        say(mine, "narwhal hidden 独角鲸", hidden_at=timezone.now())
    for _ in range(10):
        say(theirs, "narwhal 独角鲸 newest of all")
    for q in ("narwhal", "独角鲸", "独角"):
        assert found_ids(ada, q) == visible[::-1], q


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 tables")
def test_sqlite_index_holds_each_messages_owner(user, other_user):
    mine = Conversation.objects.create(owner=user, model="MiniMax-M1")
    theirs = Conversation.objects.create(owner=other_user, model="MiniMax-M1")
    say(mine, "walrus 海象")
    say(theirs, "walrus 海象")
    say(theirs, "walrus again 海象")
    with connection.cursor() as cursor:
        for table in ("conversations_message_fts", "conversations_message_grams"):
            counts = []
            for owner in (user, other_user):
                phrase = search.owner_key(owner.pk)
                cursor.execute(
                    f"SELECT count(*) FROM {table} WHERE {table} MATCH %s",
                    [f'{{owner}} : "{phrase}"'],
                )
                counts.append(cursor.fetchone()[0])
            assert counts == [1, 2], table


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's GIN")
def test_postgresql_message_indexes_are_keyed_by_owner():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename = 'conversations_message' AND indexdef LIKE '%%gin%%'"
        )
        definitions = dict(cursor.fetchall())
    assert set(definitions) == {
        "message_owner_content_trgm",
        "message_owner_reasoning_trgm",
        "message_owner_content_grams",
        "message_owner_reasoning_grams",
    }
    assert all("(owner_id, " in d for d in definitions.values())
    # (Which index the planner takes depends on the table's size and statistics:
    # bench/history.py measures it at 1,000,000 messages.)
