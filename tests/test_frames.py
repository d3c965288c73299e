"""The wire format (docs/websocket.md): frames, and the Message and Conversation JSON.

Defined once in conversations/frames.py; the page data and the JSON API use it.
"""

import json
import zlib

import pytest

from conversations import frames
from conversations.models import Message

pytestmark = pytest.mark.django_db

MESSAGE_KEYS = {
    "id",
    "parent_id",
    "sibling_ids",
    "version",
    "versions",
    "context_trimmed",
    "partial",
    "role",
    "sender_name",
    "content",
    "reasoning",
    "status",
    "finish_reason",
    "error",
    "usage",
    "input_sensitive",
    "input_sensitive_type",
    "output_sensitive",
    "output_sensitive_type",
    "first_token_ms",
    "duration_ms",
    "json_valid",
    "hidden",
    "created_at",
}
CONVERSATION_KEYS = {
    "id",
    "url",
    "title",
    "model",
    "dialect",
    "system_prompt",
    "bot_name",
    "user_name",
    "temperature",
    "top_p",
    "max_tokens",
    "json_schema",
    "pinned",
    "archived",
}


def add(conversation, role, content, **fields) -> Message:
    return Message.objects.create(
        conversation=conversation, role=role, content=content, **fields
    )


def embedded(html: str, element_id: str):
    start = f'id="{element_id}" type="application/json">'
    return json.loads(html.split(start)[1].split("</script>")[0])


def test_a_user_message_has_exactly_the_documented_keys(conversation):
    message = add(conversation, "user", "Hi")

    data = frames.message_json(message)

    assert set(data) == MESSAGE_KEYS
    assert data["role"] == "user"
    assert data["status"] == "complete"
    assert data["error"] is None
    assert data["usage"] is None
    assert data["created_at"].endswith("Z")


def test_a_failed_reply_carries_error_usage_and_timings(conversation):
    message = add(
        conversation,
        "assistant",
        "partial",
        status="error",
        error_kind="rate_limit",
        error_code=1002,
        error_message="Slow down.",
        prompt_tokens=5,
        completion_tokens=3,
        total_tokens=8,
        first_token_ms=120,
        duration_ms=900,
    )

    data = frames.message_json(message)

    assert data["error"] == {
        "kind": "rate_limit",
        "code": 1002,
        "message": "Slow down.",
    }
    assert data["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }
    assert (data["first_token_ms"], data["duration_ms"]) == (120, 900)


def test_a_conversation_has_exactly_the_documented_keys(conversation):
    data = frames.conversation_json(conversation)

    assert set(data) == CONVERSATION_KEYS
    assert data["url"] == f"/c/{conversation.pk}/"


def test_each_server_frame_has_its_documented_fields(conversation):
    message = add(conversation, "assistant", "so far", status="streaming")
    as_json = frames.message_json(message)

    assert frames.message_created(message) == {
        "type": "message.created",
        "message": as_json,
        "client_id": None,
    }
    assert frames.message_created(message, "c-1")["client_id"] == "c-1"
    assert frames.reply_delta(
        message.pk, text="é", text_offset=3, reasoning="", reasoning_offset=0
    ) == {
        "type": "reply.delta",
        "message_id": message.pk,
        "text": "é",
        "text_offset": 3,
    }
    assert frames.reply_delta(
        message.pk, text="", text_offset=3, reasoning="ok", reasoning_offset=5
    ) == {
        "type": "reply.delta",
        "message_id": message.pk,
        "text": "",
        "text_offset": 3,
        "reasoning": "ok",
        "reasoning_offset": 5,
    }
    assert frames.reply_snapshot(message) == {
        "type": "reply.snapshot",
        "message": as_json,
    }
    assert frames.reply_done(message) == {"type": "reply.done", "message": as_json}
    assert frames.message_deleted(message.pk) == {
        "type": "message.deleted",
        "message_id": message.pk,
    }
    assert frames.error("busy", "Wait.") == {
        "type": "error",
        "code": "busy",
        "message": "Wait.",
    }


def test_the_page_and_the_api_show_a_conversation_the_same_way(
    client, user, conversation
):
    client.force_login(user)
    add(conversation, "user", "Hi")
    add(conversation, "assistant", "Hello", sender_name="MiniMax-Text-01")

    html = client.get(f"/c/{conversation.pk}/").content.decode()
    api = client.get(f"/api/conversations/{conversation.pk}/").json()

    expected = [frames.message_json(m) for m in conversation.messages.all()]
    assert embedded(html, "messages-data") == expected
    assert api.pop("messages") == expected
    assert embedded(html, "conversation-data") == api
    assert api == frames.conversation_json(conversation)


def test_a_short_reply_ends_with_its_whole_text(conversation):
    text = "x" * (frames.DONE_CHECK_MIN_CHARS - 1)
    message = add(conversation, "assistant", text, status="complete")
    assert frames.done_frames(message) == [frames.reply_done(message)]


def test_a_long_reply_ends_with_a_check_of_its_text_instead_of_the_text(
    conversation,
):
    text = "你好😀, world. " * 60
    message = add(conversation, "assistant", text, reasoning="Hm.", status="complete")
    (done,) = frames.done_frames(message)
    data = done["message"]

    assert done["type"] == "reply.done"
    assert "content" not in data and "reasoning" not in data
    whole = frames.message_json(message)
    assert {k: v for k, v in data.items() if k != "check"} == {
        k: v for k, v in whole.items() if k not in ("content", "reasoning")
    }
    # The length as JS counts it (the emoji is two units), the CRC-32 of the units.
    units = text.encode("utf-16-le")
    assert data["check"]["content"] == {
        "length": len(units) // 2,
        "crc32": zlib.crc32(units),
    }
    assert data["check"]["content"]["length"] == len(text) + 60
    assert data["check"]["reasoning"] == frames.text_check("Hm.")
    # The text is not repeated on the wire.
    whole_size = frames.wire_size(frames.reply_done(message))
    assert frames.wire_size(done) < whole_size - len(text)


def test_a_check_tells_texts_apart_and_takes_a_lone_surrogate():
    assert frames.text_check("abc") != frames.text_check("abd")
    assert frames.text_check("ab") != frames.text_check("abc")
    assert frames.text_check("\ud800x") == {"length": 2, "crc32": 1161316458}
