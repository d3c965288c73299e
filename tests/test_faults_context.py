"""A long conversation sends only what fits the model's window, and says so."""

import json
from itertools import pairwise

import pytest
from channels.db import database_sync_to_async

from conversations.context import estimate_tokens
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)

TURN = "Tell me more about the history of tea. " * 50  # ~2000 characters


def long_conversation(user, model: str, dialect: str, turns: int) -> Conversation:
    conversation = Conversation.objects.create(
        owner=user, model=model, dialect=dialect, system_prompt="You are a tea expert."
    )
    messages = Message.objects.bulk_create(
        Message(
            conversation=conversation,
            role="user" if n % 2 == 0 else "assistant",
            content=f"{n}: {TURN}",
        )
        for n in range(turns)
    )
    # bulk_create skips Message.save(): link the turns into one branch by hand.
    for previous, message in pairwise(messages):
        message.parent = previous
    Message.objects.bulk_update(messages[1:], ["parent"])
    conversation.active_leaf = messages[-1] if messages else None
    conversation.save()
    return conversation


def request_size(request) -> int:
    return len(json.dumps([m.content for m in request.messages]))


@pytest.mark.parametrize(
    ("model", "dialect", "window"),
    [("abab5.5-chat", "v2", 16_384), ("MiniMax-M2.7", "chat", 204_800)],
)
async def test_500_turns_are_trimmed_to_the_window_and_the_reply_says_so(
    open_socket, user, fake_minimax, model, dialect, window
):
    conversation = await database_sync_to_async(long_conversation)(
        user, model, dialect, 999
    )
    socket = await open_socket(user, conversation.pk)

    await socket.send_json_to({"type": "message.send", "content": "And now?"})
    while (frame := await socket.receive_json_from(timeout=5))["type"] != "reply.done":
        pass

    request = fake_minimax.requests[0]
    sent = [m for m in request.messages if m.role != "system"]
    assert request.messages[0].role == "system"
    assert request.messages[0].content == "You are a tea expert."
    assert sent[0].role == "user"
    assert sent[-1].content == "And now?"
    assert sum(estimate_tokens(m.content) for m in request.messages) < window
    assert len(sent) < 1000
    left_out = 1000 - len(sent)
    assert frame["message"]["context_trimmed"] == left_out
    reply = await database_sync_to_async(Message.objects.get)(pk=frame["message"]["id"])
    assert reply.context_trimmed == left_out


def test_a_short_conversation_is_sent_whole(user):
    conversation = long_conversation(user, "abab5.5-chat", "v2", 5)
    conversation.messages.create(role="user", content="next")

    request, left_out = conversation.chat_request_in_window()

    assert left_out == 0
    assert len(request.messages) == 7  # the system prompt and six turns


def test_the_latest_turn_is_kept_even_when_it_alone_is_too_long(user):
    conversation = long_conversation(user, "abab5.5-chat", "v2", 4)
    huge = "茶" * 40_000  # about 40k tokens, more than the 16k window
    conversation.messages.create(role="user", content=huge)

    request, left_out = conversation.chat_request_in_window()

    assert request.messages[-1].content == huge
    assert left_out == 4


def test_cjk_counts_more_tokens_per_character_than_ascii():
    assert estimate_tokens("茶" * 300) == 300
    assert estimate_tokens("a" * 300) == 100
