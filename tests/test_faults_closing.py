"""A page closing its socket while frames are sent to it (conversations/closing.py).

Daphne raises autobahn's Disconnected for a send between the page's close frame
and the end of its connection (django/channels#1820). The consumer must drop the
frame and live on to its disconnect(), which takes the socket out of its group;
otherwise every later frame of the conversation goes to a dead channel.
"""

import asyncio

import pytest
from autobahn.exception import Disconnected
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import frames, relay
from conversations.list_relay import send_to_user, user_group_name
from conversations.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


class ClosingSocket:
    """The site's websocket routes, behind a server that raises Disconnected for
    every websocket.send once `closing` is set, as daphne does mid-close."""

    def __init__(self) -> None:
        self.app = URLRouter(websocket_urlpatterns)
        self.closing = False
        self.refused = 0

    async def __call__(self, scope, receive, send):
        async def send_or_raise(message):
            if self.closing and message["type"] == "websocket.send":
                self.refused += 1
                raise Disconnected("Attempt to send on a closed protocol")
            await send(message)

        await self.app(scope, receive, send_or_raise)


@pytest.fixture
def discarded(channel_layer, monkeypatch) -> list[str]:
    """The groups sockets leave, as they leave them."""
    left: list[str] = []
    group_discard = channel_layer.group_discard

    async def recording(group, channel):
        left.append(group)
        await group_discard(group, channel)

    monkeypatch.setattr(channel_layer, "group_discard", recording)
    return left


async def open_closing(user, path: str) -> tuple[ClosingSocket, WebsocketCommunicator]:
    server = ClosingSocket()
    socket = WebsocketCommunicator(server, path)
    socket.scope["user"] = user
    connected, _ = await socket.connect()
    assert connected
    return server, socket


async def test_a_conversation_socket_closing_mid_frame_still_leaves_its_group(
    user, conversation, channel_layer, discarded
):
    server, socket = await open_closing(user, f"/ws/conversations/{conversation.pk}/")
    server.closing = True

    frame = frames.conversation_updated(conversation.pk, title="Renamed")
    await relay.broadcast(conversation.pk, frame)
    await asyncio.sleep(0.1)

    assert server.refused == 1
    assert not socket.future.done()  # the consumer lives on...
    await socket.disconnect()
    assert socket.future.exception() is None
    # ...to leave the conversation's group when the connection ends.
    assert relay.group_name(conversation.pk) in discarded


async def test_a_list_socket_closing_mid_frame_still_leaves_its_group(
    user, channel_layer, discarded
):
    server, socket = await open_closing(user, "/ws/user/")
    server.closing = True

    await send_to_user(user.pk, {"type": "conversation.removed", "id": 1})
    await asyncio.sleep(0.1)

    assert server.refused == 1
    assert not socket.future.done()
    await socket.disconnect()
    assert socket.future.exception() is None
    assert user_group_name(user.pk) in discarded
