"""Bad input to the HTTP side gets a clear 400 naming the field, never a 500."""

import json

import pytest
from django.test import Client

from conversations.models import Conversation

pytestmark = pytest.mark.django_db

SCHEMA = {
    "name": "answer",
    "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
}


@pytest.fixture
def ada(user):
    # Debug off and exceptions answered as a visitor would get them (no re-raise).
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def send(client, method, url, body: str):
    return getattr(client, method)(url, body, content_type="application/json")


def patch(client, conversation, payload):
    return send(
        client, "patch", f"/api/conversations/{conversation.pk}/", json.dumps(payload)
    )


# --- 500s that were -----------------------------------------------------------

DEEP = '{"title": ' + "[" * 100_000 + "]" * 100_000 + "}"


@pytest.mark.parametrize(
    "body",
    [
        '{"model": ["MiniMax-M2.7"]}',
        '{"model": {"a": 1}}',
        '{"title": "\\ud800"}',
        '{"system_prompt": "ok \\udfff"}',
        '{"json_schema": {"name": "a\\ud800", "schema": {"type": "object"}}}',
        DEEP,
        "[" * 100_000 + "]" * 100_000,
        '{"json_schema": {"name": "n", "schema": '
        + '{"not": ' * 500
        + '{"type": "object"}'
        + "}" * 500
        + "}}",
    ],
    ids=lambda body: body[:30],
)
@pytest.mark.parametrize("method", ["patch", "post"])
def test_bad_bodies_get_a_400(ada, conversation, method, body):
    url = (
        f"/api/conversations/{conversation.pk}/"
        if method == "patch"
        else "/api/conversations/"
    )

    response = send(ada, method, url, body)

    assert response.status_code == 400
    conversation.refresh_from_db()
    assert conversation.title == ""
    assert Conversation.objects.count() == 1


def test_an_id_past_the_database_range_is_a_404(ada):
    huge = "9" * 30
    assert ada.get(f"/c/{huge}/").status_code == 404
    assert ada.get(f"/api/conversations/{huge}/").status_code == 404


def test_an_admin_date_filter_far_in_the_future_is_a_400(admin_client):
    admin_client.raise_request_exception = False
    for url in (
        "/admin/conversations/conversation/?updated_at__year=99999999999",
        "/admin/conversations/message/?created_at__year=99999999999",
        "/admin/conversations/message/?created_at__year=2026&created_at__month=99",
    ):
        response = admin_client.get(url)
        assert response.status_code in (200, 302, 400), url


# --- wrong types that were silently taken ------------------------------------------

WRONG = [
    ("top_p", True),
    ("temperature", False),
    ("max_tokens", True),
    ("temperature", "0.5"),
    ("max_tokens", "100"),
    ("max_tokens", 100.5),
    ("top_p", float("nan")),
    ("temperature", float("inf")),
    ("temperature", 2.5),
    ("max_tokens", 0),
    ("max_tokens", 10**30),
    ("system_prompt", ["be", "nice"]),
    ("system_prompt", {"role": "system"}),
    ("title", 123),
    ("bot_name", ["MiniMax"]),
    ("user_name", 5),
    ("pinned", "maybe"),
    ("archived", 1),
    ("pinned", None),
    ("model", "gpt-4"),
    ("model", 7),
    ("dialect", "nonsense"),
    ("dialect", ["v2"]),
    ("json_schema", "not an object"),
    ("json_schema", ["a"]),
    ("json_schema", {"name": "n", "schema": {"type": "nonsense"}}),
    (
        "json_schema",
        {"name": "n", "schema": {"type": "object", "properties": {"a": {"type": 5}}}},
    ),
    ("json_schema", {"name": "n", "schema": {"type": "object", "required": "a"}}),
]


@pytest.mark.parametrize(("field", "value"), WRONG, ids=lambda v: repr(v)[:30])
def test_a_wrong_type_is_refused_naming_the_field(ada, conversation, field, value):
    before = Conversation.objects.values().get(pk=conversation.pk)

    response = patch(ada, conversation, {field: value})

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Conversation.objects.values().get(pk=conversation.pk) == before


@pytest.mark.parametrize(("field", "value"), WRONG, ids=lambda v: repr(v)[:30])
def test_a_wrong_type_creates_nothing(ada, field, value):
    payload = {"model": "MiniMax-Text-01", field: value}
    if field == "model":
        payload = {field: value}

    response = send(ada, "post", "/api/conversations/", json.dumps(payload))

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Conversation.objects.exists()


def test_good_values_still_pass(ada, conversation):
    response = patch(
        ada,
        conversation,
        {
            "model": "MiniMax-Text-01",
            "dialect": "v2",
            "temperature": 1,
            "top_p": 0.95,
            "max_tokens": 2048,
            "pinned": True,
            "archived": False,
            "title": "标题",
            "system_prompt": "Be brief. 😀",
            "json_schema": SCHEMA,
        },
    )
    assert response.status_code == 200, response.content
    conversation.refresh_from_db()
    assert conversation.temperature == 1.0
    assert conversation.pinned is True
    assert conversation.json_schema == SCHEMA
