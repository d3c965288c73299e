"""The conversation list (GET /api/conversations/), rename, pin, archive, titles."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import titles, upstream
from conversations.history import group_of
from conversations.minimax.client import ChatResult
from conversations.minimax.errors import RateLimited
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client, user):
    client.force_login(user)
    return client


def make(owner, title, *, ago=timedelta(0), **fields):
    conversation = Conversation.objects.create(
        owner=owner, title=title, model="MiniMax-M1", **fields
    )
    # auto_now would stamp "now": set the activity time the test needs.
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - ago
    )
    return conversation


def listing(client, **params):
    response = client.get("/api/conversations/", params)
    assert response.status_code == 200, response.content
    return response.json()


def patch(client, conversation_id, payload):
    return client.patch(
        f"/api/conversations/{conversation_id}/",
        payload,
        content_type="application/json",
    )


# --- the list -------------------------------------------------------------------------


def test_list_is_pinned_first_then_newest_activity_with_groups(ada, user, other_user):
    make(user, "long ago", ago=timedelta(days=90))
    make(user, "last week", ago=timedelta(days=5))
    make(user, "yesterday", ago=timedelta(days=1))
    make(user, "pinned", ago=timedelta(days=200), pinned=True)
    make(user, "now")
    make(user, "shelved", archived=True)
    make(other_user, "bob's")
    items = listing(ada)["conversations"]
    assert [c["title"] for c in items] == [
        "pinned",
        "now",
        "yesterday",
        "last week",
        "long ago",
    ]
    groups = [c["group"] for c in items]
    assert groups[:4] == ["pinned", "today", "yesterday", "previous_7_days"]
    assert groups[4] == (timezone.now() - timedelta(days=90)).strftime("%Y-%m")


def test_archived_list_and_restore(ada, user):
    shelved = make(user, "shelved", archived=True)
    assert [c["id"] for c in listing(ada, archived=1)["conversations"]] == [shelved.pk]
    assert patch(ada, shelved.pk, {"archived": False}).status_code == 200
    assert [c["id"] for c in listing(ada)["conversations"]] == [shelved.pk]
    assert listing(ada, archived=1)["conversations"] == []


def test_groups_follow_the_users_time_zone():
    shanghai, utc = ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")
    late_evening_utc = Conversation(updated_at=datetime(2026, 12, 1, 20, 0, tzinfo=UTC))
    # 20:00 UTC on 1 Dec is 04:00 on 2 Dec in Shanghai.
    assert group_of(late_evening_utc, date(2026, 12, 2), shanghai) == "today"
    assert group_of(late_evening_utc, date(2026, 12, 2), utc) == "yesterday"
    assert group_of(late_evening_utc, date(2026, 12, 8), utc) == "previous_7_days"
    assert group_of(late_evening_utc, date(2026, 12, 9), utc) == "previous_30_days"
    assert group_of(late_evening_utc, date(2026, 12, 31), utc) == "previous_30_days"
    assert group_of(late_evening_utc, date(2027, 1, 1), utc) == "2026-12"


def test_list_takes_tz_from_the_query(ada, user):
    make(user, "x")
    assert listing(ada, tz="Asia/Shanghai")["tz"] == "Asia/Shanghai"
    assert listing(ada)["tz"] == "UTC"  # the site's TIME_ZONE


def test_list_pages_hold_every_conversation_once_in_order(ada, user):
    made = [make(user, f"c{n}", ago=timedelta(minutes=n)) for n in range(120)]
    make(user, "pinned", ago=timedelta(days=3), pinned=True)
    seen, cursor, pages = [], None, 0
    while True:
        body = listing(ada, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert len(body["conversations"]) <= 50
        seen += [c["title"] for c in body["conversations"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["pinned"] + [c.title for c in made]


def test_list_pages_read_a_constant_number_of_queries(ada, user):
    for n in range(5):
        make(user, f"c{n}")
    with CaptureQueriesContext(connection) as few:
        listing(ada)
    for n in range(60):
        make(user, f"d{n}")
    with CaptureQueriesContext(connection) as many:
        body = listing(ada, limit=100)
    assert len(body["conversations"]) == 65
    assert len(many) == len(few)


def test_list_refuses_bad_parameters_naming_them(ada):
    for params, field in [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"tz": "Nowhere/City"}, "tz"),
        ({"limit": "500"}, "limit"),
        ({"archived": "perhaps"}, "archived"),
    ]:
        response = ada.get("/api/conversations/", params)
        assert response.status_code == 400
        assert field in response.json()["errors"]


def test_creating_still_works_on_the_same_url(ada):
    response = ada.post(
        "/api/conversations/", {"model": "MiniMax-M1"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert ada.put("/api/conversations/").status_code == 405


# --- rename, pin, archive, delete -----------------------------------------------------


def test_rename_marks_the_title_as_the_users(ada, user):
    conversation = make(user, "first words")
    response = patch(ada, conversation.pk, {"title": "  My   trip  "})
    assert response.status_code == 200
    assert response.json()["title"] == "My trip"
    conversation.refresh_from_db()
    assert (conversation.title, conversation.title_source) == ("My trip", "user")


def test_pinning_does_not_move_the_conversation_by_activity(ada, user):
    older = make(user, "older", ago=timedelta(days=2))
    before = Conversation.objects.get(pk=older.pk).updated_at
    assert patch(ada, older.pk, {"pinned": True}).json()["pinned"] is True
    assert Conversation.objects.get(pk=older.pk).updated_at == before
    assert listing(ada)["conversations"][0]["group"] == "pinned"


def test_wrong_types_are_a_400_naming_the_field(ada, user):
    conversation = make(user, "x")
    for payload, field in [
        ({"pinned": "yes"}, "pinned"),
        ({"archived": 1}, "archived"),
        ({"title": 5}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"temperature": 7}, "temperature"),
    ]:
        response = patch(ada, conversation.pk, payload)
        assert response.status_code == 400, payload
        assert field in response.json()["errors"], payload
    conversation.refresh_from_db()
    assert (conversation.title, conversation.pinned) == ("x", False)


def test_settings_and_history_fields_in_one_patch(ada, user):
    conversation = make(user, "x")
    response = patch(ada, conversation.pk, {"temperature": 0.5, "title": "Named"})
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert (conversation.temperature, conversation.title) == (0.5, "Named")
    # A bad setting saves nothing, not even the valid title next to it.
    assert (
        patch(ada, conversation.pk, {"top_p": 9, "title": "Other"}).status_code == 400
    )
    conversation.refresh_from_db()
    assert conversation.title == "Named"


def test_delete_removes_the_conversation_and_its_messages(ada, user):
    conversation = make(user, "x")
    Message.objects.create(conversation=conversation, role="user", content="hi")
    assert ada.delete(f"/api/conversations/{conversation.pk}/").status_code == 204
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()
    assert ada.get(f"/api/conversations/{conversation.pk}/").status_code == 404


def test_another_users_conversation_is_a_404_on_every_method(ada, other_user):
    theirs = make(other_user, "bob's")
    url = f"/api/conversations/{theirs.pk}/"
    assert ada.get(url).status_code == 404
    assert patch(ada, theirs.pk, {"title": "mine now"}).status_code == 404
    assert patch(ada, theirs.pk, {"pinned": True}).status_code == 404
    assert ada.delete(url).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.title, theirs.pinned) == ("bob's", False)


def test_the_api_needs_a_signed_in_user(client, user):
    conversation = make(user, "x")
    assert client.get("/api/conversations/").status_code == 401
    assert client.delete(f"/api/conversations/{conversation.pk}/").status_code == 401


# --- automatic titles -----------------------------------------------------------------


class TitleModel:
    """Stands in for MiniMaxClient.complete(): returns a text or raises."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []

    async def complete(self, request):
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return ChatResult(text=self.answer)


@pytest.fixture
def title_model(monkeypatch):
    def install(answer):
        model = TitleModel(answer)
        monkeypatch.setattr(upstream, "get_minimax_client", lambda: model)
        return model

    return install


def first_exchange(user, question="学习三星堆正确拍照姿势，有什么技巧？"):
    conversation = Conversation.objects.create(
        owner=user, model="MiniMax-Text-01", dialect="v2", title=question[:60]
    )
    Message.objects.create(conversation=conversation, role="user", content=question)
    Message.objects.create(
        conversation=conversation, role="assistant", content="先找好光线……"
    )
    return conversation


@pytest.mark.django_db(transaction=True)
async def test_title_from_the_model_replaces_the_first_words(user, title_model):
    model = title_model("标题：“三星堆拍照技巧”。\n多余的一行")
    conversation = await _sync(first_exchange, user)
    assert await titles.suggest_title(conversation.pk) == "三星堆拍照技巧"
    await _sync(conversation.refresh_from_db)
    assert conversation.title == "三星堆拍照技巧"
    assert conversation.title_source == "auto"
    request = model.requests[0]
    assert request.stream is False and request.max_tokens <= 64
    assert "标题" in request.messages[0].content  # asked in the user's language


@pytest.mark.django_db(transaction=True)
async def test_a_reasoning_model_gets_room_to_think_first(user, title_model):
    model = title_model("Glaciers")
    conversation = await _sync(first_exchange, user, "How do glaciers move?")
    await _sync(
        Conversation.objects.filter(pk=conversation.pk).update, model="MiniMax-M1"
    )
    assert await titles.suggest_title(conversation.pk) == "Glaciers"
    assert model.requests[0].max_tokens > 64
    assert "Write a short title" in model.requests[0].messages[0].content


@pytest.mark.django_db(transaction=True)
async def test_only_the_first_exchange_is_titled(user, title_model):
    model = title_model("Something else")
    conversation = await _sync(first_exchange, user, "How do glaciers move?")
    await _sync(
        Message.objects.create, conversation=conversation, role="user", content="More?"
    )
    assert await titles.suggest_title(conversation.pk) is None
    assert model.requests == []


@pytest.mark.django_db(transaction=True)
async def test_a_title_the_user_typed_is_never_replaced(user, title_model):
    title_model("Model title")
    conversation = await _sync(first_exchange, user)
    await _sync(
        Conversation.objects.filter(pk=conversation.pk).update,
        title="Mine",
        title_source="user",
    )
    assert await titles.suggest_title(conversation.pk) is None
    await _sync(conversation.refresh_from_db)
    assert conversation.title == "Mine"


@pytest.mark.django_db(transaction=True)
async def test_a_failed_title_call_keeps_the_first_words(user, title_model):
    title_model(RateLimited("slow down"))
    conversation = await _sync(first_exchange, user, "How do glaciers move?")
    assert await titles.suggest_title(conversation.pk) is None
    await _sync(conversation.refresh_from_db)
    assert conversation.title == "How do glaciers move?"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("model", "dialect"), [("MiniMax-M1", "v2"), ("abab6.5s-chat", "pro")]
)
async def test_title_through_the_offline_simulator(
    user, offline_minimax, model, dialect
):
    conversation = await _sync(first_exchange, user, "How do glaciers move?")
    await _sync(
        Conversation.objects.filter(pk=conversation.pk).update,
        model=model,
        dialect=dialect,
    )
    title = await titles.suggest_title(conversation.pk)
    await _sync(conversation.refresh_from_db)
    assert title and conversation.title == title
    assert len(title) <= 60 and "\n" not in title


def test_clean_title():
    assert titles.clean_title('"Trip to Chengdu."') == "Trip to Chengdu"
    assert titles.clean_title("Title: **Glaciers**\nmore") == "Glaciers"
    assert titles.clean_title("《三星堆》") == "三星堆"
    assert len(titles.clean_title("word " * 40)) <= 60
    assert titles.clean_title("  \n ") == ""


async def _sync(function, *args, **kwargs):
    # database_sync_to_async closes the connection after use, as the site does;
    # Django's a* methods would leave it open and block dropping the test database.
    return await database_sync_to_async(function)(*args, **kwargs)
