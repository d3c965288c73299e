"""Each chat dialect's replies, turned into the events of events.py.

A parser is fed one decoded JSON object at a time (an SSE event's data, or a whole
non-streamed body) and returns the events it completes; `drain()` and `end()` are
called when the stream is over. v2 and /v1/chat/completions share one envelope
(docs/minimax-protocol.md §4-§7, §10); chatcompletion_pro has its own (§12-§13).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ..catalog import Dialect, get_model
from ..errors import ProtocolError, error_for_code
from ..events import (
    ChatEvent,
    Finish,
    ReasoningDelta,
    Sensitivity,
    TextDelta,
    TextToReasoning,
    ToolCallDelta,
    Usage,
)
from ..think import ThinkSplitter
from ..tool_calls import ToolCallAssembler
from ..types import ChatRequest
from . import fields


def raise_for_base_resp(payload: dict[str, Any], trace_id: str | None = None) -> None:
    """Raise the typed error when `base_resp.status_code` is not 0."""
    base_resp = payload.get("base_resp")
    if not isinstance(base_resp, dict):
        return
    code = fields.status_code(base_resp.get("status_code"))
    if code:
        message = fields.status_msg(base_resp.get("status_msg"))
        raise error_for_code(code, message, trace_id=trace_id)


class ReplyParser(Protocol):
    terminal: bool
    finished: bool  # a finish_reason came: what may follow is a whole copy

    def feed(self, payload: dict[str, Any]) -> list[ChatEvent]:
        """Return the events one decoded JSON object completes."""

    def drain(self) -> list[ChatEvent]:
        """Return text still held back (a possible tag); call once, at the end."""

    def end(self) -> list[ChatEvent]:
        """Return Usage, Sensitivity and Finish; raise ProtocolError if unfinished."""


def new_parser(request: ChatRequest, dialect: Dialect) -> ReplyParser:
    """Return a parser for one reply in `dialect`."""
    if dialect is Dialect.PRO:
        return ProParser()
    splitter = None
    if dialect is Dialect.CHAT:
        splitter = ThinkSplitter(expect_think=get_model(request.model).reasoning)
    return OpenAIStyleParser(splitter)


class _Increments:
    """One text field: its streamed pieces, and the whole copy that may end it.

    Every dialect streams increments (docs/minimax-protocol.md §5, §6, §13): a
    piece is appended as it is, even when it repeats the text so far, because a
    reply may legitimately repeat itself. A whole copy comes only where the
    protocol sends one (the final `message` of v2 and chat, pro's final `reply`),
    and only what it adds is used (`rest_of`).
    """

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._length = 0

    @property
    def seen(self) -> str:
        return "".join(self._pieces)

    def __bool__(self) -> bool:
        return self._length > 0

    def add(self, piece: str) -> str:
        if piece:
            self._pieces.append(piece)
            self._length += len(piece)
        return piece

    def rest_of(self, whole: str) -> str:
        """Return what a final, whole copy has beyond the pieces seen (usually "")."""
        if len(whole) <= self._length or not whole.startswith(self.seen):
            return ""  # nothing new, or it disagrees with the stream: the stream wins
        return self.add(whole[self._length :])


class _ToolCalls:
    """Numbers tool-call pieces so pieces of one call share an index.

    Besides OpenAI's `index`, MiniMax (abab6.5, Spring AI #1276) splits one call
    into entries whose continuation has `"id": ""`: those extend the last call.
    What was sent is kept in a ToolCallAssembler, the one place pieces are joined,
    so that a final whole copy of the calls adds only what the stream lacked.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, int] = {}
        self._by_wire_index: dict[int, int] = {}
        self._sent = ToolCallAssembler()
        self.count = 0

    def events(self, entries: list[Any]) -> list[ChatEvent]:
        """Return one ToolCallDelta per streamed piece."""
        return [
            self._send(self._position(piece), piece)
            for piece in map(_ToolPiece.read, entries)
            if piece is not None
        ]

    def rest_of(self, entries: list[Any]) -> list[ChatEvent]:
        """Return what a final, whole copy of the calls has beyond the pieces sent.

        Usually nothing: the stream had every piece. Without a stream (a plain
        body) it is every call, each as one piece.
        """
        sent = self._sent.calls() or []
        events: list[ChatEvent] = []
        pieces = [p for p in map(_ToolPiece.read, entries) if p is not None]
        for ordinal, piece in enumerate(pieces):
            position = self._streamed_position(piece, ordinal)
            if position >= len(sent):
                position = self.count
                self.count += 1
                events.append(self._send(position, piece))
                continue
            have = sent[position]
            sent_arguments = have["function"]["arguments"]
            # A copy that disagrees with the stream loses: the stream was shown.
            extra = piece.arguments[len(sent_arguments) :]
            if not piece.arguments.startswith(sent_arguments):
                extra = ""
            missing_id = None if have["id"] else piece.id
            missing_name = None if have["function"]["name"] else piece.name
            if extra or missing_id or missing_name:
                delta = ToolCallDelta(position, missing_id, missing_name, extra)
                self._sent.add(delta)
                events.append(delta)
        return events

    def _streamed_position(self, piece: _ToolPiece, ordinal: int) -> int:
        """Return the position the stream gave this whole call: by id, then by the
        wire index, then (no id to go by) by its place in the list; a position
        past the calls sent means a call the stream never had."""
        if piece.id in self._by_id:
            return self._by_id[piece.id]
        if piece.wire_index in self._by_wire_index:
            return self._by_wire_index[piece.wire_index]
        return self.count if piece.id else ordinal

    def _send(self, position: int, piece: _ToolPiece) -> ToolCallDelta:
        delta = ToolCallDelta(position, piece.id, piece.name, piece.arguments)
        self._sent.add(delta)
        return delta

    def _position(self, piece: _ToolPiece) -> int:
        if piece.id in self._by_id:
            return self._by_id[piece.id]
        if not piece.id:
            if piece.wire_index in self._by_wire_index:
                return self._by_wire_index[piece.wire_index]
            if self.count:
                return self.count - 1
        position = self.count
        self.count += 1
        if piece.id:
            self._by_id[piece.id] = position
        if piece.wire_index is not None:
            self._by_wire_index[piece.wire_index] = position
        return position


class _ToolPiece:
    """One tool-call entry of the wire, read defensively."""

    __slots__ = ("arguments", "id", "name", "wire_index")

    def __init__(
        self, call_id: str | None, wire_index: int | None, name: str | None, args: str
    ) -> None:
        self.id = call_id
        self.wire_index = wire_index
        self.name = name
        self.arguments = args

    @classmethod
    def read(cls, entry: Any) -> _ToolPiece | None:
        """Return the piece of one entry (None: not an object, skipped)."""
        if not isinstance(entry, dict):
            return None
        function = fields.mapping(entry.get("function"), "a tool call's function")
        return cls(
            fields.short_text(entry.get("id")),
            fields.index(entry.get("index")),
            fields.short_text(function.get("name")),
            _arguments(function.get("arguments")),
        )


def _arguments(value: Any) -> str:
    """Return a call's arguments as JSON text; an object some gateways send as is
    is written back as text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return fields.text(value, "tool-call arguments")


class _Reply:
    """What every dialect tracks about one reply: ids, usage, flags, the finish."""

    def __init__(self) -> None:
        self.terminal = False
        self.finish_reason: str | None = None
        self.response_id: str | None = None
        self.model: str | None = None
        self.usage: Usage | None = None
        self._sensitivity = Sensitivity()
        self._sensitivity_sent: Sensitivity | None = None

    def note(self, payload: dict[str, Any]) -> list[ChatEvent]:
        """Take ids, usage and flags from any event; return a Sensitivity on a flag."""
        raise_for_base_resp(payload)
        self.response_id = fields.short_text(payload.get("id")) or self.response_id
        self.model = fields.short_text(payload.get("model")) or self.model
        usage = _usage(payload.get("usage"))
        if usage is not None:
            self.usage = usage
        return self._note_sensitivity(payload)

    def _note_sensitivity(self, payload: dict[str, Any]) -> list[ChatEvent]:
        current = self._sensitivity
        # Flags only ever get set: every chunk repeats them, a later one may add one.
        input_flag = current.input_sensitive or fields.flag(
            payload.get("input_sensitive")
        )
        output_flag = current.output_sensitive or fields.flag(
            payload.get("output_sensitive")
        )
        self._sensitivity = Sensitivity(
            input_sensitive=input_flag,
            input_type=_merged_type(
                payload.get("input_sensitive_type"), input_flag, current.input_type
            ),
            output_sensitive=output_flag,
            output_type=_merged_type(
                payload.get("output_sensitive_type"), output_flag, current.output_type
            ),
        )
        if self._sensitivity.flagged and self._sensitivity != self._sensitivity_sent:
            self._sensitivity_sent = self._sensitivity
            return [self._sensitivity]
        return []

    def closing_events(self) -> list[ChatEvent]:
        """Return Usage, Sensitivity and Finish; raise if no finish ever came."""
        if self.finish_reason is None:
            raise ProtocolError(
                "MiniMax closed the stream before the reply was finished.",
                detail="the stream closed before the reply was finished",
            )
        events: list[ChatEvent] = []
        if self.usage is not None:
            events.append(self.usage)
        if self._sensitivity_sent is None:
            events.append(self._sensitivity)
        events.append(Finish(self.finish_reason, self.response_id, self.model))
        return events


def _merged_type(raw: Any, flagged: bool, current: int) -> int:
    """Return a sensitivity type: the new one if sent (0 or absent keeps the one
    before), in the vendor's range; a flag with no type is "other"."""
    kind = current if raw is None or raw is False or raw == 0 else raw
    kind = fields.sensitive_type(kind, flagged)
    return fields.OTHER_SENSITIVE_TYPE if flagged and kind == 0 else kind


def _usage(raw: Any) -> Usage | None:
    """Return the usage, or None for the all-zero placeholder that chunks repeat.

    A count that is not a plain non-negative int is dropped, not trusted.
    """
    if not isinstance(raw, dict):
        return None
    details = raw.get("completion_tokens_details")
    details = details if isinstance(details, dict) else {}
    usage = Usage(
        prompt_tokens=fields.count(raw.get("prompt_tokens")),
        completion_tokens=fields.count(raw.get("completion_tokens")),
        total_tokens=fields.count(raw.get("total_tokens")),
        reasoning_tokens=fields.count(details.get("reasoning_tokens")),
    )
    if not any((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)):
        return None
    return usage


class _ParserBase:
    """What every dialect's parser shares: the reply's end state and tool calls."""

    def __init__(self) -> None:
        self._reply = _Reply()
        self._tools = _ToolCalls()

    @property
    def terminal(self) -> bool:
        return self._reply.terminal

    @property
    def finished(self) -> bool:
        return self._reply.finish_reason is not None

    def end(self) -> list[ChatEvent]:
        return self._reply.closing_events()


def _first_choice(payload: dict[str, Any]) -> dict[str, Any]:
    choices = fields.items(payload.get("choices"), "choices")  # [] on usage-only
    if not choices:
        return {}
    return fields.mapping(choices[0], "a choice", required=True)


class OpenAIStyleParser(_ParserBase):
    """chatcompletion_v2 and /v1/chat/completions replies (protocol §4-§7).

    The stream ends with a `chat.completion` event that repeats the whole message:
    only what it has beyond the deltas is used, with its usage and base_resp.
    """

    def __init__(self, splitter: ThinkSplitter | None = None) -> None:
        super().__init__()
        self._splitter = splitter
        self._content = _Increments()
        self._reasoning = _Increments()
        self._details = _Increments()

    def feed(self, payload: dict[str, Any]) -> list[ChatEvent]:
        events = self._reply.note(payload)
        choice = _first_choice(payload)
        if choice.get("delta") is not None:
            events += self._delta(fields.mapping(choice["delta"], "a delta"))
        elif choice.get("message") is not None:
            events += self._whole(fields.mapping(choice["message"], "a message"))
        elif messages := fields.items(choice.get("messages"), "messages"):
            # abab6.5 with web_search answered with a list (Spring AI models both).
            events += self._whole(fields.mapping(messages[-1], "a message"))
        if reason := fields.finish_reason(choice.get("finish_reason")):
            self._reply.finish_reason = reason
        if payload.get("object") == "chat.completion" or "message" in choice:
            self._reply.terminal = True
        return events

    def drain(self) -> list[ChatEvent]:
        return self._content_events("", final=True)

    def _delta(self, delta: dict[str, Any]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        reasoning = fields.text(delta.get("reasoning_content"), "reasoning_content")
        events += _reasoning(self._reasoning.add(reasoning))
        events += _reasoning(self._details.add(_details_text(delta)))
        content = fields.text(delta.get("content"), "content")
        events += self._content_events(self._content.add(content))
        events += self._tools.events(
            fields.items(delta.get("tool_calls"), "tool_calls")
        )
        return events

    def _whole(self, message: dict[str, Any]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        reasoning = fields.text(message.get("reasoning_content"), "reasoning_content")
        events += _reasoning(self._reasoning.rest_of(reasoning))
        events += _reasoning(self._details.rest_of(_details_text(message)))
        content = fields.text(message.get("content"), "content")
        events += self._content_events(self._content.rest_of(content))
        calls = fields.items(message.get("tool_calls"), "tool_calls")
        events += self._tools.rest_of(calls)
        return events

    def _content_events(self, raw: str, *, final: bool = False) -> list[ChatEvent]:
        if self._splitter is None:
            return [TextDelta(raw)] if raw else []
        pieces = self._splitter.feed(raw) if raw else []
        if final:
            pieces += self._splitter.flush()
        # M3 sometimes sends its reasoning twice, in a field and in <think>: keep one.
        field_reasoning = bool(self._reasoning or self._details)
        events: list[ChatEvent] = []
        for kind, text in pieces:
            if kind == "text":
                events.append(TextDelta(text))
            elif kind == "to_reasoning":
                events.append(TextToReasoning())
            elif not field_reasoning:
                events.append(ReasoningDelta(text))
        return events


def _reasoning(text: str) -> list[ChatEvent]:
    return [ReasoningDelta(text)] if text else []


def _details_text(message: dict[str, Any]) -> str:
    """Return the reasoning text of `reasoning_details` (reasoning_split=true)."""
    details = fields.items(message.get("reasoning_details"), "reasoning_details")
    return "".join(
        fields.text(item.get("text"), "reasoning text")
        for item in details
        if isinstance(item, dict)
    )


class ProParser(_ParserBase):
    """chatcompletion_pro replies (docs/minimax-protocol.md §12-§13).

    Partial events carry the increment in `choices[0].messages[0].text` and no
    finish_reason; the final event is the whole response again, with `reply`,
    finish_reason and usage.
    """

    def __init__(self) -> None:
        super().__init__()
        self._text = _Increments()

    def feed(self, payload: dict[str, Any]) -> list[ChatEvent]:
        events = self._reply.note(payload)
        choice = _first_choice(payload)
        messages = fields.items(choice.get("messages"), "messages")
        message = (
            fields.mapping(messages[0], "a message", required=True) if messages else {}
        )
        finish_reason = fields.finish_reason(choice.get("finish_reason"))
        text = fields.text(message.get("text"), "text")
        function_call = message.get("function_call")
        if finish_reason or _has_usage(payload):
            # The final event: `reply` (or the bot message) is the whole text again.
            whole = fields.text(payload.get("reply"), "reply") or text
            events += _text(self._text.rest_of(whole))
            function_call = function_call or payload.get("function_call")
            if function_call is not None:
                events += self._tools.rest_of([_pro_call(function_call)])
            self._reply.finish_reason = self._finish_reason(finish_reason)
            self._reply.terminal = True
        else:
            events += _text(self._text.add(text))
            if function_call is not None:
                events += self._tools.events([_pro_call(function_call)])
        return events

    def drain(self) -> list[ChatEvent]:
        return []

    def _finish_reason(self, reason: str | None) -> str:
        """Return the reason in the other dialects' words: pro says "stop" after a
        function call and "max_output" when out of tokens."""
        if reason == "max_output":
            return "length"
        if self._tools.count and reason in (None, "stop"):
            return "tool_calls"
        return reason or "stop"


def _has_usage(payload: dict[str, Any]) -> bool:
    usage = payload.get("usage")
    return isinstance(usage, dict) and bool(usage)


def _pro_call(function_call: Any) -> dict[str, Any]:
    """Return pro's `function_call` as a tool-call entry of the other dialects."""
    return {"id": "", "function": fields.mapping(function_call, "a function_call")}


def _text(text: str) -> list[ChatEvent]:
    return [TextDelta(text)] if text else []
