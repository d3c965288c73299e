"""The offline MiniMax: one request in, one response with a paced byte stream out.

This is the one place the simulator's behaviour lives. The httpx transport and the
ASGI app are thin adapters around `Simulator.handle`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .chat import chat_reply
from .chat_wire import CHAT, V2
from .failures import (
    LOGIN_FAIL,
    SimError,
    SimHttpError,
    base_resp,
    compat_error_body,
    html_error_page,
)
from .hostile import ECHO_KEY_TRIGGER, huge_line, key_echo
from .pro import pro_reply
from .speech import legacy_speech_reply, t2a_v2_reply
from .wire import JSON_TYPE, Reply, dumps, new_id

# A stalled stream sleeps this long: "forever" for any client with a timeout.
STALL_SECONDS = 3600.0
# Faults that cut the stream do so after this many events.
EVENTS_BEFORE_FAULT = 3
MALFORMED_EVENT = b'data: {"id": "broken\n\n'


class ConnectionDropped(Exception):
    """The simulated server cut the connection in the middle of the body."""


@dataclass(frozen=True, slots=True)
class SimRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    query: str = ""  # ?GroupId=... is accepted and not checked


@dataclass(slots=True)
class SimResponse:
    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]


@dataclass(frozen=True, slots=True)
class Endpoint:
    handler: Callable[[dict[str, Any], str], Reply]  # (payload, trace_id)
    # How a SimError is rendered: "native" (HTTP 200 + base_resp), "compat" (HTTP
    # status + OpenAI-style error), "speech" (adds trace_id).
    errors: str


ENDPOINTS: dict[str, Endpoint] = {
    "/v1/text/chatcompletion_v2": Endpoint(lambda p, _: chat_reply(p, V2), "native"),
    "/v1/chat/completions": Endpoint(lambda p, _: chat_reply(p, CHAT), "compat"),
    "/v1/text/chatcompletion_pro": Endpoint(lambda p, _: pro_reply(p), "native"),
    "/v1/t2a_v2": Endpoint(t2a_v2_reply, "speech"),
    "/v1/text_to_speech": Endpoint(legacy_speech_reply, "speech"),
}


class Simulator:
    """Answer MiniMax API requests offline, pacing chunks `chunk_delay` apart."""

    def __init__(self, chunk_delay: float = 0.03) -> None:
        self.chunk_delay = chunk_delay

    async def handle(self, request: SimRequest) -> SimResponse:
        trace_id = new_id()
        reply = self.reply_for(request, trace_id)
        headers = [
            ("content-type", reply.content_type),
            ("trace-id", trace_id),
            *reply.headers.items(),
        ]
        if not reply.streamed and reply.fault is None:
            headers.append(("content-length", str(sum(map(len, reply.parts)))))
        return SimResponse(reply.status, headers, self._deliver(reply))

    def reply_for(self, request: SimRequest, trace_id: str) -> Reply:
        """Return what to send for `request` (errors included), before pacing."""
        endpoint = ENDPOINTS.get(request.path.rstrip("/"))
        if endpoint is None:
            return _not_found(request)
        if request.method != "POST":
            return Reply.json(
                {"error": {"message": "method not allowed", "http_code": "405"}},
                status=405,
                headers={"allow": "POST"},
            )
        try:
            key = _check_auth(request.headers)
            if ECHO_KEY_TRIGGER in request.body:
                raise SimError(2013, key_echo(key))
            payload = _parse_json(request.body)
            return endpoint.handler(payload, trace_id)
        except SimError as error:
            return _error_reply(error, endpoint.errors, trace_id)
        except SimHttpError as error:
            return Reply(
                [html_error_page(error.status)],
                status=error.status,
                content_type="text/html; charset=utf-8",
            )

    async def _deliver(self, reply: Reply) -> AsyncIterator[bytes]:
        """Yield the body part by part, with the delays and faults asked for."""
        if reply.fault == "stall-first":
            await asyncio.sleep(STALL_SECONDS)
            return
        parts = reply.parts
        if reply.fault is not None:
            parts = _prefix_before_fault(reply)
        if reply.streamed or len(parts) > 1:
            await asyncio.sleep(self.chunk_delay * 3)  # time to the first token
        else:
            await asyncio.sleep(min(self.chunk_delay * 10, 1.0))
        for index, part in enumerate(parts):
            if index:
                await asyncio.sleep(self.chunk_delay)
            yield part
        if reply.fault == "stall-mid":
            await asyncio.sleep(STALL_SECONDS)
        elif reply.fault == "drop":
            raise ConnectionDropped("simulated connection drop")
        elif reply.fault == "malformed":
            yield MALFORMED_EVENT if reply.streamed else b'{"id": "broken'
        elif reply.fault == "huge-line":
            for part in huge_line(reply.streamed):
                yield part


def _prefix_before_fault(reply: Reply) -> list[bytes]:
    """Return what is sent before a mid-body fault: 3 events, or half a body."""
    if reply.streamed:
        return reply.parts[:EVENTS_BEFORE_FAULT]
    body = b"".join(reply.parts)
    return [body[: len(body) // 2]]


def _check_auth(headers: Mapping[str, str]) -> str:
    """Return the bearer key, or raise the vendor's error for a missing or bad one."""
    scheme, _, key = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise SimError(1004, LOGIN_FAIL)
    if "invalid" in key:
        raise SimError(2049)
    return key


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SimError(
            2013, f"invalid params, body is not valid JSON: {error}"
        ) from None
    if not isinstance(payload, dict):
        raise SimError(2013, "invalid params, body must be a JSON object")
    return payload


def _error_reply(error: SimError, style: str, trace_id: str) -> Reply:
    if style == "compat":
        status, body = compat_error_body(error, new_id())
        return Reply.json(body, status=status)
    body: dict[str, Any] = {"base_resp": base_resp(error.code, error.message)}
    if style == "speech":
        body = {"trace_id": trace_id, **body}
    return Reply.json(body)


def _not_found(request: SimRequest) -> Reply:
    message = f"no such endpoint: {request.method} {request.path}"
    return Reply(
        [dumps({"error": {"message": message, "http_code": "404"}})],
        status=404,
        content_type=JSON_TYPE,
    )
