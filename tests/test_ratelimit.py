"""Per-user limits: replies at once, messages a minute, conversations an hour,
speech a day, failed sign-ins. Each refusal says when to try again."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from conversations.limits import RateLimited, check_speech_quota
from conversations.minimax.events import Finish, TextDelta
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


async def until(socket, frame_type: str) -> dict:
    while (frame := await socket.receive_json_from(timeout=5))["type"] != frame_type:
        pass
    return frame


def new_conversation(user) -> Conversation:
    return Conversation.objects.create(
        owner=user, model="MiniMax-Text-01", dialect="v2"
    )


async def test_replies_at_once_are_limited(
    open_socket, user, other_user, fake_minimax, settings
):
    settings.CHAT_LIMIT_CONCURRENT_REPLIES = 2
    gate = asyncio.Event()
    conversations = [
        await database_sync_to_async(new_conversation)(user) for _ in range(3)
    ]
    sockets = [await open_socket(user, c.pk) for c in conversations]
    for socket in sockets[:2]:
        fake_minimax.enqueue([TextDelta("slow"), gate, Finish("stop")])
        await socket.send_json_to({"type": "message.send", "content": "go"})
        await until(socket, "reply.delta")

    await sockets[2].send_json_to({"type": "message.send", "content": "third"})
    refused = await until(sockets[2], "error")

    assert refused["code"] == "rate_limited"
    assert "at most 2 replies" in refused["message"]
    assert "Try again in" in refused["message"]
    stored = await database_sync_to_async(lambda: conversations[2].messages.count())()
    assert stored == 0
    # Someone else is not held back by this user's replies.
    theirs = await database_sync_to_async(new_conversation)(other_user)
    their_socket = await open_socket(other_user, theirs.pk)
    await their_socket.send_json_to({"type": "message.send", "content": "mine"})
    assert (await until(their_socket, "reply.done"))["message"]["status"] == (
        "complete"
    )
    gate.set()


async def test_messages_a_minute_are_limited(
    open_socket, user, conversation, fake_minimax, settings
):
    settings.CHAT_LIMIT_MESSAGES_PER_MINUTE = 3
    socket = await open_socket(user, conversation.pk)
    for n in range(3):
        await socket.send_json_to({"type": "message.send", "content": f"m{n}"})
        await until(socket, "reply.done")

    await socket.send_json_to({"type": "message.send", "content": "one more"})
    refused = await until(socket, "error")
    await socket.send_json_to({"type": "reply.regenerate"})
    refused_again = await until(socket, "error")

    assert refused["code"] == refused_again["code"] == "rate_limited"
    assert 1 <= refused["retry_after"] <= 60
    assert "at most 3 messages a minute" in refused["message"]
    count = await database_sync_to_async(Message.objects.filter(role="user").count)()
    assert count == 3


def test_conversations_an_hour_are_limited(user, settings):
    settings.CHAT_LIMIT_CONVERSATIONS_PER_HOUR = 2
    client = Client()
    client.force_login(user)

    def create():
        return client.post(
            "/api/conversations/",
            json.dumps({"model": "MiniMax-M2.7"}),
            content_type="application/json",
        )

    assert [create().status_code for _ in range(2)] == [201, 201]
    refused = create()

    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert "at most 2 conversations an hour" in refused.json()["error"]
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert Conversation.objects.count() == 2


def test_speech_characters_a_day_are_limited(user, other_user, settings):
    settings.CHAT_LIMIT_SPEECH_CHARS_PER_DAY = 1000
    check_speech_quota(user, 600)
    check_speech_quota(user, 400)

    with pytest.raises(RateLimited) as refused:
        check_speech_quota(user, 1)

    assert "1000 characters" in refused.value.message()
    check_speech_quota(other_user, 1000)


def test_a_refused_speech_request_does_not_use_up_the_quota(user, settings):
    settings.CHAT_LIMIT_SPEECH_CHARS_PER_DAY = 1000
    check_speech_quota(user, 900)
    with pytest.raises(RateLimited):
        check_speech_quota(user, 200)
    check_speech_quota(user, 100)


def test_zero_turns_a_limit_off(user, settings):
    settings.CHAT_LIMIT_SPEECH_CHARS_PER_DAY = 0
    check_speech_quota(user, 10**9)


def sign_in(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_failed_sign_ins_lock_the_account_out_for_that_address(
    user, other_user, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="10.0.0.7")
    assert [sign_in(client, "ada", "wrong").status_code for _ in range(3)] == [
        200,
        200,
        429,  # the third failure locks the pair out
    ]

    locked = sign_in(client, "ada", "ada-password-1")

    assert locked.status_code == 429
    assert b"Try again in 15 minutes" in locked.content
    assert "_auth_user_id" not in client.session
    # Another account, or the same one from elsewhere, is not locked.
    assert sign_in(Client(), "bob", "bob-password-1").status_code == 302
    assert (
        sign_in(Client(REMOTE_ADDR="10.0.0.8"), "ada", "ada-password-1").status_code
        == 302
    )


def test_a_good_sign_in_resets_the_count(user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        sign_in(client, "ada", "wrong")
    assert sign_in(client, "ada", "ada-password-1").status_code == 302
    client.logout()
    for _ in range(2):
        sign_in(client, "ada", "wrong")
    assert sign_in(client, "ada", "ada-password-1").status_code == 302
