"""A stored conversation turned into MiniMax's request: the wire body each dialect
gets, and what the simulator (MiniMax's rules) makes of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from conversations.minimax.catalog import Dialect
from conversations.minimax.client import MiniMaxClient
from conversations.minimax.dialects import build_body, resolve_dialect
from conversations.minimax.prompting import (
    DEFAULT_BOT_CONTENT,
    ConversationSettings,
    Turn,
    build_chat_request,
    reply_sender_name,
)
from conversations.minimax.simulator import SimulatorTransport
from conversations.minimax.types import DEFAULT_BOT_NAME, DEFAULT_USER_NAME

HISTORY = [
    Turn("user", "Who are you?"),
    Turn("assistant", "A helpful bot.", reasoning="They ask my name."),
    Turn("user", "And what can you do?"),
]


def wire(settings: ConversationSettings, history: list[Turn] = HISTORY) -> dict:
    request = build_chat_request(settings, history)
    return build_body(request, resolve_dialect(request))


@pytest.fixture
async def client() -> AsyncIterator[MiniMaxClient]:
    client = MiniMaxClient(
        api_key="sk-test-prompting",
        base_url="http://simulator",
        transport=SimulatorTransport(chunk_delay=0),
        max_retries=0,
    )
    yield client
    await client.aclose()


# --- chatcompletion_pro: bot_setting, sender names, reply_constraints ---------------


def test_pro_describes_its_bot_with_the_system_prompt():
    settings = ConversationSettings(
        "abab6.5s-chat",
        Dialect.PRO,
        system_prompt="  You are Ada, a patient tutor.  ",
        bot_name="Ada",
        user_name="Sam",
    )
    body = wire(settings)
    assert body["bot_setting"] == [
        {"bot_name": "Ada", "content": "You are Ada, a patient tutor."}
    ]
    assert body["reply_constraints"] == {"sender_type": "BOT", "sender_name": "Ada"}
    assert [(m["sender_type"], m["sender_name"]) for m in body["messages"]] == [
        ("USER", "Sam"),
        ("BOT", "Ada"),
        ("USER", "Sam"),
    ]
    assert "system" not in str(body["messages"])  # the prompt lives in bot_setting


def test_pro_without_a_system_prompt_uses_the_vendors_bot_description():
    body = wire(ConversationSettings("abab6.5s-chat", Dialect.PRO, bot_name=""))
    # Seed 002's own description and bot name, the one definition of both.
    assert body["bot_setting"] == [
        {"bot_name": DEFAULT_BOT_NAME, "content": DEFAULT_BOT_CONTENT}
    ]
    assert DEFAULT_BOT_CONTENT.startswith("MM智能助理是一款由MiniMax自研的")


def test_a_renamed_bot_keeps_its_past_turns():
    """pro refuses a BOT sender that bot_setting does not name: past turns take the
    bot's current name, and MiniMax answers under it."""
    settings = ConversationSettings(
        "abab6.5s-chat", Dialect.PRO, bot_name="New name", user_name="Sam"
    )
    body = wire(settings)
    bot_turns = [m for m in body["messages"] if m["sender_type"] == "BOT"]
    assert [m["sender_name"] for m in bot_turns] == ["New name"]


async def test_pro_request_is_accepted_and_answered_by_the_named_bot(client):
    settings = ConversationSettings(
        "abab6.5s-chat", Dialect.PRO, system_prompt="Be brief.", bot_name="Ada"
    )
    result = await client.complete(build_chat_request(settings, HISTORY))
    assert result.finish_reason == "stop"
    assert "**Ada**" in result.text  # the simulator's pro reply names its speaker


# --- chatcompletion_v2 and /v1/chat/completions ---------------------------------------


@pytest.mark.parametrize(
    ("model", "dialect"),
    [("abab6.5s-chat", Dialect.V2), ("MiniMax-M2.7", Dialect.CHAT)],
)
def test_role_dialects_send_the_system_prompt_first(model, dialect):
    body = wire(ConversationSettings(model, dialect, system_prompt="Be brief."))
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in body["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert "bot_setting" not in body and "reply_constraints" not in body


def test_role_dialects_send_no_empty_system_message():
    body = wire(ConversationSettings("abab6.5s-chat", Dialect.V2, system_prompt=" "))
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_chat_dialect_sends_reasoning_back_inline():
    body = wire(ConversationSettings("MiniMax-M2.7"))
    assistant = body["messages"][1]
    assert assistant["content"] == (
        "<think>\nThey ask my name.\n</think>\n\nA helpful bot."
    )
    v2 = wire(ConversationSettings("MiniMax-M1"))
    assert v2["messages"][1]["content"] == "A helpful bot."


def test_model_default_dialect_when_none_is_chosen():
    assert ConversationSettings("MiniMax-M2.7").resolved_dialect is Dialect.CHAT
    assert ConversationSettings("abab5.5-chat").resolved_dialect is Dialect.PRO
    assert ConversationSettings("abab6.5s-chat", "pro").resolved_dialect is Dialect.PRO


@pytest.mark.parametrize(
    ("model", "dialect", "key"),
    [
        ("abab6.5s-chat", Dialect.V2, "max_tokens"),
        ("MiniMax-M2.7", Dialect.CHAT, "max_completion_tokens"),
        ("abab6.5s-chat", Dialect.PRO, "tokens_to_generate"),
    ],
)
def test_sampling_settings_reach_the_wire(model, dialect, key):
    settings = ConversationSettings(
        model, dialect, temperature=0.3, top_p=0.8, max_tokens=512
    )
    body = wire(settings)
    assert (body[key], body["temperature"], body["top_p"]) == (512, 0.3, 0.8)
    assert body["stream"] is True
    unset = wire(ConversationSettings(model, dialect))
    assert not {"temperature", "top_p", key} & set(unset)


def test_stream_false_and_json_schema():
    schema: dict[str, Any] = {
        "name": "city",
        "schema": {"type": "object", "properties": {}, "required": []},
    }
    settings = ConversationSettings("MiniMax-Text-01", json_schema=schema)
    request = build_chat_request(settings, HISTORY, stream=False)
    body = build_body(request, resolve_dialect(request))
    assert body["stream"] is False
    assert body["response_format"] == {"type": "json_schema", "json_schema": schema}
    empty = build_chat_request(
        ConversationSettings("MiniMax-Text-01", json_schema={}), []
    )
    assert empty.json_schema is None  # a cleared schema field sends none


@pytest.mark.parametrize(
    ("model", "dialect"),
    [
        ("abab6.5s-chat", Dialect.V2),
        ("MiniMax-M1", Dialect.V2),
        ("MiniMax-M2.7", Dialect.CHAT),
        ("abab6.5s-chat", Dialect.PRO),
    ],
)
async def test_every_dialect_accepts_the_built_request(client, model, dialect):
    settings = ConversationSettings(model, dialect, system_prompt="Be brief.")
    result = await client.complete(build_chat_request(settings, HISTORY))
    assert result.finish_reason == "stop" and result.text


# --- the label a reply is stored under ------------------------------------------------


def test_reply_sender_name():
    assert reply_sender_name(ConversationSettings("abab6.5s-chat", "pro")) == (
        DEFAULT_BOT_NAME
    )
    pro = ConversationSettings("abab6.5s-chat", Dialect.PRO, bot_name="Ada")
    assert reply_sender_name(pro) == "Ada"
    blank = ConversationSettings("abab6.5s-chat", Dialect.PRO, bot_name="")
    assert reply_sender_name(blank) == DEFAULT_BOT_NAME
    # Other dialects: the model that answered, even if it has a bot name set.
    v2 = ConversationSettings("abab6.5s-chat", Dialect.V2, bot_name="Ada")
    assert reply_sender_name(v2) == "abab6.5s-chat"
    assert reply_sender_name(ConversationSettings("MiniMax-M2.7")) == "MiniMax-M2.7"


def test_blank_user_name_falls_back_to_the_vendor_default():
    body = wire(ConversationSettings("abab6.5s-chat", Dialect.PRO, user_name=""))
    assert body["messages"][0]["sender_name"] == DEFAULT_USER_NAME
