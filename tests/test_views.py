"""The chat page and the JSON API: ownership, validation, CSRF, escaping, queries."""

import json

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client, user):
    client.force_login(user)
    return client


def create(client, **payload):
    return client.post("/api/conversations/", payload, content_type="application/json")


def patch(client, conversation, **payload):
    return client.patch(
        f"/api/conversations/{conversation.pk}/",
        payload,
        content_type="application/json",
    )


# --- the page -------------------------------------------------------------------


def test_new_chat_page_offers_every_model_grouped_by_api(ada):
    response = ada.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="composer"' in html
    assert 'data-testid="model"' in html
    assert '<option value="MiniMax-M2.7" selected>' in html
    assert "chat/completions" in html
    assert '<optgroup label="ChatCompletion Pro API' in html


def test_conversation_page_embeds_its_messages(ada, conversation):
    Message.objects.create(conversation=conversation, role="user", content="Hi there")
    response = ada.get(f"/c/{conversation.pk}/")
    assert response.status_code == 200
    messages = json.loads(
        response.content.decode()
        .split('id="messages-data" type="application/json">')[1]
        .split("</script>")[0]
    )
    assert [m["content"] for m in messages] == ["Hi there"]


def test_model_output_is_never_served_as_html(ada, conversation):
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content='<script>alert("pwned")</script><img src=x onerror=alert(1)>',
    )
    html = ada.get(f"/c/{conversation.pk}/").content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "\\u003Cscript\\u003Ealert" in html


def test_another_users_conversation_is_404(client, other_user, conversation):
    client.force_login(other_user)
    assert client.get(f"/c/{conversation.pk}/").status_code == 404
    assert client.get(f"/api/conversations/{conversation.pk}/").status_code == 404
    assert patch(client, conversation, temperature=0.5).status_code == 404
    conversation.refresh_from_db()
    assert conversation.temperature is None


def test_sidebar_lists_own_conversations_pinned_first_without_archived(
    ada, user, other_user
):
    Conversation.objects.create(owner=user, title="Older", model="MiniMax-M1")
    Conversation.objects.create(
        owner=user, title="Pinned one", model="MiniMax-M1", pinned=True
    )
    Conversation.objects.create(owner=user, title="Newest", model="MiniMax-M1")
    Conversation.objects.create(
        owner=user, title="Shelved away", model="MiniMax-M1", archived=True
    )
    Conversation.objects.create(
        owner=other_user, title="Bob's secret", model="MiniMax-M1"
    )
    html = sidebar(ada.get("/"))
    positions = [html.find(title) for title in ("Pinned one", "Newest", "Older")]
    assert -1 not in positions
    assert positions == sorted(positions)
    # The archived one waits in the "Archived" view, loaded by the script.
    assert "Shelved away" not in html
    assert "Bob&#x27;s secret" not in html and "Bob's secret" not in html
    assert html.count('data-testid="conversation"') == 3


def test_the_sidebar_holds_one_page_and_the_script_loads_the_rest(ada, user):
    for n in range(45):
        Conversation.objects.create(owner=user, title=f"Chat {n}", model="MiniMax-M1")
    response = ada.get("/")
    html = sidebar(response)
    data = json.loads(
        response.content.decode()
        .split('<script id="history-data" type="application/json">')[1]
        .split("</script>")[0]
    )

    assert html.count('data-testid="conversation"') == 40
    assert len(data["conversations"]) == 40
    assert data["conversations"][0]["title"] == "Chat 44"
    rest = ada.get("/api/conversations/", {"cursor": data["next"]}).json()
    assert [c["title"] for c in rest["conversations"]] == [
        f"Chat {n}" for n in range(4, -1, -1)
    ]
    assert "<h3>Today</h3>" in html


def test_an_archived_conversation_says_so_and_offers_restore(ada, user):
    shelved = Conversation.objects.create(
        owner=user, title="Shelved", model="MiniMax-M1", archived=True
    )
    live = Conversation.objects.create(owner=user, title="Live", model="MiniMax-M1")

    archived_page = ada.get(f"/c/{shelved.pk}/").content.decode()
    live_page = ada.get(f"/c/{live.pk}/").content.decode()

    banner = 'data-testid="archived-banner" role="status">'
    assert banner in archived_page and "This conversation is archived." in archived_page
    assert 'data-testid="archived-banner" role="status" hidden>' in live_page


def sidebar(response) -> str:
    """Return the HTML of the conversation list."""
    html = response.content.decode()
    return html.split('<nav id="sidebar"')[1].split("</nav>")[0]


def count_page_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_list_page_queries_do_not_grow_with_conversations(
    ada, user, conversation, django_assert_max_num_queries
):
    Message.objects.create(conversation=conversation, role="user", content="hello")
    url = f"/c/{conversation.pk}/"
    few = count_page_queries(ada, url)
    for n in range(25):
        other = Conversation.objects.create(
            owner=user, title=f"c{n}", model="MiniMax-M1"
        )
        Message.objects.create(conversation=other, role="user", content="x")
    assert count_page_queries(ada, url) == few
    with django_assert_max_num_queries(6):
        ada.get(url)


@override_settings(MINIMAX_API_KEY="")
def test_offline_banner_shows_without_a_key(ada):
    assert "built-in MiniMax simulator" in ada.get("/").content.decode()


@override_settings(MINIMAX_API_KEY="sk-real-looking-key")
def test_no_offline_banner_with_a_key(ada):
    assert "built-in MiniMax simulator" not in ada.get("/").content.decode()


@override_settings(MINIMAX_API_KEY="sk-secret-test")
def test_the_api_key_never_reaches_a_page(client, user, conversation):
    responses = [client.get("/login/")]
    client.force_login(user)
    responses += [
        client.get("/"),
        client.get(f"/c/{conversation.pk}/"),
        client.get(f"/api/conversations/{conversation.pk}/"),
        create(client, model="MiniMax-M2.7"),
        create(client, model="MiniMax-M2.7", temperature=0),
        patch(client, conversation, top_p=0.5),
    ]
    for response in responses:
        assert b"sk-secret-test" not in response.content


# --- the API --------------------------------------------------------------------


def test_create_with_defaults(ada, user):
    response = create(ada, model="MiniMax-M2.7")
    assert response.status_code == 201
    data = response.json()
    conversation = Conversation.objects.get(pk=data["id"])
    assert data["url"] == f"/c/{conversation.pk}/"
    assert conversation.owner == user
    assert conversation.dialect == "chat"
    assert conversation.temperature is None


def test_create_saves_good_settings(ada):
    response = create(
        ada,
        model="abab5.5-chat",
        dialect="pro",
        system_prompt="You are a poet.",
        bot_name="Poet",
        user_name="Reader",
        temperature=0.7,
        top_p=1,
        max_tokens=512,
    )
    assert response.status_code == 201, response.content
    conversation = Conversation.objects.get(pk=response.json()["id"])
    assert (conversation.dialect, conversation.bot_name, conversation.user_name) == (
        "pro",
        "Poet",
        "Reader",
    )
    assert (conversation.temperature, conversation.top_p, conversation.max_tokens) == (
        0.7,
        1.0,
        512,
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"model": "MiniMax-M2.7", "temperature": 0}, "temperature"),
        ({"model": "MiniMax-M2.7", "temperature": 1.5}, "temperature"),
        ({"model": "MiniMax-M2.7", "top_p": 0}, "top_p"),
        ({"model": "MiniMax-M2.7", "top_p": -0.1}, "top_p"),
        ({"model": "MiniMax-M2.7", "max_tokens": 4096}, "max_tokens"),
        ({"model": "MiniMax-M2.7", "max_tokens": 0}, "max_tokens"),
        ({"model": "gpt-4", "temperature": 0.5}, "model"),
        ({"model": "MiniMax-M2.7", "dialect": "pro"}, "dialect"),
        (
            {
                "model": "MiniMax-M2.7",
                "json_schema": {"name": "a", "schema": {"type": "object"}},
            },
            "json_schema",
        ),
        (
            {
                "model": "MiniMax-Text-01",
                "json_schema": {"name": "has space", "schema": {"type": "object"}},
            },
            "json_schema",
        ),
        (
            {
                "model": "MiniMax-Text-01",
                "json_schema": {"name": "answer", "schema": {"type": "array"}},
            },
            "json_schema",
        ),
        ({"model": "MiniMax-Text-01", "json_schema": "[1, 2]"}, "json_schema"),
        ({"model": "MiniMax-Text-01", "json_schema": "{not json"}, "json_schema"),
    ],
)
def test_create_rejects_out_of_range_settings(ada, payload, field):
    response = create(ada, **payload)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Conversation.objects.exists()


def test_json_schema_saved_for_a_model_that_accepts_it(ada):
    schema = {
        "name": "answer",
        "description": "An answer",
        "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
    }
    response = create(ada, model="MiniMax-Text-01", json_schema=schema)
    assert response.status_code == 201, response.content
    assert Conversation.objects.get().json_schema == schema


def test_patch_updates_only_what_is_sent(ada, conversation):
    conversation.system_prompt = "Be brief."
    conversation.save()
    response = patch(ada, conversation, temperature=0.3)
    assert response.status_code == 200, response.content
    conversation.refresh_from_db()
    assert conversation.temperature == 0.3
    assert conversation.system_prompt == "Be brief."


def test_patch_rejects_bad_values_and_keeps_the_old_ones(ada, conversation):
    response = patch(ada, conversation, temperature=1.5, top_p=0.2)
    assert response.status_code == 400
    assert "temperature" in response.json()["errors"]
    conversation.refresh_from_db()
    assert (conversation.temperature, conversation.top_p) == (None, None)


def test_switching_model_drops_settings_the_new_model_cannot_take(ada, conversation):
    conversation.max_tokens = 100_000
    conversation.json_schema = {"name": "a", "schema": {"type": "object"}}
    conversation.save()
    response = patch(ada, conversation, model="MiniMax-M2.7")
    assert response.status_code == 200, response.content
    conversation.refresh_from_db()
    assert (conversation.model, conversation.dialect) == ("MiniMax-M2.7", "chat")
    assert conversation.max_tokens is None
    assert conversation.json_schema is None


def test_api_refuses_requests_without_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = create(client, model="MiniMax-M2.7")
    assert response.status_code == 403
    assert not Conversation.objects.exists()
    # The token the page carries lets the same request through.
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/conversations/",
        {"model": "MiniMax-M2.7"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201


def test_patch_refuses_requests_without_the_csrf_token(user, conversation):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert patch(client, conversation, temperature=0.4).status_code == 403
    conversation.refresh_from_db()
    assert conversation.temperature is None


def test_api_wants_a_json_object(ada):
    response = ada.post("/api/conversations/", "[1]", content_type="application/json")
    assert response.status_code == 400


def test_pinning_and_archiving_reorder_the_list(ada, user):
    first = Conversation.objects.create(owner=user, title="First", model="MiniMax-M1")
    Conversation.objects.create(owner=user, title="Second", model="MiniMax-M1")
    assert patch(ada, first, pinned=True).json()["pinned"] is True
    html = sidebar(ada.get("/"))
    assert -1 < html.find("First") < html.find("Second")
    assert patch(ada, first, archived=True).status_code == 200
    html = sidebar(ada.get("/"))
    assert "First" not in html and "Second" in html
    # Archiving keeps the conversation (and its settings) reachable by its URL.
    assert ada.get(f"/c/{first.pk}/").status_code == 200
