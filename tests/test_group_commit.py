"""Sends that arrive together are stored together (conversations/group_commit.py).

The queue itself with a stand-in write (no database), then the send path: many
sends at once are one transaction, each still answered as if it were alone.
"""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import limits, relay, services
from conversations.group_commit import GroupCommit
from conversations.models import Conversation, Message
from conversations.replies import runner

# The stand-in writes too: run_write goes through the database thread.
pytestmark = pytest.mark.django_db(transaction=True)


class RecordingWrite:
    """A write_many that records its batches; the first waits until released."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()

    def __call__(self, outbox, items: list[str]) -> list:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release_first.wait(5)
        if "break" in items and len(items) > 1:
            raise RuntimeError("the whole batch fails")
        return [
            ValueError(item) if item.startswith("bad") else item.upper()
            for item in items
        ]


async def wait_started(write: RecordingWrite) -> None:
    assert await asyncio.to_thread(write.first_started.wait, 5)


async def test_the_first_write_goes_alone_and_the_ones_that_queue_go_together():
    write = RecordingWrite()
    store = GroupCommit(write)
    first = asyncio.create_task(store.write("a"))
    await wait_started(write)
    queued = [asyncio.create_task(store.write(item)) for item in "bcd"]
    await asyncio.sleep(0.01)
    write.release_first.set()

    assert await first == "A"
    assert await asyncio.gather(*queued) == ["B", "C", "D"]
    assert write.batches == [["a"], ["b", "c", "d"]]


async def test_an_item_refused_in_a_batch_fails_alone():
    write = RecordingWrite()
    write.release_first.set()
    store = GroupCommit(write)

    results = await asyncio.gather(
        store.write("ok"), store.write("bad one"), return_exceptions=True
    )

    assert results[0] == "OK"
    assert isinstance(results[1], ValueError)


async def test_a_batch_that_fails_is_written_again_one_item_at_a_time():
    write = RecordingWrite()
    store = GroupCommit(write)
    first = asyncio.create_task(store.write("a"))
    await wait_started(write)
    queued = [asyncio.create_task(store.write(item)) for item in ("b", "break", "c")]
    await asyncio.sleep(0.01)
    write.release_first.set()
    await first

    results = await asyncio.gather(*queued, return_exceptions=True)

    assert results == ["B", "BREAK", "C"]
    assert write.batches[1:] == [["b", "break", "c"], ["b"], ["break"], ["c"]]


async def test_a_caller_that_gave_up_before_its_batch_is_left_out():
    write = RecordingWrite()
    store = GroupCommit(write)
    first = asyncio.create_task(store.write("a"))
    await wait_started(write)
    given_up = asyncio.create_task(store.write("gone"))
    kept = asyncio.create_task(store.write("kept"))
    await asyncio.sleep(0.01)
    given_up.cancel()
    write.release_first.set()

    assert await first == "A"
    assert await kept == "KEPT"
    assert write.batches == [["a"], ["kept"]]


# --- The send path ---------------------------------------------------------------


def make_conversations(user, count: int) -> list[Conversation]:
    return [
        Conversation.objects.create(owner=user, model="MiniMax-Text-01", dialect="v2")
        for _ in range(count)
    ]


def test_sends_stored_together_cost_a_few_queries_and_each_gets_its_rows(
    user, settings
):
    settings.CHAT_LIMIT_CONCURRENT_REPLIES = 0
    conversations = make_conversations(user, 10)
    sends = [
        services.Send(conversation.pk, f"question {n}", f"c-{n}")
        for n, conversation in enumerate(conversations)
    ]

    with CaptureQueriesContext(connection) as captured:
        results = services.do_store_sends(relay.Outbox(), sends)

    # Lock, streaming replies, messages, two INSERTs, the titles: the same
    # statements as for one send.
    # (Django records the titles' executemany as "10 times: UPDATE ...".)
    written = [
        query["sql"].removeprefix(f"{len(conversations)} times: ").split()[0]
        for query in captured.captured_queries
        if query["sql"].split()[0] not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    ]
    assert written.count("INSERT") == 2
    assert written.count("UPDATE") == 1
    assert len(written) <= 6
    for n, (conversation, stored) in enumerate(
        zip(conversations, results, strict=True)
    ):
        rows = list(conversation.messages.order_by("id"))
        assert [(m.role, m.content, m.status) for m in rows] == [
            ("user", f"question {n}", "complete"),
            ("assistant", "", "streaming"),
        ]
        assert stored.user_message.pk == rows[0].pk
        assert stored.reply.parent_id == rows[0].pk
        assert stored.request.messages[-1].content == f"question {n}"
        conversation.refresh_from_db()
        assert conversation.title == f"question {n}"


def test_a_batch_moves_up_the_list_only_the_chats_idle_for_a_while(user):
    titled, idle, fresh = make_conversations(user, 3)
    long_ago = timezone.now() - services.TOUCH_INTERVAL * 2
    Conversation.objects.filter(pk__in=[idle.pk, fresh.pk]).update(
        title="Kept title", updated_at=long_ago
    )
    Conversation.objects.filter(pk=fresh.pk).update(updated_at=timezone.now())
    fresh.refresh_from_db()
    before = timezone.now()

    services.do_store_sends(
        relay.Outbox(),
        [services.Send(c.pk, f"to {c.pk}") for c in (titled, idle, fresh)],
    )

    titled.refresh_from_db()
    idle_after = Conversation.objects.get(pk=idle.pk)
    fresh_after = Conversation.objects.get(pk=fresh.pk)
    assert titled.title == f"to {titled.pk}"
    assert titled.updated_at >= before
    # A title of its own is kept; a chat idle for longer than TOUCH_INTERVAL
    # moves to the top; one in use is not rewritten on every message.
    assert idle_after.title == "Kept title"
    assert idle_after.updated_at >= before
    assert fresh_after.updated_at == fresh.updated_at
    newest_first = list(Conversation.objects.filter(owner=user).order_by("-updated_at"))
    assert newest_first[-1] == fresh_after


def test_a_second_send_to_one_conversation_in_a_batch_finds_it_busy(user):
    (conversation,) = make_conversations(user, 1)

    first, second = services.do_store_sends(
        relay.Outbox(),
        [services.Send(conversation.pk, "one"), services.Send(conversation.pk, "two")],
    )

    assert first.user_message.content == "one"
    assert isinstance(second, services.Busy)
    assert [m.content for m in conversation.messages.order_by("id")] == ["one", ""]


def test_the_concurrent_reply_limit_counts_the_sends_of_its_own_batch(user, settings):
    settings.CHAT_LIMIT_CONCURRENT_REPLIES = 2
    conversations = make_conversations(user, 3)

    results = services.do_store_sends(
        relay.Outbox(), [services.Send(c.pk, "hi") for c in conversations]
    )

    assert [isinstance(result, services.StoredSend) for result in results] == [
        True,
        True,
        False,
    ]
    assert isinstance(results[2], limits.RateLimited)
    assert not conversations[2].messages.exists()


def test_a_send_to_a_deleted_conversation_fails_alone(user):
    kept, deleted = make_conversations(user, 2)
    deleted_id = deleted.pk
    deleted.delete()

    stored, missing = services.do_store_sends(
        relay.Outbox(),
        [services.Send(kept.pk, "still here"), services.Send(deleted_id, "gone")],
    )

    assert stored.user_message.content == "still here"
    assert isinstance(missing, Conversation.DoesNotExist)


async def test_sends_arriving_together_all_stream_their_replies(
    user, fake_minimax, channel_layer, settings
):
    settings.CHAT_LIMIT_CONCURRENT_REPLIES = 0
    conversations = await database_sync_to_async(make_conversations)(user, 8)
    channels = []
    for conversation in conversations:
        channel = await channel_layer.new_channel()
        await channel_layer.group_add(relay.group_name(conversation.pk), channel)
        channels.append(channel)

    sent = await asyncio.gather(
        *(
            services.send_message(conversation.pk, f"hello {n}", f"c-{n}")
            for n, conversation in enumerate(conversations)
        )
    )
    await runner.wait_for_replies()

    assert [message.content for message in sent] == [f"hello {n}" for n in range(8)]
    replies = await database_sync_to_async(list)(
        Message.objects.filter(role="assistant").order_by("conversation_id")
    )
    assert [(r.conversation_id, r.status, r.content) for r in replies] == [
        (conversation.pk, "complete", "Hello, world.") for conversation in conversations
    ]
    for n, channel in enumerate(channels):
        created = await asyncio.wait_for(channel_layer.receive(channel), 2)
        assert f'"client_id":"c-{n}"' in created["text"]
