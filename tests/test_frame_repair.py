"""Frames lost on the way to a page are repaired: the server side.

The channel layer here drops every third reply.delta and every reply.done it fans
out (tests/lossy_layer.py), as a full channels_redis inbox does. A page that
does what static/conversations/store.js does (a delta past what it has: ask
`reply.resync`; a streaming reply quiet for a while: ask again) ends with the
whole text and the final state, from the server's `reply.snapshot` answers.
"""

from __future__ import annotations

import asyncio

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer

from conversations import frames
from conversations.minimax.events import Finish, TextDelta
from conversations.replies import runner
from tests.page_model import checked_done

pytestmark = pytest.mark.django_db(transaction=True)

# The page's quiet time, shortened (store.js: QUIET_MS, 5 s).
QUIET_SECONDS = 0.5
PIECES = [f"piece {number:02d}. " for number in range(30)]


@pytest.fixture
async def channel_layer(settings):
    """The lossy layer, fresh for the test (replaces tests/fixtures/app.py's)."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tests.lossy_layer.LossyInMemoryChannelLayer",
            "CONFIG": {"drop_every": 3, "drop_done": True},
        }
    }
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    layer = get_channel_layer()
    yield layer
    await asyncio.wait_for(runner.wait_for_replies(), timeout=10)
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


class Page:
    """The page's handling of reply frames (store.js), over a test socket."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.reply: dict | None = None
        self.asked = False
        self.resyncs = 0
        self.gaps = 0
        self.quiet_asks = 0
        self.failed_checks = 0
        # What a page that never repairs would show: the deltas it got, by offset.
        self.naive = ""

    async def resync(self) -> None:
        self.resyncs += 1
        await self.socket.send_json_to({"type": "reply.resync"})

    def apply(self, have: str, piece: str, offset: int) -> str | None:
        if offset > len(have):
            return None
        return have + piece[len(have) - offset :]

    async def read_until_final(self, limit: float = 20.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            if await self.socket.receive_nothing(timeout=QUIET_SECONDS):
                if self.reply and self.reply["status"] == "streaming":
                    self.quiet_asks += 1
                    await self.resync()
                continue
            frame = await self.socket.receive_json_from()
            kind = frame["type"]
            if kind == "message.created" and frame["message"]["role"] == "assistant":
                self.reply = frame["message"]
            elif kind == "reply.delta" and self.reply:
                naive = self.apply(self.naive, frame["text"], frame["text_offset"])
                self.naive = naive if naive is not None else self.naive
                if self.reply["status"] != "streaming":
                    continue
                text = self.apply(
                    self.reply["content"], frame["text"], frame["text_offset"]
                )
                if text is None:
                    self.gaps += 1
                    if not self.asked:
                        self.asked = True
                        await self.resync()
                else:
                    self.reply["content"] = text
            elif kind == "reply.done" and "check" in frame["message"]:
                # A long reply: its final state, and a check of the text the
                # page should have built; a page that fails it asks again.
                final = checked_done(self.reply, frame["message"])
                if final is None:
                    self.failed_checks += 1
                    await self.resync()
                    continue
                self.reply = final
                return self.reply
            elif kind in ("reply.snapshot", "reply.done"):
                self.reply = frame["message"]
                self.asked = False
                if self.reply["status"] != "streaming":
                    return self.reply
        raise AssertionError(f"no final state in {limit} s: {self.reply}")


async def test_a_page_missing_deltas_and_the_done_ends_with_the_whole_reply(
    conversation, user, fake_minimax, open_socket, channel_layer
):
    # 50 ms apart: each piece goes out in a frame of its own (they coalesce at 40).
    script = []
    for piece in PIECES:
        script += [TextDelta(piece), 0.05]
    fake_minimax.enqueue([*script, Finish("stop")])
    page = Page(await open_socket(user, conversation.pk))

    await page.socket.send_json_to({"type": "message.send", "content": "Count"})
    final = await page.read_until_final()

    assert channel_layer.dropped["reply.delta"] >= 5
    assert channel_layer.dropped["reply.done"] == 1
    # Without the repair the page would be wrong and stuck streaming.
    assert page.naive != "".join(PIECES)
    assert page.gaps >= 1
    assert page.quiet_asks >= 1
    assert final["status"] == "complete"
    assert final["content"] == "".join(PIECES)


async def test_a_page_whose_last_frames_are_lost_asks_when_the_reply_goes_quiet(
    conversation, user, fake_minimax, open_socket, channel_layer
):
    # One delta, then the reply ends: no later delta shows a gap, only the quiet.
    channel_layer.drop_every = 1
    fake_minimax.enqueue([TextDelta("The whole answer."), Finish("stop")])
    page = Page(await open_socket(user, conversation.pk))

    await page.socket.send_json_to({"type": "message.send", "content": "Hi"})
    final = await page.read_until_final()

    assert page.naive == ""
    assert page.gaps == 0
    assert page.quiet_asks >= 1
    assert (final["status"], final["content"]) == ("complete", "The whole answer.")


async def test_a_long_reply_whose_done_fails_its_check_is_asked_for_whole(
    conversation, user, fake_minimax, open_socket, channel_layer
):
    # Every delta lost, reply.done not: it comes without the text (the reply is
    # long), its check fails on the empty text the page has, and the snapshot the
    # page asks for then is whole (no gap was seen: no delta came).
    channel_layer.drop_done = False
    channel_layer.drop_every = 1
    pieces = [f"a longer piece, number {number:02d}. " for number in range(30)]
    script = []
    for piece in pieces:
        script += [TextDelta(piece), 0.01]
    fake_minimax.enqueue([*script, Finish("stop")])
    page = Page(await open_socket(user, conversation.pk))

    await page.socket.send_json_to({"type": "message.send", "content": "Count"})
    final = await page.read_until_final()

    assert len("".join(pieces)) >= frames.DONE_CHECK_MIN_CHARS
    assert channel_layer.dropped["reply.done"] == 0
    assert page.naive == ""
    assert (page.failed_checks, page.gaps) == (1, 0)
    assert final["status"] == "complete"
    assert final["content"] == "".join(pieces)
    assert "check" not in final


async def test_a_long_reply_with_every_frame_ends_by_its_check_alone(
    conversation, user, fake_minimax, open_socket, channel_layer
):
    channel_layer.drop_done = False
    channel_layer.drop_every = 0
    text = "Nothing lost on the way. " * 40
    fake_minimax.enqueue(
        [TextDelta(text[:300]), 0.05, TextDelta(text[300:]), Finish("stop")]
    )
    page = Page(await open_socket(user, conversation.pk))

    await page.socket.send_json_to({"type": "message.send", "content": "Say it"})
    final = await page.read_until_final()

    assert page.resyncs == 0
    assert (final["status"], final["content"]) == ("complete", text)
