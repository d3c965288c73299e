"""The MiniMax HTTP client: chat in every dialect, and speech.

One `httpx.AsyncClient` per MiniMaxClient (connection pooling, keep-alive); tests
and the offline mode swap its transport, never this code. A chat reply is an async
generator of events (events.py) that never raises a MiniMaxError: a failure is its
last event, a StreamError. Closing the generator early (the app's "stop") closes
the HTTP response at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx

from .catalog import DIALECT_PATHS, Dialect
from .dialects import (
    ReplyParser,
    build_body,
    check_request,
    check_speech,
    fields,
    legacy_clip,
    new_parser,
    resolve_dialect,
    speech_body,
    speech_path,
    t2a_v2_clip,
)
from .errors import (
    InvalidRequest,
    MiniMaxError,
    ProtocolError,
    UpstreamTimeout,
    UpstreamUnreachable,
    error_for_code,
    error_for_http_status,
)
from .events import (
    ChatEvent,
    Finish,
    ReasoningDelta,
    Sensitivity,
    StreamError,
    TextDelta,
    TextToReasoning,
    ToolCallDelta,
    Usage,
)
from .network import HTTPTransport
from .redact import redact
from .sse import SSEDecoder, SSETooLarge
from .tool_calls import ToolCallAssembler
from .types import ChatRequest, SpeechClip, SpeechRequest

logger = logging.getLogger(__name__)

# "invalid params, invalid chat setting (2013)": the code OpenAI-style bodies carry.
CODE_SUFFIX = re.compile(r"\((\d{3,6})\)\s*$")
TOKEN_EVENTS = (TextDelta, ReasoningDelta, ToolCallDelta)
# Bodies read whole (stream=false, errors, speech) are bounded like SSE lines
# (sse.py): a chat reply of a million tokens fits; a hostile stream does not.
MAX_CHAT_BODY_BYTES = 16 * 2**20
MAX_SPEECH_BODY_BYTES = 64 * 2**20  # t2a_v2 sends audio as hex inside the JSON
MAX_ERROR_BODY_BYTES = 64 * 2**10
# After a stream's final event, what is left of the body (the end of the chunked
# encoding, a [DONE]) is read if it comes within this long and is at most this
# big: a response read to its end leaves its connection in the pool for the next
# reply, one closed early takes it down (a new TCP and TLS handshake per reply).
TAIL_SECONDS = 0.1
TAIL_BYTES = 64 * 2**10


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: for a connection, for the first token, between chunks."""

    connect: float = 10.0
    first_token: float = 90.0
    idle: float = 60.0


@dataclass
class ChatResult:
    """A whole reply, collected from its events by `MiniMaxClient.complete()`."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage | None = None
    sensitivity: Sensitivity | None = None
    finish_reason: str | None = None
    response_id: str | None = None


class MiniMaxClient:
    """Talk to one MiniMax account (or the simulator) over one connection pool."""

    # Retry n waits base * 2**(n-1) seconds, capped, times a random 0.5-1 (jitter);
    # tests lower the base.
    backoff_base = 0.5
    backoff_cap = 8.0

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        group_id: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: Timeouts = Timeouts(),
        max_retries: int = 2,
    ) -> None:
        # OpenAI-style clients are configured with ".../v1"; our paths include it.
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.group_id = group_id
        self.timeouts = timeouts
        self.max_retries = max_retries
        self._api_key = api_key
        self._urls: dict[str, httpx.URL] = {}
        # Every connection may stay open between replies: a new one to MiniMax is a
        # TLS handshake before the first token.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport or HTTPTransport(limits=limits),
            headers={"Authorization": f"Bearer {api_key}"},
            # Reads are bounded by our own first-token and idle timers instead.
            timeout=httpx.Timeout(
                connect=timeouts.connect,
                read=None,
                write=max(timeouts.connect, 30.0),
                pool=timeouts.connect,
            ),
            limits=limits,  # for proxies' transports (trust_env); ours has them
        )

    def __repr__(self) -> str:
        return f"<MiniMaxClient {self.base_url} group_id={self.group_id!r}>"

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- chat -------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Yield the reply's events; the last one is Finish or StreamError."""
        try:
            dialect = resolve_dialect(request)
            check_request(request, dialect)
            body = build_body(request, dialect)
        except ValueError:
            yield StreamError(InvalidRequest(f"Unknown dialect {request.dialect!r}."))
            return
        except MiniMaxError as error:
            yield StreamError(error)
            return
        attempt = 0
        while True:
            yielded = False
            try:
                parser = new_parser(request, dialect)
                async with aclosing(self._chat_once(dialect, body, parser)) as events:
                    async for event in events:
                        yielded = True
                        yield self._scrubbed_event(event)
                return
            except MiniMaxError as error:
                # Once text reached the user a retry would repeat it: report instead.
                if yielded or not self._may_retry(error, attempt):
                    yield StreamError(self._scrubbed(error))
                    return
                failure = error
            except Exception as error:  # a parser bug or an odd shape: still an event
                yield StreamError(self._unreadable(error))
                return
            attempt += 1
            await self._backoff(attempt, failure)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole reply; raise its MiniMaxError if it failed."""
        result = ChatResult()
        calls = ToolCallAssembler()
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                _collect(result, calls, event)
        result.tool_calls = calls.calls() or []
        return result

    async def _chat_once(
        self, dialect: Dialect, body: dict[str, Any], parser: ReplyParser
    ) -> AsyncIterator[ChatEvent]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.first_token
        response = await self._send(DIALECT_PATHS[dialect], body, deadline)
        try:
            await self._raise_for_status(response, deadline)
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" in content_type:
                events = self._events_from_stream(response, parser, deadline)
            else:
                # A plain body: stream=false, or a native endpoint's error (which
                # comes as one JSON body even when a stream was asked for).
                events = self._events_from_body(response, parser, deadline)
            async with aclosing(events) as iterator:
                async for event in iterator:
                    yield event
        except MiniMaxError as error:
            error.trace_id = error.trace_id or response.headers.get("trace-id")
            raise
        finally:
            await response.aclose()

    async def _events_from_body(
        self, response: httpx.Response, parser: ReplyParser, deadline: float
    ) -> AsyncIterator[ChatEvent]:
        raw = await self._read_body(response, deadline, MAX_CHAT_BODY_BYTES)
        for event in parser.feed(_json_object(raw)):
            yield event
        for event in parser.drain():
            yield event
        for event in parser.end():
            yield event

    async def _events_from_stream(
        self, response: httpx.Response, parser: ReplyParser, deadline: float
    ) -> AsyncIterator[ChatEvent]:
        payloads = _SSEPayloads()
        chunks = response.aiter_bytes()
        loop = asyncio.get_running_loop()
        idle = self.timeouts.idle
        # One timer for the whole stream, not one per read (_StallWatchdog).
        watchdog = _StallWatchdog(loop)
        first_token_deadline: float | None = deadline
        try:
            while not (parser.terminal or payloads.done):
                if first_token_deadline is None:
                    watchdog.arm(loop.time() + idle)
                else:
                    watchdog.arm(first_token_deadline)
                chunk = await self._next_chunk(chunks, watchdog)
                for payload in payloads.take(chunk):
                    for event in parser.feed(payload):
                        if isinstance(event, TOKEN_EVENTS):
                            first_token_deadline = None  # idle timer from now on
                        yield event
                    if parser.terminal:
                        break
        except SSETooLarge:
            if not parser.finished:
                for event in parser.drain():
                    yield event
                raise
            # The finish chunk came: what is too long to read is the final whole
            # copy of the reply (protocol §5), which the stream already had.
            logger.info("MiniMax's final copy of a long reply was not read")
        except _Stalled:
            # Text held back for a possible tag is the user's, even if the end is bad.
            for event in parser.drain():
                yield event
            if first_token_deadline is None:
                raise _stall_error("idle", idle) from None
            raise _stall_error("first token", self.timeouts.first_token) from None
        except MiniMaxError:
            for event in parser.drain():
                yield event
            raise
        finally:
            watchdog.close()
        if parser.terminal and not payloads.done:
            await _read_tail(chunks)
        for event in parser.drain():
            yield event
        for event in parser.end():
            yield event

    async def _next_chunk(
        self, chunks: AsyncIterator[bytes], watchdog: _StallWatchdog
    ) -> bytes | None:
        """Return the next chunk (None at the end), or raise _Stalled if the
        watchdog (armed by the caller) ran out first."""
        try:
            return await anext(chunks, None)
        except asyncio.CancelledError:
            if watchdog.stalled():
                raise _Stalled from None
            raise
        except httpx.HTTPError as error:
            raise self._network_error(error, mid_stream=True) from None
        finally:
            watchdog.disarm()

    # --- speech -----------------------------------------------------------------

    async def speak(self, request: SpeechRequest) -> SpeechClip:
        """Return the audio for `request`; raise a MiniMaxError on failure."""
        check_speech(request)
        body = speech_body(request)
        attempt = 0
        while True:
            try:
                return await self._speak_once(request, body)
            except MiniMaxError as error:
                if not self._may_retry(error, attempt):
                    raise self._scrubbed(error) from None
                failure = error
            except Exception as error:  # only MiniMaxErrors leave the client
                raise self._unreadable(error) from None
            attempt += 1
            await self._backoff(attempt, failure)

    async def _speak_once(
        self, request: SpeechRequest, body: dict[str, Any]
    ) -> SpeechClip:
        deadline = asyncio.get_running_loop().time() + self.timeouts.first_token
        response = await self._send(speech_path(request), body, deadline)
        try:
            await self._raise_for_status(response, deadline)
            raw = await self._read_body(response, deadline, MAX_SPEECH_BODY_BYTES)
        finally:
            await response.aclose()
        trace_id = response.headers.get("trace-id")
        content_type = response.headers.get("content-type", "")
        if request.endpoint == "text_to_speech":
            payload = _json_object(raw) if "json" in content_type else None
            return legacy_clip(request, content_type, raw, payload, trace_id)
        return t2a_v2_clip(request, _json_object(raw), trace_id)

    # --- HTTP -------------------------------------------------------------------

    async def _send(
        self, path: str, body: dict[str, Any], deadline: float
    ) -> httpx.Response:
        """Send the request; return the response once its headers are in."""
        request = self._http.build_request("POST", self._url(path), json=body)
        try:
            async with asyncio.timeout_at(deadline):
                return await self._http.send(request, stream=True)
        except TimeoutError:
            raise _stall_error("first token", self.timeouts.first_token) from None
        except httpx.HTTPError as error:
            raise self._network_error(error, mid_stream=False) from None

    def _url(self, path: str) -> httpx.URL:
        """Return the endpoint's absolute URL, GroupId included, built once: given a
        path and params, httpx parses and merges them again for every request
        (~0.1 ms of a reply's start)."""
        url = self._urls.get(path)
        if url is None:
            params = {"GroupId": self.group_id} if self.group_id else None
            url = self._urls[path] = self._http.build_request(
                "POST", path, params=params
            ).url
        return url

    async def _read_body(
        self,
        response: httpx.Response,
        deadline: float,
        limit: int,
        *,
        truncate: bool = False,
    ) -> bytes:
        """Return the body, at most `limit` bytes: past it, a ProtocolError (or,
        with `truncate`, the first `limit` bytes: enough to read an error)."""
        try:
            async with asyncio.timeout_at(deadline):
                return await _bounded_body(response, limit, truncate=truncate)
        except TimeoutError:
            raise _stall_error("first token", self.timeouts.first_token) from None
        except httpx.HTTPError as error:
            raise self._network_error(error, mid_stream=True) from None

    async def _raise_for_status(
        self, response: httpx.Response, deadline: float
    ) -> None:
        if response.status_code == 200:
            return
        raw = await self._read_body(
            response, deadline, MAX_ERROR_BODY_BYTES, truncate=True
        )
        raise _error_from_response(response, raw)

    def _network_error(
        self, error: httpx.HTTPError, *, mid_stream: bool
    ) -> MiniMaxError:
        return _network_error(
            error, mid_stream=mid_stream, connect_seconds=self.timeouts.connect
        )

    def _may_retry(self, error: MiniMaxError, attempt: int) -> bool:
        return error.retryable and attempt < self.max_retries

    async def _backoff(self, attempt: int, error: MiniMaxError) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: clients that failed together
        # INFO, not WARNING: a retry is routine, and the final failure is reported.
        logger.info(
            "MiniMax call failed (%s, code %s); retry %d/%d in %.2fs",
            error.kind,
            error.code,
            attempt,
            self.max_retries,
            delay,
        )
        await asyncio.sleep(delay)

    def _unreadable(self, error: Exception) -> ProtocolError:
        """Return the error for a reply the parsers could not read (a bug of ours
        or a shape nobody documented), logging its traceback without the key."""
        trace = "".join(traceback.format_exception(error))
        logger.warning("MiniMax reply could not be read:\n%s", self._redact(trace))
        return ProtocolError(
            "MiniMax sent a reply this client could not read. Retry in a moment.",
            detail=f"a reply this client could not read ({type(error).__name__})",
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key)

    def _scrubbed(self, error: MiniMaxError) -> MiniMaxError:
        """Return `error` with the API key masked, should the upstream echo it."""
        error.message = self._redact(error.message)
        error.detail = self._redact(error.detail)
        trace_id = fields.short_text(error.trace_id)  # the upstream's, any type
        error.trace_id = trace_id and self._redact(trace_id)
        error.args = (error.message,)
        return error

    def _scrubbed_event(self, event: ChatEvent) -> ChatEvent:
        """Return `event` with no echo of the key in what the upstream named."""
        if isinstance(event, Finish):
            return Finish(
                event.reason,
                event.response_id and self._redact(event.response_id),
                event.model and self._redact(event.model),
            )
        if isinstance(event, ToolCallDelta) and (event.id or event.name):
            return ToolCallDelta(
                event.index,
                event.id and self._redact(event.id),
                event.name and self._redact(event.name),
                event.arguments,
            )
        return event


class _Stalled(Exception):
    """The upstream sent nothing within the first-token or idle limit."""


class _StallWatchdog:
    """The first-token and idle timers of one stream, as one loop timer.

    `arm(when)` before each read says by when it must return; `disarm()` after it.
    The timer is not moved on every read (a timer per read cost more than the
    read's parsing): when it fires it looks at the deadline of the read under way,
    and either cancels the task waiting in that read or sleeps until that
    deadline. `stalled()` then tells that cancellation from any other (a stop).
    """

    __slots__ = ("_baseline", "_deadline", "_fired", "_handle", "_loop", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._task: asyncio.Task[Any] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # None: no read under way
        self._fired = False
        self._baseline = 0

    def arm(self, when: float) -> None:
        self._deadline = when
        self._task = asyncio.current_task()
        handle = self._handle
        if handle is None or when < handle.when():
            if handle is not None:
                handle.cancel()
            self._handle = self._loop.call_at(when, self._check)

    def disarm(self) -> None:
        self._deadline = None

    def close(self) -> None:
        self._deadline = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        scheduled = self._handle.when() if self._handle is not None else 0.0
        self._handle = None
        deadline = self._deadline
        if deadline is None or self._task is None:
            return  # between reads: the next arm() sets the timer again
        if deadline > scheduled:
            self._handle = self._loop.call_at(deadline, self._check)
            return
        self._fired = True
        self._baseline = self._task.cancelling()
        self._task.cancel()

    def stalled(self) -> bool:
        """Return whether the CancelledError being handled is this watchdog's
        alone (taking its cancellation back, as asyncio.timeout does)."""
        if not self._fired or self._task is None:
            return False
        self._fired = False
        return self._task.uncancel() <= self._baseline


class _SSEPayloads:
    """The JSON objects of an SSE byte stream; `done` once it is over."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self.done = False

    def take(self, chunk: bytes | None) -> Iterator[dict[str, Any]]:
        """Yield the objects `chunk` completes (None: the stream has ended)."""
        if chunk is None:
            self.done = True
            events = self._decoder.flush()
        else:
            events = self._decoder.feed(chunk)
        for sse in events:
            if sse.is_done:
                self.done = True
                return
            if sse.data.strip():  # an empty event is a keep-alive
                # The text as it is: json.loads of bytes would decode it again.
                # A byte-order mark is skipped, as json.loads does on bytes.
                yield _json_object(sse.data.removeprefix("\ufeff"))
        # An oversized line after these events: fail now, not at the next read.
        self._decoder.raise_failure()


def _collect(result: ChatResult, calls: ToolCallAssembler, event: Any) -> None:
    """Fold one event into `result`; raise the error a StreamError carries."""
    if isinstance(event, TextDelta):
        result.text += event.text
    elif isinstance(event, TextToReasoning):
        result.reasoning, result.text = result.reasoning + result.text, ""
    elif isinstance(event, ReasoningDelta):
        result.reasoning += event.text
    elif isinstance(event, ToolCallDelta):
        calls.add(event)
    elif isinstance(event, Usage):
        result.usage = event
    elif isinstance(event, Sensitivity):
        result.sensitivity = event
    elif isinstance(event, Finish):
        result.finish_reason = event.reason
        result.response_id = event.response_id
    elif isinstance(event, StreamError):
        raise event.error


def _timeout_message(which: str, seconds: float) -> str:
    """Return a message that names the timeout that fired."""
    if which == "connect":
        return f"Could not connect to MiniMax within {seconds:g} s (connect timeout)."
    if which == "first token":
        return (
            f"MiniMax sent no reply within {seconds:g} s (first-token timeout). "
            "Retry in a moment."
        )
    return (
        f"MiniMax stopped sending for {seconds:g} s in the middle of the reply "
        "(idle timeout). Retry in a moment."
    )


def _timeout_error(which: str, seconds: float) -> UpstreamTimeout:
    # The detail names the timer: the headline of the kind says the rest.
    detail = f"{which.replace(' ', '-')} timeout after {seconds:g} s"
    return UpstreamTimeout(_timeout_message(which, seconds), detail=detail)


def _stall_error(which: str, seconds: float) -> UpstreamTimeout:
    """Return the error for an upstream that accepted the request, then went quiet."""
    error = _timeout_error(which, seconds)
    # MiniMax may still be generating (and billing) this request: resending it on
    # our own would double the wait and the cost. The user gets a Retry button.
    error.retryable = False
    return error


def _network_error(
    error: httpx.HTTPError, *, mid_stream: bool, connect_seconds: float
) -> MiniMaxError:
    """Return the typed error for a transport failure (no URL or header in it)."""
    if isinstance(error, httpx.ConnectTimeout):
        return _timeout_error("connect", connect_seconds)
    if isinstance(error, httpx.TimeoutException):
        return UpstreamTimeout(detail=type(error).__name__)
    if mid_stream:
        return UpstreamUnreachable(
            "The connection to MiniMax was cut before the reply was finished. "
            "Retry in a moment.",
            detail="the connection was cut before the reply was finished",
        )
    return UpstreamUnreachable(
        f"Could not reach MiniMax ({type(error).__name__}). Check the network and "
        "MINIMAX_BASE_URL, then retry.",
        detail=type(error).__name__,
    )


async def _read_tail(chunks: AsyncIterator[bytes]) -> None:
    """Read the rest of a stream whose final event came (see TAIL_SECONDS);
    a server that keeps it open, or sends more, is left to the response's close."""
    size = 0
    try:
        async with asyncio.timeout(TAIL_SECONDS):
            async for chunk in chunks:
                size += len(chunk)
                if size > TAIL_BYTES:
                    return
    except (TimeoutError, httpx.HTTPError):
        pass


async def _bounded_body(
    response: httpx.Response, limit: int, *, truncate: bool
) -> bytes:
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdecimal() and int(declared) > limit:
        raise _body_too_large(limit)  # refused before a byte of it is read
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if truncate:
                break
            raise _body_too_large(limit)
    return b"".join(chunks)[:limit]


def _body_too_large(limit: int) -> ProtocolError:
    size = f"{limit / 2**20:g} MiB"
    return ProtocolError(
        f"MiniMax sent a body larger than {size}; it was not read.",
        detail=f"a body larger than {size}",
    )


def _json_object(raw: bytes | str) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested ten thousand deep
        raise ProtocolError(
            "MiniMax sent a line that is not valid JSON. Retry in a moment.",
            detail="a line that is not valid JSON",
        ) from None
    if not isinstance(payload, dict):
        raise ProtocolError(
            "MiniMax sent JSON that is not an object.",
            detail="JSON that is not an object",
        )
    return payload


def _error_from_response(response: httpx.Response, raw: bytes) -> MiniMaxError:
    """Return the typed error of a non-200 answer.

    The code comes from base_resp first, then the "(CODE)" suffix of an
    OpenAI-style error message, then the HTTP status (docs/minimax-protocol.md §15).
    """
    trace_id = response.headers.get("trace-id")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return error_for_http_status(response.status_code, trace_id=trace_id)
    base_resp = _object(payload.get("base_resp"))
    error = _object(payload.get("error"))
    message = fields.status_msg(error.get("message")) or fields.status_msg(
        base_resp.get("status_msg")
    )
    try:
        code = fields.status_code(base_resp.get("status_code"))
    except ProtocolError:
        code = 0  # not a code of MiniMax's: the HTTP status says more
    if not code and (match := CODE_SUFFIX.search(message)):
        code = int(match.group(1))
    if code:
        status_msg = CODE_SUFFIX.sub("", message).strip()
        return error_for_code(
            code, status_msg, http_status=response.status_code, trace_id=trace_id
        )
    return error_for_http_status(response.status_code, message, trace_id=trace_id)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
