"""Frames that used to kill the socket with a traceback get an error frame instead."""

import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = "[" * 100_000 + "]" * 100_000


async def still_open(socket) -> None:
    """The socket still answers: an unknown type gets its error frame."""
    await socket.send_json_to({"type": "no.such.type"})
    frame = await socket.receive_json_from(timeout=3)
    assert frame["type"] == "error"


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"type": ["message.send"], "content": "hi"}),
        json.dumps({"type": {}}),
        json.dumps({"type": 7}),
        json.dumps({"type": None}),
        '{"type": "message.send", "content": ' + DEEP + "}",
        DEEP,
        '{"type": "message.send", "content": "\\ud800"}',
        '{"type": "message.send", "content": "ok", "client_id": "\\udfff"}',
        '{"type": "message.send", "content": {"a": 1}}',
        '{"type": "message.send", "content": "x", "client_id": 5}',
        "not json",
        '"a string"',
        "[]",
        " ",
        "x" * 300_000,
    ],
    ids=lambda text: text[:40],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(
    text, open_socket, user, conversation, fake_minimax
):
    socket = await open_socket(user, conversation.pk)

    await socket.send_to(text_data=text)

    frame = await socket.receive_json_from(timeout=3)
    assert frame["type"] == "error"
    assert frame["code"] == "bad_frame"
    await still_open(socket)
    assert fake_minimax.requests == []


async def test_a_binary_frame_gets_an_error(open_socket, user, conversation):
    socket = await open_socket(user, conversation.pk)

    await socket.send_to(bytes_data=b'{"type": "reply.stop"}')

    frame = await socket.receive_json_from(timeout=3)
    assert frame["code"] == "bad_frame"
    await still_open(socket)
