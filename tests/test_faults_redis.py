"""Redis as the channel layer: frames reach the pages as written; and when Redis
restarts while a reply streams, the sockets stay open, the reply is saved, and the
pages get what they missed once Redis is back."""

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async

from conversations import relay
from conversations.layers import ProcessFirstRedisChannelLayer
from conversations.minimax.events import Finish, TextDelta
from conversations.models import Message
from tests.browser.servers import Process, answers_ping, free_port, redis_available

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_available(), reason="needs redis-server"),
]


class Redis:
    """A throwaway redis-server that can be stopped and started on one port."""

    def __init__(self, log_dir) -> None:
        self.port = free_port()
        self.process: Process | None = None
        self.log_dir = log_dir

    def start(self) -> None:
        import shutil

        self.process = Process(
            name="redis",
            args=[
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            env={},
            log_path=self.log_dir / f"redis-{time.monotonic_ns()}.log",
        )
        self.process.start()
        deadline = time.monotonic() + 10
        while not answers_ping(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def running(self) -> bool:
        return answers_ping(self.port)


@pytest.fixture
def redis(tmp_path, settings):
    server = Redis(tmp_path)
    server.start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "conversations.layers.ProcessFirstRedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{server.port}/0"]},
        }
    }
    yield server
    server.stop()


async def page_frame(layer, channel: str) -> dict:
    """Return the next frame a page's channel gets (5 s at most)."""
    event = await asyncio.wait_for(layer.receive(channel), 5)
    return json.loads(event["text"])


async def frames_until(socket, done) -> list[dict]:
    """Return the frames received until done(frame) is true (15 s at most)."""
    received = []
    deadline = time.monotonic() + 15
    while True:
        frame = await socket.receive_json_from(timeout=deadline - time.monotonic())
        received.append(frame)
        if done(frame):
            return received


@database_sync_to_async
def reply_status() -> str | None:
    reply = Message.objects.filter(role="assistant").first()
    return reply.status if reply else None


async def test_a_reply_in_chinese_and_emoji_reaches_every_page_through_redis(
    redis, channel_layer, open_socket, user, conversation, fake_minimax
):
    pieces = ["你好，", "世界 👋🏽", ' \\ "quoted" \n', "done"]
    fake_minimax.enqueue([TextDelta(piece) for piece in pieces] + [Finish("stop")])
    watcher = await open_socket(user, conversation.pk)
    writer = await open_socket(user, conversation.pk)
    await writer.send_json_to({"type": "message.send", "content": "go"})

    for socket in (watcher, writer):
        received = await frames_until(socket, lambda f: f["type"] == "reply.done")
        deltas = [f for f in received if f["type"] == "reply.delta"]
        assert "".join(f["text"] for f in deltas) == "".join(pieces)
        assert received[-1]["message"]["content"] == "".join(pieces)


async def test_a_page_of_another_process_gets_every_delta_after_its_snapshot(
    redis, channel_layer, open_socket, user, conversation, fake_minimax, monkeypatch
):
    # The reply keeps what it found out about other processes' pages for longer
    # than the test: only the page's snapshot request can tell it of the newcomer.
    monkeypatch.setattr(relay, "AUDIENCE_TTL", 60.0)
    gate = asyncio.Event()
    fake_minimax.enqueue(
        [TextDelta("before "), gate, TextDelta("after"), Finish("stop")]
    )
    writer = await open_socket(user, conversation.pk)
    await writer.send_json_to({"type": "message.send", "content": "go"})
    # A delta went out, while no other process had the conversation open.
    await frames_until(writer, lambda f: f["type"] == "reply.delta")

    # The page opens in a second process (a layer of its own on the same Redis),
    # joins, and asks for the reply so far, as consumers.join does.
    there = ProcessFirstRedisChannelLayer(hosts=[f"redis://127.0.0.1:{redis.port}/0"])
    page = await there.new_channel()
    await there.group_add(relay.group_name(conversation.pk), page)
    await there.group_send(
        relay.control_group_name(conversation.pk),
        {"type": "reply.sync", "reply_channel": page},
    )
    received = [await page_frame(there, page)]
    assert received[0]["type"] == "reply.snapshot"
    assert received[0]["message"]["content"] == "before "
    gate.set()
    while received[-1]["type"] != "reply.done":
        received.append(await page_frame(there, page))
    await there.close_pools()

    deltas = [f for f in received if f["type"] == "reply.delta"]
    assert [(f["text_offset"], f["text"]) for f in deltas] == [(7, "after")]
    assert received[-1]["message"]["content"] == "before after"


async def test_a_redis_restart_mid_reply_keeps_the_sockets_and_the_reply(
    redis, channel_layer, open_socket, user, conversation, fake_minimax
):
    gate = asyncio.Event()
    fake_minimax.enqueue(
        [TextDelta("before "), gate, TextDelta("after"), Finish("stop")]
    )
    watcher = await open_socket(user, conversation.pk)
    writer = await open_socket(user, conversation.pk)
    await writer.send_json_to({"type": "message.send", "content": "go"})
    await frames_until(watcher, lambda f: f["type"] == "reply.delta")

    await asyncio.to_thread(redis.stop)
    try:
        await asyncio.sleep(1)
        gate.set()  # the reply goes on while Redis is down
        deadline = time.monotonic() + 15
        while await reply_status() != "complete":
            assert time.monotonic() < deadline, "the reply was not saved"
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(redis.start)

    # Back: each page gets the reply as saved, on the socket it had all along.
    for socket in (watcher, writer):
        caught_up = await frames_until(
            socket,
            lambda f: (
                f["type"] == "reply.snapshot" and f["message"]["status"] == "complete"
            ),
        )
        assert caught_up[-1]["message"]["content"] == "before after"

    # And the conversation goes on.
    await writer.send_json_to({"type": "message.send", "content": "again"})
    done = await frames_until(watcher, lambda f: f["type"] == "reply.done")
    assert done[-1]["message"]["content"] == "Hello, world."


async def test_a_frame_sent_while_redis_is_down_gets_an_error_not_a_dead_socket(
    redis, channel_layer, open_socket, user, conversation, fake_minimax
):
    socket = await open_socket(user, conversation.pk)
    await asyncio.to_thread(redis.stop)
    try:
        await socket.send_json_to({"type": "reply.stop"})
        answer = await socket.receive_json_from(timeout=10)
    finally:
        await asyncio.to_thread(redis.start)

    assert answer["type"] == "error"
    assert answer["code"] == "unavailable"
    await socket.send_json_to({"type": "no.such.type"})
    assert (await socket.receive_json_from(timeout=10))["code"] == "bad_frame"
