"""A huge reply streams in bounded frames, and a reply has a size and time cap."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from conversations.minimax.events import Finish, TextDelta
from conversations.models import Message
from tests.page_model import checked_done

pytestmark = pytest.mark.django_db(transaction=True)

# Daphne refuses to send (and browsers to take) frames past 1 MiB; stay well below.
FRAME_LIMIT = 1024 * 1024
BIG = "字x" * 800_000  # 1.6 M characters, CJK and ASCII mixed
GATE_TEXT = "start "


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Page:
    """What a page shows of the reply, built from frames as chat.js does."""

    def __init__(self) -> None:
        self.message: dict | None = None
        self.sizes: list[int] = []
        self.done = False

    async def read(self, socket, until: str = "reply.done") -> None:
        while True:
            text = await socket.receive_from(timeout=10)
            self.sizes.append(len(text.encode()))
            frame = json.loads(text)
            self.apply(frame)
            if (
                frame["type"] == until
                and frame.get("message", {}).get("status") != "streaming"
            ):
                return

    def apply(self, frame: dict) -> None:
        if frame["type"] == "reply.done" and "check" in frame["message"]:
            final = checked_done(self.message, frame["message"])
            assert final is not None, "reply.done's check fails on the text shown"
            self.message = final
        elif frame["type"] in ("message.created", "reply.snapshot", "reply.done"):
            data = frame["message"]
            if data["role"] != "assistant":
                return
            mine = self.message
            if data.get("partial") and mine and mine["id"] == data["id"]:
                # docs/websocket.md, "Frame size": keep the longer text.
                for field in ("content", "reasoning"):
                    if len(mine[field]) > len(data[field]):
                        data = {**data, field: mine[field]}
            self.message = data
        elif frame["type"] == "reply.delta":
            assert self.message["status"] == "streaming"
            for field, offset in (
                ("content", "text_offset"),
                ("reasoning", "reasoning_offset"),
            ):
                # No reasoning field: no reasoning in this piece.
                piece = frame.get("text" if field == "content" else "reasoning", "")
                start = frame.get(offset, 0)
                have = utf16(self.message[field])
                assert start <= have, "a gap"
                # The test's text has no astral characters: units == characters.
                self.message[field] += piece[have - start :]


async def test_a_huge_reply_streams_in_frames_under_the_limit(
    open_socket, user, conversation, fake_minimax, settings
):
    settings.CHAT_REPLY_MAX_CHARS = 10_000_000
    fake_minimax.enqueue([TextDelta(BIG), Finish("stop")])
    socket = await open_socket(user, conversation.pk)
    page = Page()

    await socket.send_json_to({"type": "message.send", "content": "go"})
    await page.read(socket)

    assert max(page.sizes) < FRAME_LIMIT
    assert page.message["content"] == BIG
    assert page.message["status"] == "complete"
    reply = await database_sync_to_async(Message.objects.get)(role="assistant")
    assert reply.content == BIG


async def test_a_page_that_joins_a_huge_reply_gets_it_in_bounded_frames(
    open_socket, user, conversation, fake_minimax, settings
):
    settings.CHAT_REPLY_MAX_CHARS = 10_000_000
    gate = asyncio.Event()
    fake_minimax.enqueue([TextDelta(BIG), gate, TextDelta(" end"), Finish("stop")])
    first = await open_socket(user, conversation.pk)
    await first.send_json_to({"type": "message.send", "content": "go"})
    await first.receive_json_from(timeout=5)  # the user's message
    writer = Page()
    await writer.read(first, until="reply.delta")
    while utf16(writer.message["content"]) < len(BIG):
        await writer.read(first, until="reply.delta")

    late = Page()
    second = await open_socket(user, conversation.pk)
    late_read = asyncio.create_task(late.read(second))
    await asyncio.sleep(0.5)
    gate.set()
    await late_read

    assert max(late.sizes) < FRAME_LIMIT
    assert late.message["content"] == BIG + " end"


async def test_a_page_that_opens_after_a_huge_reply_ended_gets_it_whole(
    open_socket, user, conversation, fake_minimax, settings
):
    settings.CHAT_REPLY_MAX_CHARS = 10_000_000
    fake_minimax.enqueue([TextDelta(BIG), Finish("stop")])
    first = await open_socket(user, conversation.pk)
    await first.send_json_to({"type": "message.send", "content": "go"})
    await Page().read(first)

    late = Page()
    second = await open_socket(user, conversation.pk)
    await late.read(second, until="reply.snapshot")

    assert max(late.sizes) < FRAME_LIMIT
    assert late.message["content"] == BIG
    assert late.message["status"] == "complete"


async def test_a_reply_past_the_size_cap_ends_as_length_with_a_reason(
    open_socket, user, conversation, fake_minimax, settings
):
    settings.CHAT_REPLY_MAX_CHARS = 1000
    fake_minimax.enqueue([TextDelta("y" * 300) for _ in range(20)] + [Finish("stop")])
    socket = await open_socket(user, conversation.pk)
    page = Page()

    await socket.send_json_to({"type": "message.send", "content": "go"})
    await page.read(socket)

    assert page.message["status"] == "complete"
    assert page.message["finish_reason"] == "length"
    assert page.message["error"]["kind"] == "reply_limit"
    assert "1000 characters" in page.message["error"]["message"]
    reply = await database_sync_to_async(Message.objects.get)(role="assistant")
    assert len(reply.content) == 1000
    assert fake_minimax.closed_early == 1


async def test_a_reply_past_the_time_cap_ends_as_length_with_a_reason(
    open_socket, user, conversation, fake_minimax, settings
):
    settings.CHAT_REPLY_MAX_SECONDS = 0.5
    fake_minimax.enqueue([TextDelta("slow "), 30.0, TextDelta("never"), Finish("stop")])
    socket = await open_socket(user, conversation.pk)
    page = Page()

    await socket.send_json_to({"type": "message.send", "content": "go"})
    await asyncio.wait_for(page.read(socket), timeout=5)

    assert page.message["content"] == "slow "
    assert page.message["finish_reason"] == "length"
    assert page.message["error"]["kind"] == "reply_limit"
    assert "seconds" in page.message["error"]["message"]
