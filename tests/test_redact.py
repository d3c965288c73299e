"""The API key never leaves the package: not in errors, not in logs, in no form."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import logging.config
import re
from contextlib import aclosing
from urllib.parse import quote

import httpx
import pytest

from conversations.minimax.client import MiniMaxClient
from conversations.minimax.events import Finish, StreamError
from conversations.minimax.redact import RedactKeyFilter, redact
from conversations.minimax.types import ChatMessage, ChatRequest

KEY = "sk-cp-Ab3dEf9hIj/Kl+Mn0pQr=St7uV"
# Every way an upstream has echoed a key back, and what must not survive of it.
ECHOES = {
    "exact": KEY,
    "lower": KEY.lower(),
    "upper": KEY.upper(),
    "url-encoded": quote(KEY, safe=""),
    "url-encoded-lower": quote(KEY, safe="").lower(),
    "shortened": KEY[:12] + "..." + KEY[-4:],
    "middle": KEY[6:18],
    "bearer-header": f"Authorization: Bearer {KEY}",
    "bearer-other": "Authorization: Bearer some-other-token-123",
}


def fragments(text: str) -> list[str]:
    """Return every 8-character piece of the key (any case) found in `text`."""
    lowered = text.lower()
    return [
        KEY[i : i + 8] for i in range(len(KEY) - 7) if KEY[i : i + 8].lower() in lowered
    ]


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_redact_masks_every_form_of_the_key(echo):
    text = f"invalid params, key ({echo}) is not allowed"
    masked = redact(text, KEY)
    assert fragments(masked) == []
    assert quote(KEY, safe="").lower()[:12] not in masked.lower()
    assert masked.startswith("invalid params, key (") and "***" in masked
    assert masked.endswith(") is not allowed")


def key_fragments_in_base64(text: str) -> list[str]:
    """Return every 8-byte piece of the key that any base64 run in `text` decodes
    to, at any alignment, standard or URL-safe."""
    found = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        run = run.replace("-", "+").replace("_", "/")
        for skip in range(4):
            body = run[skip:]
            body = body[: len(body) // 4 * 4]
            try:
                decoded = base64.b64decode(body, validate=True)
            except binascii.Error:
                continue
            found += [
                KEY[i : i + 8]
                for i in range(len(KEY) - 7)
                if KEY[i : i + 8].encode() in decoded
            ]
    return found


BASE64_ECHOES = {
    "key": KEY,
    "bearer": f"Bearer {KEY}",
    "basic": f":{KEY}",
    "header": f"Authorization: Bearer {KEY}",
    "key-and-more": f"{KEY} and then some",
}


@pytest.mark.parametrize("urlsafe", [False, True], ids=["standard", "url-safe"])
@pytest.mark.parametrize("echo", BASE64_ECHOES.values(), ids=BASE64_ECHOES.keys())
def test_redact_masks_the_key_in_base64(echo, urlsafe):
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encode(echo.encode()).decode()
    text = f"request dump: auth={encoded} (rejected)"
    assert key_fragments_in_base64(text), "the check finds the key before redact"

    masked = redact(text, KEY)

    assert key_fragments_in_base64(masked) == []
    assert masked.startswith("request dump: auth=") and "***" in masked
    assert masked.endswith(" (rejected)")


def test_redact_leaves_other_text_alone():
    text = "rate limit exceeded(RPM), trace 0f3a9c; 你好 İstanbul"
    assert redact(text, KEY) == text
    assert redact(text, "") == text
    assert redact("", KEY) == ""


def test_a_short_key_is_masked_whole_only():
    assert redact("key abc12 and abc1", "abc12") == "key *** and abc1"


@pytest.mark.parametrize("key", ["k", "ab"])
def test_a_key_of_a_character_or_two_is_masked_not_a_crash(key):
    # Such a key has no base64 characters of its own (an empty form).
    assert redact(f"sent {key}!", key) == "sent ***!"


def chat() -> ChatRequest:
    return ChatRequest(model="abab6.5s-chat", messages=[ChatMessage("user", "Hi")])


async def stream_error(answer) -> Exception:
    client = MiniMaxClient(
        api_key=KEY,
        base_url="http://upstream",
        transport=httpx.MockTransport(answer),
        max_retries=0,
    )
    try:
        async with aclosing(client.stream(chat())) as events:
            found = [event async for event in events]
    finally:
        await client.aclose()
    assert isinstance(found[-1], StreamError)
    return found[-1].error


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
@pytest.mark.parametrize("shape", ["base_resp", "openai-400", "trace-id"])
async def test_no_upstream_error_carries_the_key_in_any_form(echo, shape, caplog):
    def answer(request: httpx.Request) -> httpx.Response:
        message = f"invalid params, {echo} (2013)"
        if shape == "base_resp":
            body = {"base_resp": {"status_code": 2013, "status_msg": message}}
            return httpx.Response(200, json=body)
        if shape == "openai-400":
            return httpx.Response(400, json={"error": {"message": message}})
        return httpx.Response(503, headers={"trace-id": echo}, text="<html>down</html>")

    with caplog.at_level(logging.DEBUG):
        error = await stream_error(answer)
    seen = " ".join(
        [str(error), repr(error), error.detail, error.message, str(error.trace_id)]
    )
    assert fragments(seen) == [] and "Bearer some-other" not in seen
    assert fragments(caplog.text) == []


async def test_a_key_in_the_status_code_reaches_no_traceback(caplog):
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"base_resp": {"status_code": KEY, "status_msg": "x"}}
        return httpx.Response(200, json=body)

    with caplog.at_level(logging.DEBUG):
        error = await stream_error(answer)
    assert error.kind == "protocol"
    assert fragments(str(error) + repr(error) + error.detail + caplog.text) == []


# --- the logging filter --------------------------------------------------------


def record_of(logger: logging.Logger, emit) -> logging.LogRecord:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RedactKeyFilter(key=KEY))
    logger.addHandler(handler)
    try:
        emit()
    finally:
        logger.removeHandler(handler)
    (record,) = records
    return record


def test_the_filter_masks_message_args_and_traceback():
    logger = logging.getLogger("test_redact.filter")
    logger.propagate = False

    def emit() -> None:
        try:
            int(KEY.lower())
        except ValueError:
            logger.exception("upstream said %s with %r", KEY.upper(), {"k": KEY})

    record = record_of(logger, emit)
    formatted = logging.Formatter("%(message)s").format(record)
    assert "upstream said ***" in formatted
    assert "Traceback" in formatted and "ValueError" in formatted
    assert fragments(formatted) == []
    assert record.args == () and record.exc_info is None


def test_the_filter_masks_bearer_headers_and_keeps_odd_records():
    logger = logging.getLogger("test_redact.bearer")
    logger.propagate = False
    record = record_of(
        logger, lambda: logger.warning("headers: Authorization: Bearer %s", KEY)
    )
    assert record.getMessage() == "headers: Authorization: Bearer ***"
    # A record whose arguments do not fit its format is still logged, masked.
    record = record_of(logger, lambda: logger.warning("%d of %d", KEY))
    assert fragments(record.getMessage()) == []


def test_the_filter_is_configurable_with_dictconfig():
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {
                "redact_key": {
                    "()": "conversations.minimax.redact.RedactKeyFilter",
                    "key": KEY,
                }
            },
            "handlers": {
                "test_redact": {
                    "class": "logging.NullHandler",
                    "filters": ["redact_key"],
                }
            },
            "loggers": {"test_redact.config": {"handlers": ["test_redact"]}},
        }
    )
    (handler,) = logging.getLogger("test_redact.config").handlers
    (installed,) = handler.filters
    assert isinstance(installed, RedactKeyFilter) and installed.key == KEY
    logging.getLogger("test_redact.config").handlers.clear()


async def test_ids_and_names_the_upstream_sends_back_carry_no_key():
    tool = {"index": 0, "id": f"call_{KEY}", "function": {"name": KEY.lower()}}
    chunk = {
        "id": KEY,
        "model": f"m-{KEY.upper()}",
        "choices": [
            {"index": 0, "delta": {"content": "ok", "tool_calls": [tool]}},
        ],
    }
    chunk["choices"][0]["finish_reason"] = "tool_calls"
    body = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=body
        )
    )
    client = MiniMaxClient(api_key=KEY, base_url="http://upstream", transport=transport)
    try:
        async with aclosing(client.stream(chat())) as events:
            found = [event async for event in events]
    finally:
        await client.aclose()
    assert fragments(" ".join(repr(event) for event in found)) == []
    assert isinstance(found[-1], Finish) and found[-1].reason == "tool_calls"
