"""The conversation websocket, as a page sees it."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from conversations.minimax.events import Finish, TextDelta
from conversations.models import Conversation, Message
from conversations.replies import runner
from tests.fixtures.app import ws_communicator

pytestmark = pytest.mark.django_db(transaction=True)

THREE_CHUNKS = [TextDelta("one "), TextDelta("two "), TextDelta("three")]


async def receive_until(socket, frame_type: str) -> list[dict]:
    """Return the frames received up to and including the first of `frame_type`."""
    frames = []
    while True:
        frame = await socket.receive_json_from(timeout=3)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


@database_sync_to_async
def stored(conversation) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id"))


# --- Who may connect ----------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "someone else", "missing conversation"])
async def test_the_handshake_is_refused(who, conversation, other_user, channel_layer):
    user, conversation_id = {
        "anonymous": (AnonymousUser(), conversation.pk),
        "someone else": (other_user, conversation.pk),
        "missing conversation": (conversation.owner, conversation.pk + 1000),
    }[who]
    socket = ws_communicator(user, conversation_id)

    connected, _ = await socket.connect()

    assert connected is False
    await socket.disconnect()


async def test_the_session_cookie_signs_the_socket_in(
    conversation, user, channel_layer
):
    from chatsite.asgi import application

    client = Client()
    await database_sync_to_async(client.force_login)(user)
    path = f"/ws/conversations/{conversation.pk}/"
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    signed_in = WebsocketCommunicator(
        application,
        path,
        headers=[
            *headers,
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )
    anonymous = WebsocketCommunicator(application, path, headers=headers)

    assert (await signed_in.connect())[0] is True
    assert (await anonymous.connect())[0] is False
    await signed_in.disconnect()
    await anonymous.disconnect()


# --- Sending and streaming ----------------------------------------------------


async def test_a_message_streams_its_reply(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)

    await socket.send_json_to(
        {"type": "message.send", "content": "  Hi there ", "client_id": "t1"}
    )
    frames = await receive_until(socket, "reply.done")

    assert frames[0]["type"] == "message.created"
    assert frames[0]["client_id"] == "t1"
    assert frames[0]["message"]["content"] == "Hi there"
    assert frames[1]["type"] == "message.created"
    assert frames[1]["message"]["role"] == "assistant"
    assert frames[1]["message"]["status"] == "streaming"
    deltas = [f for f in frames if f["type"] == "reply.delta"]
    assert "".join(f["text"] for f in deltas) == "Hello, world."
    assert all(f["message_id"] == frames[1]["message"]["id"] for f in deltas)
    done = frames[-1]["message"]
    assert (done["status"], done["content"]) == ("complete", "Hello, world.")
    assert done["usage"]["total_tokens"] == 16
    _, reply = await stored(conversation)
    assert reply.status == "complete"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "message.send", "content": "   "}, "empty"),
        ({"type": "message.send", "content": "x" * 32_001}, "too_long"),
        ({"type": "message.send", "content": 42}, "bad_frame"),
        ({"type": "message.send"}, "bad_frame"),
        ({"type": "dance"}, "bad_frame"),
        ({"content": "no type"}, "bad_frame"),
        ({"type": "reply.regenerate"}, "nothing_to_regenerate"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(
    frame, code, conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)

    await socket.send_json_to(frame)
    error = await socket.receive_json_from()

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert await stored(conversation) == []
    await socket.send_json_to({"type": "message.send", "content": "still here?"})
    assert (await receive_until(socket, "reply.done"))[-1]["message"][
        "status"
    ] == "complete"


async def test_text_that_is_not_json_is_a_bad_frame(conversation, user, open_socket):
    socket = await open_socket(user, conversation.pk)

    await socket.send_to(text_data="{not json")

    assert (await socket.receive_json_from())["code"] == "bad_frame"


async def test_a_message_at_the_length_limit_is_accepted(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)

    await socket.send_json_to({"type": "message.send", "content": "y" * 32_000})
    await receive_until(socket, "reply.done")

    user_message, _ = await stored(conversation)
    assert len(user_message.content) == 32_000


async def test_sending_while_a_reply_streams_is_busy(
    conversation, user, fake_minimax, open_socket
):
    gate = asyncio.Event()
    fake_minimax.enqueue([TextDelta("wait"), gate, Finish("stop")])
    socket = await open_socket(user, conversation.pk)
    await socket.send_json_to({"type": "message.send", "content": "first"})
    await receive_until(socket, "reply.delta")

    await socket.send_json_to({"type": "message.send", "content": "second"})
    error = await receive_until(socket, "error")

    assert error[-1]["code"] == "busy"
    gate.set()
    await receive_until(socket, "reply.done")
    assert [m.content for m in await stored(conversation)] == ["first", "wait"]


async def test_stop_keeps_the_text_so_far(
    conversation, user, fake_minimax, open_socket
):
    fake_minimax.enqueue([*THREE_CHUNKS, asyncio.Event(), TextDelta("never")])
    socket = await open_socket(user, conversation.pk)
    await socket.send_json_to({"type": "message.send", "content": "Go on"})
    await receive_until(socket, "reply.delta")

    await socket.send_json_to({"type": "reply.stop"})
    done = (await receive_until(socket, "reply.done"))[-1]["message"]

    assert (done["status"], done["content"]) == ("stopped", "one two three")
    _, reply = await stored(conversation)
    assert (reply.status, reply.content) == ("stopped", "one two three")


async def test_regenerate_keeps_the_old_reply_as_a_version(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    await socket.send_json_to({"type": "message.send", "content": "Hi"})
    first = (await receive_until(socket, "reply.done"))[-1]["message"]
    fake_minimax.enqueue([TextDelta("Hi again."), Finish("stop")])

    await socket.send_json_to({"type": "reply.regenerate"})
    frames = await receive_until(socket, "reply.done")

    assert frames[0]["type"] == "branch.changed"
    assert frames[-1]["message"]["content"] == "Hi again."
    assert frames[-1]["message"]["versions"] == 2
    assert [m.content for m in await stored(conversation)] == [
        "Hi",
        first["content"],
        "Hi again.",
    ]


# --- A reply outlives its page ------------------------------------------------


async def test_a_page_opened_mid_reply_gets_the_text_so_far_then_the_rest(
    conversation, user, fake_minimax, open_socket
):
    gate = asyncio.Event()
    fake_minimax.enqueue([*THREE_CHUNKS, gate, TextDelta(" four"), Finish("stop")])
    first_tab = await open_socket(user, conversation.pk)
    await first_tab.send_json_to({"type": "message.send", "content": "Count"})
    frames = await receive_until(first_tab, "reply.delta")
    while "".join(f.get("text", "") for f in frames) != "one two three":
        frames.append(await first_tab.receive_json_from())

    second_tab = await open_socket(user, conversation.pk)
    snapshot = await second_tab.receive_json_from()
    gate.set()
    rest = await receive_until(second_tab, "reply.done")

    assert snapshot["type"] == "reply.snapshot"
    assert snapshot["message"]["status"] == "streaming"
    assert snapshot["message"]["content"] == "one two three"
    deltas = [f for f in rest if f["type"] == "reply.delta"]
    assert [(f["text"], f["text_offset"]) for f in deltas] == [(" four", 13)]
    assert rest[-1]["message"]["content"] == "one two three four"


async def test_closing_the_page_mid_reply_lets_it_finish_and_be_saved(
    conversation, user, fake_minimax, channel_layer
):
    gate = asyncio.Event()
    fake_minimax.enqueue(
        [*THREE_CHUNKS, gate, TextDelta(" and the end."), Finish("stop")]
    )
    socket = ws_communicator(user, conversation.pk)
    await socket.connect()
    await socket.send_json_to({"type": "message.send", "content": "Long story"})
    await receive_until(socket, "reply.delta")

    await socket.disconnect()
    gate.set()
    await runner.wait_for_replies()

    _, reply = await stored(conversation)
    assert reply.status == "complete"
    assert reply.content == "one two three and the end."


async def test_reconnecting_after_a_reply_ended_gets_its_final_state(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    await socket.send_json_to({"type": "message.send", "content": "Hi"})
    done = (await receive_until(socket, "reply.done"))[-1]["message"]

    # A page rendered while the reply streamed, connecting just after it ended.
    late = await open_socket(user, conversation.pk)
    snapshot = await late.receive_json_from()
    await late.send_json_to({"type": "reply.resync"})
    resynced = await late.receive_json_from()

    assert snapshot == {"type": "reply.snapshot", "message": done}
    assert resynced == snapshot


async def test_opening_a_conversation_repairs_a_reply_left_by_a_crash(
    conversation, user, open_socket
):
    crashed = await database_sync_to_async(Message.objects.create)(
        conversation=conversation,
        role="assistant",
        content="half a sent",
        status="streaming",
        checkpoint_at=timezone.now() - timedelta(minutes=2),
    )

    socket = await open_socket(user, conversation.pk)
    snapshot = await socket.receive_json_from()

    assert snapshot["message"]["id"] == crashed.pk
    assert snapshot["message"]["status"] == "interrupted"
    assert snapshot["message"]["content"] == "half a sent"


# --- With the real client and simulator ---------------------------------------


async def test_end_to_end_reply_from_the_simulator(
    conversation, user, offline_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)

    await socket.send_json_to({"type": "message.send", "content": "Explain asyncio"})
    frames = await receive_until(socket, "reply.done")

    done = frames[-1]["message"]
    assert done["status"] == "complete", done["error"]
    assert "asyncio" in done["content"]
    assert done["usage"]["total_tokens"] > 0
    text = "".join(f["text"] for f in frames if f["type"] == "reply.delta")
    assert text == done["content"]
    # Outside pro there is no bot name: the reply is labelled with its model.
    assert done["sender_name"] == conversation.model


async def test_stopping_a_long_simulated_reply(
    conversation, user, offline_minimax, open_socket
):
    offline_minimax.MINIMAX_SIMULATOR_CHUNK_DELAY = 0.01
    socket = await open_socket(user, conversation.pk)
    await socket.send_json_to({"type": "message.send", "content": "Go [sim:long]"})
    await receive_until(socket, "reply.delta")

    await socket.send_json_to({"type": "reply.stop"})
    done = (await receive_until(socket, "reply.done"))[-1]["message"]

    assert done["status"] == "stopped"
    assert len(done["content"]) > 0
    _, reply = await stored(conversation)
    assert reply.content == done["content"]


async def test_a_pro_conversation_replies_as_its_bot(
    user, offline_minimax, open_socket
):
    conversation = await database_sync_to_async(Conversation.objects.create)(
        owner=user, model="abab5.5-chat", dialect="pro", bot_name="Tutor"
    )
    socket = await open_socket(user, conversation.pk)

    for question in ["Hello", "And again"]:
        await socket.send_json_to({"type": "message.send", "content": question})
        done = (await receive_until(socket, "reply.done"))[-1]["message"]
        assert done["status"] == "complete", done["error"]

    # The simulator answers in the voice of reply_constraints.sender_name.
    assert "Tutor" in done["content"]
    assert done["sender_name"] == "Tutor"
