"""The conversation list's websocket (/ws/user/): who may listen, and what they hear."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from conversations import services
from conversations.models import Conversation
from conversations.replies import runner

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "127.0.0.1:8000"


def list_socket(user) -> WebsocketCommunicator:
    from conversations.routing import websocket_urlpatterns

    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/user/")
    socket.scope["user"] = user
    return socket


@pytest.fixture
async def listen(channel_layer):
    """Open list sockets with `await listen(user)`; closed after the test."""
    opened = []

    async def connect(user):
        socket = list_socket(user)
        connected, _ = await socket.connect()
        assert connected
        opened.append(socket)
        return socket

    yield connect
    for socket in opened:
        await socket.disconnect()


@pytest.fixture
async def ada_client(user):
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    return client


async def next_of(socket, frame_type: str) -> dict:
    """Return the next frame of `frame_type`, skipping others."""
    while True:
        frame = await socket.receive_json_from(timeout=3)
        if frame["type"] == frame_type:
            return frame


def patch(client, conversation_id, payload):
    return database_sync_to_async(client.patch)(
        f"/api/conversations/{conversation_id}/",
        payload,
        content_type="application/json",
    )


# --- who may connect ---------------------------------------------------------------


async def test_an_anonymous_visitor_is_refused(channel_layer):
    socket = list_socket(AnonymousUser())

    connected, _ = await socket.connect()

    assert connected is False
    await socket.disconnect()


async def handshake(user, origin: str | None) -> bool:
    """Open /ws/user/ through the whole ASGI app, with the session cookie."""
    from chatsite.asgi import application

    client = Client()
    await database_sync_to_async(client.force_login)(user)
    headers = [
        (b"host", HOST.encode()),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    socket = WebsocketCommunicator(application, "/ws/user/", headers=headers)
    connected, _ = await socket.connect()
    await socket.disconnect()
    return connected


async def test_the_session_cookie_from_the_sites_origin_opens_it(user, channel_layer):
    assert await handshake(user, f"http://{HOST}") is True


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # same host, another port
        "https://127.0.0.1:8000",  # another scheme
        "http://evil.example",
        "null",
        None,
    ],
)
async def test_another_origin_is_refused(origin, user, channel_layer):
    assert await handshake(user, origin) is False


async def test_frames_sent_to_it_are_refused(user, listen):
    socket = await listen(user)

    await socket.send_json_to({"type": "conversation.changed"})

    assert (await socket.receive_json_from())["code"] == "bad_frame"


# --- what it hears -------------------------------------------------------------------


async def test_rename_pin_and_archive_arrive_as_changed(
    user, conversation, listen, ada_client
):
    socket = await listen(user)

    response = await patch(ada_client, conversation.pk, {"title": "Trip 三星堆"})
    assert response.status_code == 200
    renamed = await next_of(socket, "conversation.changed")
    await patch(ada_client, conversation.pk, {"pinned": True, "archived": True})
    archived = await next_of(socket, "conversation.changed")

    assert renamed["conversation"]["id"] == conversation.pk
    assert renamed["conversation"]["title"] == "Trip 三星堆"
    assert renamed["conversation"]["url"] == f"/c/{conversation.pk}/"
    assert renamed["conversation"]["model"] == "MiniMax-Text-01"
    assert (renamed["conversation"]["pinned"], renamed["conversation"]["archived"]) == (
        False,
        False,
    )
    assert archived["conversation"]["pinned"] is True
    assert archived["conversation"]["archived"] is True
    assert archived["conversation"]["group"] == "pinned"


async def test_a_model_change_in_the_settings_arrives(
    user, conversation, listen, ada_client
):
    socket = await listen(user)

    response = await patch(
        ada_client, conversation.pk, {"model": "MiniMax-M1", "dialect": "v2"}
    )
    assert response.status_code == 200, response.content

    frame = await next_of(socket, "conversation.changed")
    assert frame["conversation"]["model"] == "MiniMax-M1"


async def test_a_refused_patch_announces_nothing(
    user, conversation, listen, ada_client
):
    socket = await listen(user)

    response = await patch(ada_client, conversation.pk, {"temperature": 7})

    assert response.status_code == 400
    assert await socket.receive_nothing(timeout=0.3)


async def test_a_new_conversation_and_a_delete_arrive(user, listen, ada_client):
    socket = await listen(user)

    response = await database_sync_to_async(ada_client.post)(
        "/api/conversations/",
        {"model": "MiniMax-M1", "dialect": "v2"},
        content_type="application/json",
    )
    assert response.status_code == 201
    created = await next_of(socket, "conversation.changed")
    new_id = response.json()["id"]
    deleted = await database_sync_to_async(ada_client.delete)(
        f"/api/conversations/{new_id}/"
    )
    assert deleted.status_code == 204
    removed = await next_of(socket, "conversation.removed")

    assert created["conversation"]["id"] == new_id
    assert removed == {"type": "conversation.removed", "id": new_id}


async def test_every_tab_of_the_user_hears_it(user, conversation, listen, ada_client):
    first, second = await listen(user), await listen(user)

    await patch(ada_client, conversation.pk, {"pinned": True})

    for socket in (first, second):
        frame = await next_of(socket, "conversation.changed")
        assert frame["conversation"]["pinned"] is True


async def test_another_users_changes_never_arrive(user, other_user, listen, ada_client):
    bobs = await database_sync_to_async(Conversation.objects.create)(
        owner=other_user, model="MiniMax-M1", title="bob's"
    )
    bob_client = Client()
    await database_sync_to_async(bob_client.force_login)(other_user)
    ada_socket = await listen(user)
    bob_socket = await listen(other_user)

    await patch(bob_client, bobs.pk, {"title": "bob renamed"})
    await database_sync_to_async(bob_client.delete)(f"/api/conversations/{bobs.pk}/")
    # And Ada trying Bob's id changes nothing and announces nothing.
    refused = await patch(ada_client, bobs.pk, {"title": "mine now"})

    assert refused.status_code == 404
    assert (await next_of(bob_socket, "conversation.changed"))["conversation"][
        "title"
    ] == "bob renamed"
    assert (await next_of(bob_socket, "conversation.removed"))["id"] == bobs.pk
    assert await ada_socket.receive_nothing(timeout=0.3)


async def test_a_sent_message_and_the_model_made_title_arrive(
    user, conversation, listen
):
    # The built-in simulator answers both the reply and the title request.
    socket = await listen(user)

    await services.send_message(conversation.pk, "How do I bake sourdough bread?")
    sent = await next_of(socket, "conversation.changed")
    await asyncio.wait_for(runner.wait_for_replies(), timeout=10)
    later = []
    while not await socket.receive_nothing(timeout=0.3):
        later.append(await socket.receive_json_from())

    refreshed = await database_sync_to_async(Conversation.objects.get)(
        pk=conversation.pk
    )
    # The first words name it at once; the model's title follows. The reply's end
    # changes nothing in the entry, so it sends nothing.
    assert sent["conversation"]["title"] == "How do I bake sourdough bread?"
    assert [f["type"] for f in later] == ["conversation.changed"]
    assert later[-1]["conversation"]["title"] == refreshed.title
    assert refreshed.title != "How do I bake sourdough bread?"
    assert later[-1]["conversation"]["updated_at"] >= sent["conversation"]["updated_at"]
