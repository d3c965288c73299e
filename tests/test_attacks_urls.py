"""Every URL, found from the resolver so new views are covered: another user's ids
are a 404, and every unsafe method needs the CSRF token."""

from __future__ import annotations

import re

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from conversations.models import Message
from conversations.routing import websocket_urlpatterns
from review.services import record_reply
from speech.models import VoiceBlend
from tests.test_speech_views import ONE_VOICE, done_clip

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
        # Every kind of id gets a real object of the owner's (`owned`): a made-up id
        # would be a 404 for anyone, and prove nothing.
        return str(values[match.group(2)])

    return "/" + PARAMETER.sub(value, route).lstrip("^").rstrip("$")


def owned_objects(user, conversation, tmp_path, settings) -> dict[str, int]:
    """Return an object of the user's for every kind of id a route takes."""
    settings.MEDIA_ROOT = tmp_path / "media"
    message = Message.objects.create(
        conversation=conversation, role="user", content="mine"
    )
    clip = done_clip(user)
    blend = VoiceBlend.objects.create(
        owner=user, name="mine", model="speech-02-hd", voices=ONE_VOICE
    )
    return {
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "clip_id": clip.pk,
        "blend_id": blend.pk,
    }


@pytest.fixture
def owned(user, conversation, tmp_path, settings):
    return owned_objects(user, conversation, tmp_path, settings)


def test_the_walk_finds_the_conversation_and_speech_urls():
    assert "c/<int:conversation_id>/" in ID_ROUTES
    assert "api/conversations/<int:conversation_id>/" in ID_ROUTES
    assert "speech/<int:clip_id>/download" in ID_ROUTES


def test_every_kind_of_id_in_a_route_is_given_a_real_object(
    user, conversation, tmp_path, settings
):
    """A new route with a new kind of id fails here until `owned_objects` makes one."""
    kinds = {match[1] for route in ALL_ROUTES for match in PARAMETER.findall(route)}
    kinds |= {
        match[1]
        for route in (str(p.pattern) for p in websocket_urlpatterns)
        for match in PARAMETER.findall(route)
    }
    assert kinds <= set(owned_objects(user, conversation, tmp_path, settings))


def test_the_owner_gets_each_object(owned, user):
    """The ids are real: the owner's GET finds every one (so the 404s below mean
    "not yours", not "no such thing")."""
    owner = Client()
    owner.force_login(user)
    for route in ID_ROUTES:
        response = owner.get(fill(route, owned))
        assert response.status_code in (200, 405), (route, response.status_code)


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


# Routes that name an object; /ws/user/ names none (it serves the signed-in user).
WS_ROUTES = [
    str(pattern.pattern)
    for pattern in websocket_urlpatterns
    if PARAMETER.search(str(pattern.pattern))
]


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
def async_owned(transactional_db, user, conversation, tmp_path, settings):
    return owned_objects(user, conversation, tmp_path, settings)


@pytest.mark.parametrize("route", ALL_ROUTES)
@pytest.mark.parametrize("method", UNSAFE)
def test_every_unsafe_method_needs_the_csrf_token(route, method, owned, user):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    url = fill(route, owned)

    response = getattr(client, method)(url, "{}", content_type="application/json")

    # 405: the view does not take that method at all.
    assert response.status_code in (403, 405), (url, response.status_code)


# --- the admin (left out of the walk: Django's own, but the review actions are ours)


@pytest.fixture
def reviewer(django_user_model):
    user = django_user_model.objects.create_user(
        "rita", password="rita-pass-1", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Reviewers"))
    return user


@pytest.fixture
def flagged_item(conversation):
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="flagged",
        output_sensitive=True,
        output_sensitive_type=3,
    )
    return record_reply(reply)[0]


@pytest.mark.parametrize("action", ["approve", "hide", "escalate", "analyse"])
def test_the_review_actions_need_the_csrf_token(action, reviewer, flagged_item):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(reviewer)
    queue = "/admin/review/reviewitem/"

    response = client.post(
        queue, {"action": action, "_selected_action": [flagged_item.pk], "note": "x"}
    )

    assert response.status_code == 403
    flagged_item.refresh_from_db()
    assert flagged_item.decisions.count() == 0


def test_another_users_review_item_is_no_business_of_a_user(other_user, flagged_item):
    client = Client(raise_request_exception=False)
    client.force_login(other_user)
    for url in (
        f"/admin/review/reviewitem/{flagged_item.pk}/change/",
        "/admin/review/reviewitem/",
        "/admin/review/reviewitem/overview/",
    ):
        response = client.get(url)
        # Not staff: the admin's sign-in page, never the item's text.
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
