"""The reply flow: what is stored, when, and what the open pages are told."""

import asyncio
import json
import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import relay, services
from conversations.frames import message_deleted, message_json, reply_done
from conversations.minimax import errors
from conversations.minimax.events import (
    Finish,
    ReasoningDelta,
    Sensitivity,
    StreamError,
    TextDelta,
    ToolCallDelta,
)
from conversations.models import Conversation, Message
from conversations.replies import pacing, runner
from conversations.signals import reply_finished

pytestmark = pytest.mark.django_db(transaction=True)

THREE_CHUNKS = [TextDelta("one "), TextDelta("two "), TextDelta("three")]


async def subscribe(layer, conversation) -> str:
    """Return a channel that receives what the conversation's pages receive."""
    channel = await layer.new_channel()
    await layer.group_add(relay.group_name(conversation.pk), channel)
    return channel


async def frames_on(layer, channel, wait: float = 0.1) -> list[dict]:
    """Return the frames sent to `channel` until it has been quiet for `wait`."""
    frames = []
    while True:
        try:
            event = await asyncio.wait_for(layer.receive(channel), wait)
        except TimeoutError:
            return frames
        frames.append(json.loads(event["text"]))


async def next_frame(layer, channel, frame_type: str) -> dict:
    while True:
        event = await asyncio.wait_for(layer.receive(channel), 2)
        frame = json.loads(event["text"])
        if frame["type"] == frame_type:
            return frame


def messages(conversation) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id"))


get_messages = database_sync_to_async(messages)


def count_writes(monkeypatch, writes: list[str]) -> None:
    """Record each save of a reply in `writes`: "checkpoint" or "outcome"."""
    write_checkpoint, write_outcome = runner.write_checkpoint, runner.write_outcome

    def checkpoint(*args, **kwargs):
        writes.append("checkpoint")
        return write_checkpoint(*args, **kwargs)

    def outcome(*args, **kwargs):
        writes.append("outcome")
        return write_outcome(*args, **kwargs)

    monkeypatch.setattr(runner, "write_checkpoint", checkpoint)
    monkeypatch.setattr(runner, "write_outcome", outcome)


async def test_reply_is_streamed_saved_and_announced(
    conversation, fake_minimax, channel_layer
):
    channel = await subscribe(channel_layer, conversation)

    await services.send_message(conversation.pk, "What is a monad?", "c-1")
    await runner.wait_for_replies()

    user_message, reply = await get_messages(conversation)
    assert (user_message.role, user_message.content) == ("user", "What is a monad?")
    assert reply.content == "Hello, world."
    assert reply.status == "complete"
    assert reply.finish_reason == "stop"
    assert reply.response_id == "fake-response-1"
    assert (reply.prompt_tokens, reply.completion_tokens, reply.total_tokens) == (
        12,
        4,
        16,
    )
    assert reply.first_token_ms is not None
    assert reply.duration_ms >= reply.first_token_ms
    assert reply.finished_at is not None
    assert reply.json_valid is None
    frames = await frames_on(channel_layer, channel)
    types = [frame["type"] for frame in frames]
    assert types[:2] == ["message.created", "message.created"]
    assert frames[0]["client_id"] == "c-1"
    assert frames[0]["message"]["id"] == user_message.pk
    assert frames[1]["message"]["status"] == "streaming"
    assert types[-1] == "reply.done"
    assert frames[-1]["message"] == message_json(reply)
    deltas = [frame for frame in frames if frame["type"] == "reply.delta"]
    assert "".join(frame["text"] for frame in deltas) == "Hello, world."
    refreshed = await database_sync_to_async(Conversation.objects.get)(
        pk=conversation.pk
    )
    assert refreshed.title == "What is a monad?"


async def test_context_sent_upstream_is_the_stored_history(
    conversation, fake_minimax, channel_layer
):
    await services.send_message(conversation.pk, "first")
    await runner.wait_for_replies()
    await services.send_message(conversation.pk, "second")
    await runner.wait_for_replies()

    request = fake_minimax.requests[-1]
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "first"),
        ("assistant", "Hello, world."),
        ("user", "second"),
    ]


async def test_user_message_is_stored_before_upstream_even_when_it_fails(
    conversation, fake_minimax, channel_layer
):
    seen_by_upstream = []

    async def look(request):
        stored = await get_messages(conversation)
        seen_by_upstream.extend((m.role, m.content) for m in stored)

    fake_minimax.on_request = look
    fake_minimax.enqueue([StreamError(errors.UpstreamUnreachable())])

    await services.send_message(conversation.pk, "Are you there?")
    await runner.wait_for_replies()

    assert ("user", "Are you there?") in seen_by_upstream
    user_message, reply = await get_messages(conversation)
    assert user_message.content == "Are you there?"
    assert reply.status == "error"
    assert reply.error_kind == "unreachable"


async def test_hundreds_of_deltas_make_few_frames_and_few_writes(
    conversation, fake_minimax, channel_layer, monkeypatch
):
    # 400 tokens over ~1.5 s: one frame per token and one save per token would be
    # 400 of each.
    script = []
    for _ in range(400):
        script += [TextDelta("x"), 0.003]
    fake_minimax.enqueue([*script, Finish("stop")])
    channel = await subscribe(channel_layer, conversation)
    saves = []
    count_writes(monkeypatch, saves)
    started = asyncio.get_running_loop().time()
    # Read as a page does, while the reply streams: the layer holds 100 at most.
    received = asyncio.create_task(frames_on(channel_layer, channel, wait=0.5))
    await services.send_message(conversation.pk, "Count to 400")
    await runner.wait_for_replies()
    elapsed = asyncio.get_running_loop().time() - started

    deltas = [frame for frame in await received if frame["type"] == "reply.delta"]
    assert "".join(frame["text"] for frame in deltas) == "x" * 400
    # A frame carries at least two pieces, at most one per MIN_INTERVAL (plus
    # the first and the last).
    assert len(deltas) <= elapsed / pacing.MIN_INTERVAL + 2
    assert len(deltas) <= 400 / 2 + 2
    offsets = [frame["text_offset"] for frame in deltas]
    assert offsets == sorted(offsets) and offsets[0] == 0
    # At most a checkpoint per CHECKPOINT_INTERVAL, then the final save.
    assert 1 <= len(saves) <= elapsed / runner.CHECKPOINT_INTERVAL + 2
    reply = (await get_messages(conversation))[-1]
    assert reply.content == "x" * 400


def test_a_send_reads_the_conversation_once_and_updates_nothing(conversation):
    """The send path (message.send's one trip to the database thread): the
    conversation and its owner locked in one query, one lookup of the owner's
    streaming replies (busy, and the concurrent-replies limit), the history, the
    two rows; a conversation in use is not rewritten."""
    outbox = relay.Outbox()
    services.do_store_user_message(outbox, conversation.pk, "first")
    Message.objects.filter(status="streaming").update(status="complete", content="a")
    with CaptureQueriesContext(connection) as captured:
        user_message, reply, _request, _conversation = services.do_store_user_message(
            outbox, conversation.pk, "second"
        )
    statements = [
        query["sql"].split()[0]
        for query in captured.captured_queries
        if query["sql"].split()[0] not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    ]
    assert statements == ["SELECT", "SELECT", "SELECT", "INSERT", "INSERT"]
    assert [m.content for m in messages(conversation)] == ["first", "a", "second", ""]
    assert reply.parent_id == user_message.pk


async def test_reply_is_saved_as_it_grows(
    conversation, fake_minimax, channel_layer, fast_checkpoints
):
    gate = asyncio.Event()
    fake_minimax.enqueue([*THREE_CHUNKS, gate, TextDelta("!"), Finish("stop")])

    await services.send_message(conversation.pk, "Go")
    reply = None
    for _ in range(50):
        await asyncio.sleep(0.05)
        reply = (await get_messages(conversation))[-1]
        if reply.content:
            break

    assert reply.content == "one two three"
    assert reply.status == "streaming"
    gate.set()
    await runner.wait_for_replies()
    reply = (await get_messages(conversation))[-1]
    assert (reply.content, reply.status) == ("one two three!", "complete")


async def test_a_reply_waiting_for_its_first_token_still_checkpoints(
    conversation, fake_minimax, channel_layer, monkeypatch
):
    monkeypatch.setattr(runner, "CHECKPOINT_INTERVAL", 0.05)
    monkeypatch.setattr(runner, "HEARTBEAT_INTERVAL", 0.1)
    gate = asyncio.Event()
    fake_minimax.enqueue([gate, *THREE_CHUNKS, Finish("stop")])

    await services.send_message(conversation.pk, "Slow start")
    started = (await get_messages(conversation))[-1].checkpoint_at
    await asyncio.sleep(0.4)
    reply = (await get_messages(conversation))[-1]
    gate.set()

    assert reply.status == "streaming"
    assert reply.checkpoint_at > started


async def test_stop_keeps_the_text_so_far(conversation, fake_minimax, channel_layer):
    never = asyncio.Event()
    fake_minimax.enqueue([*THREE_CHUNKS, never, TextDelta("unsaid")])
    channel = await subscribe(channel_layer, conversation)

    await services.send_message(conversation.pk, "Tell me a long story")
    await next_frame(channel_layer, channel, "reply.delta")
    await runner.request_stop(conversation.pk)
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert reply.status == "stopped"
    assert reply.content == "one two three"
    assert fake_minimax.closed_early == 1
    done = await next_frame(channel_layer, channel, "reply.done")
    assert done["message"]["status"] == "stopped"


async def test_a_second_message_while_streaming_is_refused(
    conversation, fake_minimax, channel_layer
):
    gate = asyncio.Event()
    fake_minimax.enqueue([TextDelta("busy..."), gate, Finish("stop")])
    await services.send_message(conversation.pk, "first")

    with pytest.raises(services.Busy):
        await services.send_message(conversation.pk, "second")
    with pytest.raises(services.Busy):
        await services.regenerate(conversation.pk)

    gate.set()
    await runner.wait_for_replies()
    stored = await get_messages(conversation)
    assert [m.content for m in stored] == ["first", "busy..."]


@pytest.mark.parametrize(
    "error",
    [
        errors.AuthenticationFailed(code=1004),
        errors.InsufficientBalance(code=1008),
        errors.RateLimited(code=1002),
        errors.SensitiveInput(code=1026),
        errors.SensitiveOutput(code=1027),
        errors.InvalidRequest(code=2013),
        errors.ServerError(code=1000),
        errors.UpstreamUnreachable(),
        errors.UpstreamTimeout(),
        errors.ProtocolError(),
        errors.MiniMaxError(code=9999),
    ],
    ids=lambda error: error.kind,
)
async def test_each_error_ends_the_reply_with_its_kind_and_the_text_so_far(
    conversation, fake_minimax, channel_layer, error
):
    fake_minimax.enqueue([*THREE_CHUNKS, StreamError(error)])
    channel = await subscribe(channel_layer, conversation)

    await services.send_message(conversation.pk, "Hello")
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert reply.status == "error"
    assert reply.error_kind == error.kind
    assert reply.error_code == error.code
    assert reply.error_message == error.message
    assert reply.content == "one two three"
    done = (await frames_on(channel_layer, channel))[-1]
    assert done["type"] == "reply.done"
    assert done["message"]["error"]["kind"] == error.kind


async def test_a_stream_that_ends_without_a_final_event_is_a_protocol_error(
    conversation, fake_minimax, channel_layer
):
    fake_minimax.enqueue(THREE_CHUNKS)

    await services.send_message(conversation.pk, "Hello")
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert (reply.status, reply.error_kind) == ("error", "protocol")
    assert reply.content == "one two three"


async def test_sensitive_flags_are_stored_on_the_reply_and_the_prompt(
    conversation, fake_minimax, channel_layer
):
    fake_minimax.enqueue(
        [
            TextDelta("Careful."),
            Sensitivity(
                input_sensitive=True, input_type=7, output_sensitive=True, output_type=3
            ),
            Finish("stop"),
        ]
    )

    await services.send_message(conversation.pk, "something risky")
    await runner.wait_for_replies()

    user_message, reply = await get_messages(conversation)
    assert (reply.input_sensitive, reply.input_sensitive_type) == (True, 7)
    assert (reply.output_sensitive, reply.output_sensitive_type) == (True, 3)
    assert (user_message.input_sensitive, user_message.input_sensitive_type) == (
        True,
        7,
    )
    flagged = await database_sync_to_async(
        lambda: set(Message.objects.flagged().values_list("pk", flat=True))
    )()
    assert flagged == {user_message.pk, reply.pk}


async def test_reasoning_is_kept_apart_from_the_answer(
    conversation, fake_minimax, channel_layer
):
    fake_minimax.enqueue(
        [
            ReasoningDelta("Think "),
            ReasoningDelta("first."),
            TextDelta("Answer."),
            Finish("stop"),
        ]
    )
    channel = await subscribe(channel_layer, conversation)

    await services.send_message(conversation.pk, "Why?")
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert (reply.reasoning, reply.content) == ("Think first.", "Answer.")
    deltas = [
        f for f in await frames_on(channel_layer, channel) if f["type"] == "reply.delta"
    ]
    assert "".join(f.get("reasoning", "") for f in deltas) == "Think first."


async def test_regenerate_keeps_the_last_reply_as_a_version(
    conversation, fake_minimax, channel_layer
):
    await services.send_message(conversation.pk, "Tell me a joke")
    await runner.wait_for_replies()
    old_reply = (await get_messages(conversation))[-1]
    fake_minimax.enqueue([TextDelta("A better joke."), Finish("stop")])
    channel = await subscribe(channel_layer, conversation)

    await services.regenerate(conversation.pk)
    await runner.wait_for_replies()

    user_message, kept, new_reply = await get_messages(conversation)
    assert user_message.content == "Tell me a joke"
    assert kept.pk == old_reply.pk
    assert new_reply.parent_id == kept.parent_id == user_message.pk
    assert (new_reply.content, new_reply.status) == ("A better joke.", "complete")
    frames = await frames_on(channel_layer, channel)
    assert frames[0]["type"] == "branch.changed"
    assert frames[0]["message_ids"] == [user_message.pk, new_reply.pk]
    assert frames[0]["messages"][-1]["sibling_ids"] == [old_reply.pk, new_reply.pk]
    assert frames[0]["messages"][-1]["version"] == 2
    assert [(m.role, m.content) for m in fake_minimax.requests[-1].messages] == [
        ("user", "Tell me a joke")
    ]


async def test_regenerate_retries_after_an_error(
    conversation, fake_minimax, channel_layer
):
    fake_minimax.enqueue([StreamError(errors.ServerError(code=1000))])
    await services.send_message(conversation.pk, "Hi")
    await runner.wait_for_replies()

    await services.regenerate(conversation.pk)
    await runner.wait_for_replies()

    _, failed, reply = await get_messages(conversation)
    assert failed.status == "error"
    assert (reply.status, reply.content) == ("complete", "Hello, world.")


async def test_regenerate_with_no_user_message_is_refused(
    conversation, fake_minimax, channel_layer
):
    with pytest.raises(services.NothingToRegenerate):
        await services.regenerate(conversation.pk)


@pytest.mark.parametrize(
    ("content", "valid"), [('{"answer": 42}', True), ('{"answer": "many"}', False)]
)
async def test_json_replies_are_checked_against_the_schema(
    conversation, fake_minimax, channel_layer, content, valid
):
    conversation.json_schema = {
        "name": "answer",
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "integer"}},
            "required": ["answer"],
        },
    }
    await database_sync_to_async(conversation.save)()
    fake_minimax.enqueue([TextDelta(content), Finish("stop")])

    await services.send_message(conversation.pk, "The answer?")
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert reply.json_valid is valid


async def test_recovery_leaves_a_reply_running_in_this_process_alone(
    conversation, fake_minimax, channel_layer
):
    gate = asyncio.Event()
    fake_minimax.enqueue([TextDelta("alive"), gate, Finish("stop")])
    await services.send_message(conversation.pk, "Hi")
    reply = (await get_messages(conversation))[-1]
    # As if its checkpoints were late (a long wait for the first token).
    long_ago = timezone.now() - runner.STALE_AFTER * 2
    await database_sync_to_async(Message.objects.filter(pk=reply.pk).update)(
        checkpoint_at=long_ago
    )

    recovered = await database_sync_to_async(runner.recover_stale_replies)()
    gate.set()
    await runner.wait_for_replies()

    assert recovered == 0
    reply = (await get_messages(conversation))[-1]
    assert reply.status == "complete"


async def test_deleting_the_conversation_mid_reply_ends_it_quietly(
    conversation, fake_minimax, channel_layer, fast_checkpoints
):
    gate = asyncio.Event()
    fake_minimax.enqueue([*THREE_CHUNKS, gate, TextDelta("more"), Finish("stop")])
    channel = await subscribe(channel_layer, conversation)
    await services.send_message(conversation.pk, "Hi")
    await next_frame(channel_layer, channel, "reply.delta")

    await database_sync_to_async(conversation.delete)()
    await asyncio.wait_for(runner.wait_for_replies(), timeout=2)

    assert fake_minimax.closed_early == 1
    assert runner.running_reply_ids() == set()
    remaining = [f["type"] for f in await frames_on(channel_layer, channel)]
    assert "reply.done" not in remaining


async def test_a_server_shutting_down_mid_reply_keeps_it_as_interrupted(
    conversation, fake_minimax, channel_layer
):
    fake_minimax.enqueue([*THREE_CHUNKS, asyncio.Event(), TextDelta("never")])
    channel = await subscribe(channel_layer, conversation)
    await services.send_message(conversation.pk, "Hi")
    await next_frame(channel_layer, channel, "reply.delta")

    (task,) = runner._running.values()
    task.cancel()
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert (reply.status, reply.content) == ("interrupted", "one two three")


async def test_tool_calls_are_assembled_from_their_pieces(
    conversation, fake_minimax, channel_layer
):
    fake_minimax.enqueue(
        [
            ToolCallDelta(0, id="call-1", name="get_weather", arguments='{"city": '),
            ToolCallDelta(0, arguments='"Paris"}'),
            Finish("tool_calls"),
        ]
    )

    await services.send_message(conversation.pk, "Weather in Paris?")
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls == [
        {
            "id": "call-1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]


async def test_end_to_end_with_the_simulator(
    conversation, offline_minimax, channel_layer
):
    await services.send_message(conversation.pk, "What is Django? [sim:flag-output]")
    await runner.wait_for_replies()

    _, reply = await get_messages(conversation)
    assert reply.status == "complete", reply.error_message
    assert "Django" in reply.content
    assert reply.total_tokens
    assert reply.output_sensitive is True
    assert reply.finish_reason == "stop"


async def test_simulated_drop_keeps_the_three_chunks(
    conversation, offline_minimax, channel_layer
):
    await services.send_message(conversation.pk, "Hello [sim:drop]")
    await runner.wait_for_replies()

    reply = (await get_messages(conversation))[-1]
    assert reply.status == "error"
    assert reply.error_kind in {"unreachable", "protocol"}
    assert reply.content


@pytest.mark.parametrize(
    "layer, repaired",
    [
        # One process: a reply it is not running is dead after a few seconds.
        ("channels.layers.InMemoryChannelLayer", True),
        # Shared layer: another process may be running it; wait past checkpoints.
        ("channels_redis.core.RedisChannelLayer", False),
    ],
)
def test_a_reply_unsaved_for_ten_seconds_is_dead_only_on_a_one_process_site(
    conversation, settings, layer, repaired
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": layer}}
    orphan = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="cut off",
        status="streaming",
        checkpoint_at=timezone.now() - timedelta(seconds=10),
    )

    runner.recover_stale_replies(conversation.pk)

    orphan.refresh_from_db()
    assert (orphan.status == "interrupted") is repaired
    assert orphan.content == "cut off"


# --- Frames only for committed writes -------------------------------------------


async def test_a_rolled_back_write_sends_no_frame(conversation, channel_layer):
    channel = await subscribe(channel_layer, conversation)

    def write(outbox, conversation_id):
        with transaction.atomic():
            outbox.post_on_commit(conversation_id, message_deleted(1))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await relay.run_write(write, conversation.pk)

    assert await frames_on(channel_layer, channel) == []


async def test_a_committed_write_is_announced_even_if_a_later_step_fails(
    conversation, channel_layer
):
    channel = await subscribe(channel_layer, conversation)

    def write(outbox, conversation_id):
        with transaction.atomic():
            outbox.post_on_commit(conversation_id, message_deleted(1))
        with transaction.atomic():
            outbox.post_on_commit(conversation_id, message_deleted(2))
            raise RuntimeError("the second one rolled back")

    with pytest.raises(RuntimeError):
        await relay.run_write(write, conversation.pk)

    assert await frames_on(channel_layer, channel) == [message_deleted(1)]


async def test_a_message_whose_transaction_fails_is_neither_stored_nor_announced(
    conversation, fake_minimax, channel_layer, monkeypatch
):
    channel = await subscribe(channel_layer, conversation)

    def broken_request(self, **kwargs):
        raise RuntimeError("building the request failed")

    monkeypatch.setattr(Conversation, "chat_request_in_window", broken_request)

    with pytest.raises(RuntimeError):
        await services.send_message(conversation.pk, "Hello", "c-1")

    assert await get_messages(conversation) == []
    assert await frames_on(channel_layer, channel) == []
    assert fake_minimax.requests == []


# --- A database that is busy for a moment -----------------------------------------


def fail_first(monkeypatch, name: str, error: Exception, times: int) -> list[str]:
    """Make runner.<name> raise `error` on its first `times` calls; log each call."""
    real = getattr(runner, name)
    calls: list[str] = []

    def flaky(*args, **kwargs):
        calls.append("failed" if len(calls) < times else "ok")
        if calls[-1] == "failed":
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, name, flaky)
    monkeypatch.setattr(runner, "RETRY_BACKOFF", 0.01)
    return calls


async def wait_for_content(conversation) -> Message:
    for _ in range(100):
        await asyncio.sleep(0.02)
        reply = (await get_messages(conversation))[-1]
        if reply.content:
            return reply
    raise AssertionError("the reply was never checkpointed")


async def test_a_checkpoint_that_meets_a_locked_database_retries_and_the_reply_goes_on(
    conversation, fake_minimax, channel_layer, fast_checkpoints, monkeypatch
):
    calls = fail_first(
        monkeypatch, "write_checkpoint", OperationalError("database is locked"), 2
    )
    gate = asyncio.Event()
    fake_minimax.enqueue([*THREE_CHUNKS, gate, TextDelta("!"), Finish("stop")])

    await services.send_message(conversation.pk, "Go")
    reply = await wait_for_content(conversation)
    gate.set()
    await runner.wait_for_replies()

    assert calls[:3] == ["failed", "failed", "ok"]
    assert (reply.content, reply.status) == ("one two three", "streaming")
    reply = (await get_messages(conversation))[-1]
    assert (reply.content, reply.status) == ("one two three!", "complete")
    assert fake_minimax.closed_early == 0


async def test_a_database_unreachable_for_every_retry_skips_the_checkpoint_only(
    conversation, fake_minimax, channel_layer, fast_checkpoints, monkeypatch
):
    calls = fail_first(
        monkeypatch, "write_checkpoint", InterfaceError("connection already closed"), 3
    )
    gate = asyncio.Event()
    fake_minimax.enqueue([*THREE_CHUNKS, gate, TextDelta("!"), Finish("stop")])

    await services.send_message(conversation.pk, "Go")
    reply = await wait_for_content(conversation)
    gate.set()
    await runner.wait_for_replies()

    # Three attempts for the first checkpoint, all failed; the next one saved.
    assert calls[:4] == ["failed", "failed", "failed", "ok"]
    assert reply.content == "one two three"
    reply = (await get_messages(conversation))[-1]
    assert (reply.content, reply.status) == ("one two three!", "complete")


async def test_the_final_save_retries_a_locked_database_then_announces_once(
    conversation, fake_minimax, channel_layer, monkeypatch
):
    calls = fail_first(
        monkeypatch, "write_outcome", OperationalError("database is locked"), 1
    )
    channel = await subscribe(channel_layer, conversation)

    await services.send_message(conversation.pk, "Hi")
    await runner.wait_for_replies()

    assert calls == ["failed", "ok"]
    reply = (await get_messages(conversation))[-1]
    assert (reply.content, reply.status) == ("Hello, world.", "complete")
    done = [
        f for f in await frames_on(channel_layer, channel) if f["type"] == "reply.done"
    ]
    assert done == [reply_done(reply)]


async def test_a_reply_whose_row_is_gone_stops_without_saving_or_announcing(
    conversation, fake_minimax, channel_layer, fast_checkpoints
):
    gate = asyncio.Event()
    fake_minimax.enqueue([*THREE_CHUNKS, gate, TextDelta("more"), Finish("stop")])
    channel = await subscribe(channel_layer, conversation)
    await services.send_message(conversation.pk, "Hi")
    await next_frame(channel_layer, channel, "reply.delta")

    await database_sync_to_async(
        Message.objects.filter(role="assistant", conversation=conversation).delete
    )()
    await asyncio.wait_for(runner.wait_for_replies(), timeout=2)

    assert fake_minimax.closed_early == 1
    assert [m.role for m in await get_messages(conversation)] == ["user"]
    remaining = [f["type"] for f in await frames_on(channel_layer, channel)]
    assert "reply.done" not in remaining


# --- reply_finished --------------------------------------------------------------


async def test_reply_finished_is_sent_after_the_final_save_in_the_database_thread(
    conversation, fake_minimax, channel_layer
):
    heard = []

    def listener(sender, message, **kwargs):
        stored = Message.objects.get(pk=message.pk)
        heard.append((sender, message.status, stored.status, threading.get_ident()))

    reply_finished.connect(listener)
    try:
        await services.send_message(conversation.pk, "Hi")
        await runner.wait_for_replies()
    finally:
        reply_finished.disconnect(listener)

    ((sender, status, stored_status, thread),) = heard
    assert (sender, status, stored_status) == (Message, "complete", "complete")
    assert thread != threading.get_ident()  # not on the event loop


async def test_a_failing_reply_finished_listener_does_not_fail_the_reply(
    conversation, fake_minimax, channel_layer
):
    channel = await subscribe(channel_layer, conversation)

    def broken(sender, message, **kwargs):
        raise RuntimeError("listener bug")

    reply_finished.connect(broken)
    try:
        await services.send_message(conversation.pk, "Hi")
        await runner.wait_for_replies()
    finally:
        reply_finished.disconnect(broken)

    reply = (await get_messages(conversation))[-1]
    assert reply.status == "complete"
    types = [f["type"] for f in await frames_on(channel_layer, channel)]
    assert types[-1] == "reply.done"


async def test_the_first_exchange_gets_a_model_made_title_announced_to_pages(
    conversation, channel_layer
):
    # The built-in simulator answers both the reply and the title request.
    channel = await subscribe(channel_layer, conversation)

    await services.send_message(conversation.pk, "How do I bake sourdough bread?")
    await runner.wait_for_replies()

    refreshed = await database_sync_to_async(Conversation.objects.get)(
        pk=conversation.pk
    )
    update = await next_frame(channel_layer, channel, "conversation.updated")
    assert update == {
        "type": "conversation.updated",
        "conversation_id": conversation.pk,
        "title": refreshed.title,
    }
    assert refreshed.title and refreshed.title != "How do I bake sourdough bread?"


async def test_only_the_first_reply_of_a_conversation_asks_for_a_title(
    conversation, fake_minimax, channel_layer, monkeypatch
):
    asked: list[int] = []
    monkeypatch.setattr(runner, "start_title", asked.append)

    await services.send_message(conversation.pk, "First question")
    await runner.wait_for_replies()
    await services.send_message(conversation.pk, "Second question")
    await runner.wait_for_replies()

    assert asked == [conversation.pk]
    assert [m.status for m in await get_messages(conversation)][1::2] == [
        "complete",
        "complete",
    ]
