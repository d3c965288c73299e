"""Every URL, found from the resolver so new views are covered: another user's ids
are a 404, and every unsafe method needs the CSRF token."""

from __future__ import annotations

import re

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from conversations.models import Message
from conversations.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db

UNSAFE = ["post", "put", "patch", "delete"]


def walk(patterns, prefix: str = ""):
    """Yield (route, pattern) for every URL pattern, admin left out (its own)."""
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if getattr(entry, "app_name", None) == "admin" or route.startswith(
                "admin/"
            ):
                continue
            yield from walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


ALL_ROUTES = sorted({route for route, _ in walk(get_resolver().url_patterns)})
ID_ROUTES = [route for route in ALL_ROUTES if "<" in route]
PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def fill(route: str, values: dict[str, object]) -> str:
    """Return the route with each <converter:name> replaced by values[name]."""

    def value(match: re.Match) -> str:
        name = match.group(2)
        if name in values:
            return str(values[name])
        # Ids of things that are not a conversation or a message: the owner's
        # conversation's id is as good a guess as any (and must be a 404 too).
        return str(values["conversation_id"])

    return "/" + PARAMETER.sub(value, route).lstrip("^").rstrip("$")


@pytest.fixture
def owned(user, conversation):
    message = Message.objects.create(
        conversation=conversation, role="user", content="mine"
    )
    return {
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "pk": conversation.pk,
        "id": conversation.pk,
    }


def test_the_walk_finds_the_conversation_urls():
    assert "c/<int:conversation_id>/" in ID_ROUTES
    assert "api/conversations/<int:conversation_id>/" in ID_ROUTES


@pytest.mark.parametrize("route", ID_ROUTES)
def test_another_users_ids_are_a_404(route, owned, other_user):
    intruder = Client(raise_request_exception=False)
    intruder.force_login(other_user)
    url = fill(route, owned)

    answers = {
        method: getattr(intruder, method)(url).status_code
        for method in ["get", *UNSAFE]
    }

    # 405 (that method is not served at all) gives nothing away either.
    assert set(answers.values()) <= {404, 405}, answers
    assert 404 in answers.values(), answers


WS_ROUTES = [str(pattern.pattern) for pattern in websocket_urlpatterns]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", WS_ROUTES)
async def test_another_users_ids_are_refused_on_every_websocket(
    route, other_user, channel_layer, async_owned
):
    socket = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), fill(route, async_owned)
    )
    socket.scope["user"] = other_user

    connected, _ = await socket.connect()

    assert connected is False
    await socket.disconnect()


@pytest.fixture
def async_owned(transactional_db, user, conversation):
    message = Message.objects.create(
        conversation=conversation, role="user", content="mine"
    )
    return {"conversation_id": conversation.pk, "message_id": message.pk}


@pytest.mark.parametrize("route", ALL_ROUTES)
@pytest.mark.parametrize("method", UNSAFE)
def test_every_unsafe_method_needs_the_csrf_token(route, method, owned, user):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    url = fill(route, owned)

    response = getattr(client, method)(url, "{}", content_type="application/json")

    # 405: the view does not take that method at all.
    assert response.status_code in (403, 405), (url, response.status_code)
