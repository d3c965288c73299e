"""The data model: what a page shows of a message, and what is sent upstream."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from conversations.frames import message_json
from conversations.minimax.catalog import Dialect
from conversations.minimax.dialects.requests import build_body
from conversations.minimax.prompting import DEFAULT_BOT_CONTENT, Turn
from conversations.minimax.types import BotSetting, ChatMessage
from conversations.models import HIDDEN_PLACEHOLDER, Conversation, Message

pytestmark = pytest.mark.django_db


def add(conversation, role, content, **fields) -> Message:
    return Message.objects.create(
        conversation=conversation, role=role, content=content, **fields
    )


def test_conversation_url_and_owner_filter(conversation, user, other_user):
    Conversation.objects.create(owner=other_user, model="MiniMax-M2.7", dialect="chat")

    assert conversation.get_absolute_url() == f"/c/{conversation.pk}/"
    assert list(Conversation.objects.for_user(user)) == [conversation]
    assert list(Conversation.objects.for_user(AnonymousUser())) == []


def test_title_from_first_message_is_one_short_line(conversation):
    title = conversation.title_from("  How do\nI  " + "x" * 200)

    assert title.startswith("How do I x")
    assert len(title) <= 60
    assert "\n" not in title


def test_history_skips_failed_empty_and_streaming_replies(conversation):
    conversation.user_name, conversation.bot_name = "Ada", "Bot"
    add(conversation, "user", "one")
    add(conversation, "assistant", "first answer", sender_name="Bot", reasoning="hmm")
    add(conversation, "user", "two")
    add(conversation, "assistant", "half an ans", status="error", error_kind="timeout")
    add(conversation, "user", "three")
    add(conversation, "assistant", "", status="stopped")
    add(conversation, "user", "four")
    add(conversation, "assistant", "kept", status="stopped", sender_name="Bot")
    add(conversation, "user", "five")
    add(conversation, "assistant", "so far", status="streaming")

    turns = conversation.history()

    assert [(t.role, t.content) for t in turns] == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
        ("user", "three"),
        ("user", "four"),
        ("assistant", "kept"),
        ("user", "five"),
    ]
    assert turns[1] == Turn("assistant", "first answer", reasoning="hmm")
    request = conversation.chat_request()
    assert request.messages[0] == ChatMessage("user", "one", name="Ada")
    assert request.messages[1] == ChatMessage(
        "assistant", "first answer", name="Bot", reasoning="hmm"
    )


def test_chat_request_v2_sends_system_prompt_and_settings(conversation):
    conversation.system_prompt = "Answer in French."
    conversation.temperature, conversation.top_p, conversation.max_tokens = 0.3, 0.8, 99
    conversation.json_schema = {"name": "answer", "schema": {"type": "object"}}
    add(conversation, "user", "Hello")

    request = conversation.chat_request()

    assert request.dialect == Dialect.V2
    assert request.model == "MiniMax-Text-01"
    assert request.stream is True
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Answer in French."),
        ("user", "Hello"),
    ]
    assert (request.temperature, request.top_p, request.max_tokens) == (0.3, 0.8, 99)
    assert request.json_schema == {"name": "answer", "schema": {"type": "object"}}
    assert request.bot_setting == []


def test_chat_request_chat_dialect_keeps_reasoning_for_the_think_block(user):
    conversation = Conversation.objects.create(
        owner=user, model="MiniMax-M2.7", dialect="chat"
    )
    add(conversation, "user", "Why?")
    add(conversation, "assistant", "Because.", reasoning="Let me think.")
    add(conversation, "user", "Sure?")

    request = conversation.chat_request(stream=False)

    assert request.dialect == Dialect.CHAT
    assert request.stream is False
    assert request.messages[1].reasoning == "Let me think."
    assert request.json_schema is None


def test_chat_request_pro_uses_bot_setting_and_sender_names(user):
    conversation = Conversation.objects.create(
        owner=user,
        model="abab5.5-chat",
        dialect="pro",
        bot_name="Tutor",
        user_name="Ada",
        system_prompt="Tutor teaches maths.",
    )
    add(conversation, "user", "2+2?")
    add(conversation, "assistant", "4", sender_name="Old bot name")
    add(conversation, "user", "And 3+3?")

    request = conversation.chat_request()

    assert request.dialect == Dialect.PRO
    assert request.bot_setting == [BotSetting("Tutor", "Tutor teaches maths.")]
    assert request.user_name == "Ada"
    assert all(m.role != "system" for m in request.messages)
    assert [(m.role, m.name) for m in request.messages] == [
        ("user", "Ada"),
        ("assistant", "Tutor"),
        ("user", "Ada"),
    ]


def test_chat_request_pro_without_a_system_prompt_describes_the_bot(user):
    conversation = Conversation.objects.create(
        owner=user, model="abab5.5-chat", dialect="pro"
    )

    request = conversation.chat_request()

    # The vendor quick-start's description: the one default, in the vendor package.
    assert request.bot_setting == [BotSetting("MM智能助理", DEFAULT_BOT_CONTENT)]


def test_flagged_finds_input_and_output_flags(conversation):
    add(conversation, "user", "fine")
    flagged_in = add(conversation, "assistant", "a", input_sensitive=True)
    flagged_out = add(conversation, "assistant", "b", output_sensitive=True)

    assert set(Message.objects.flagged()) == {flagged_in, flagged_out}


REDIS_LAYER = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}


def test_recover_replies_on_a_one_process_site_marks_every_streaming_reply(
    conversation,
):
    """Nothing else can be running them: the one process is about to start."""
    just_now = add(
        conversation,
        "assistant",
        "cut off a second ago",
        status="streaming",
        checkpoint_at=timezone.now(),
    )

    call_command("recover_replies", stdout=StringIO())

    just_now.refresh_from_db()
    assert just_now.status == "interrupted"
    assert just_now.content == "cut off a second ago"


@override_settings(CHANNEL_LAYERS=REDIS_LAYER)
def test_recover_replies_marks_only_stale_streaming_replies(conversation):
    now = timezone.now()
    dead = add(
        conversation,
        "assistant",
        "text before the crash",
        status="streaming",
        checkpoint_at=now - timedelta(minutes=5),
    )
    live = add(conversation, "assistant", "live", status="streaming", checkpoint_at=now)
    out = StringIO()

    call_command("recover_replies", stdout=out)

    dead.refresh_from_db()
    live.refresh_from_db()
    assert dead.status == "interrupted"
    assert dead.content == "text before the crash"
    assert dead.finished_at is not None
    assert live.status == "streaming"
    assert "1" in out.getvalue()


def test_pro_request_body_on_the_wire(user):
    conversation = Conversation.objects.create(
        owner=user, model="abab5.5-chat", dialect="pro", bot_name="Tutor"
    )
    add(conversation, "user", "2+2?")
    add(conversation, "assistant", "4")
    add(conversation, "user", "And 3+3?")

    body = build_body(conversation.chat_request(), Dialect.PRO)

    assert body["reply_constraints"] == {"sender_type": "BOT", "sender_name": "Tutor"}
    assert body["bot_setting"][0]["bot_name"] == "Tutor"
    assert [(m["sender_type"], m["sender_name"]) for m in body["messages"]] == [
        ("USER", "用户"),
        ("BOT", "Tutor"),
        ("USER", "用户"),
    ]


def test_a_hidden_message_shows_the_placeholder_and_is_not_sent_upstream(
    conversation,
):
    add(conversation, "user", "first question")
    add(conversation, "assistant", "first answer")
    hidden = add(
        conversation,
        "assistant",
        "rude answer",
        reasoning="rude thoughts",
        hidden_at=timezone.now(),
    )
    add(conversation, "user", "second question")

    data = message_json(hidden)
    sent = [turn.content for turn in conversation.history()]

    assert data["hidden"] is True
    assert (data["content"], data["reasoning"]) == (str(HIDDEN_PLACEHOLDER), "")
    assert sent == ["first question", "first answer", "second question"]
