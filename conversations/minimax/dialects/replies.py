"""Each chat dialect's replies, turned into the events of events.py.

A parser is fed one decoded JSON object at a time (an SSE event's data, or a whole
non-streamed body) and returns the events it completes; `drain()` and `end()` are
called when the stream is over. v2 and /v1/chat/completions share one envelope
(docs/minimax-protocol.md §4-§7, §10); chatcompletion_pro has its own (§12-§13).
"""

from __future__ import annotations

from typing import Any, Protocol

from ..catalog import Dialect, get_model
from ..errors import ProtocolError, error_for_code
from ..events import (
    ChatEvent,
    Finish,
    ReasoningDelta,
    Sensitivity,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from ..think import ThinkSplitter
from ..tool_calls import ToolCallAssembler
from ..types import ChatRequest

# Below this many characters a delta that repeats the text so far is taken at its
# word; above it, it is a cumulative snapshot (docs/minimax-protocol.md §6, a
# conflict between sources).
SNAPSHOT_MIN_CHARS = 12


def raise_for_base_resp(payload: dict[str, Any], trace_id: str | None = None) -> None:
    """Raise the typed error when `base_resp.status_code` is not 0."""
    base_resp = payload.get("base_resp")
    if not isinstance(base_resp, dict):
        return
    code = base_resp.get("status_code") or 0
    if code:
        raise error_for_code(
            int(code), str(base_resp.get("status_msg") or ""), trace_id=trace_id
        )


class ReplyParser(Protocol):
    terminal: bool

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
    """One text field's pieces as increments, whether sent as deltas or snapshots."""

    def __init__(self) -> None:
        self.seen = ""
        self._snapshots = False

    def add(self, piece: str) -> str:
        if not piece:
            return ""
        is_snapshot = self._snapshots or len(self.seen) >= SNAPSHOT_MIN_CHARS
        if self.seen and piece.startswith(self.seen) and is_snapshot:
            self._snapshots = True
            piece = piece[len(self.seen) :]
        self.seen += piece
        return piece

    def rest_of(self, whole: str) -> str:
        """Return what a final, whole copy has beyond the pieces seen (usually "")."""
        if not whole.startswith(self.seen):
            return ""  # it disagrees with what was streamed; the stream wins
        rest = whole[len(self.seen) :]
        self.seen = whole
        return rest


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

    def events(self, entries: list[dict[str, Any]]) -> list[ChatEvent]:
        """Return one ToolCallDelta per streamed piece."""
        events: list[ChatEvent] = []
        for entry in entries:
            if isinstance(entry, dict):
                function = entry.get("function") or {}
                events.append(self._send(self._position(entry), entry, function))
        return events

    def rest_of(self, entries: list[dict[str, Any]]) -> list[ChatEvent]:
        """Return what a final, whole copy of the calls has beyond the pieces sent.

        Usually nothing: the stream had every piece. Without a stream (a plain
        body) it is every call, each as one piece.
        """
        sent = self._sent.calls() or []
        events: list[ChatEvent] = []
        for ordinal, entry in enumerate(e for e in entries if isinstance(e, dict)):
            function = entry.get("function") or {}
            position = self._streamed_position(entry, ordinal)
            if position >= len(sent):
                position = self.count
                self.count += 1
                events.append(self._send(position, entry, function))
                continue
            have = sent[position]
            arguments = str(function.get("arguments") or "")
            sent_arguments = have["function"]["arguments"]
            # A copy that disagrees with the stream loses: the stream was shown.
            extra = arguments[len(sent_arguments) :]
            if not arguments.startswith(sent_arguments):
                extra = ""
            missing = {
                "id": None if have["id"] else entry.get("id") or None,
                "name": None if have["function"]["name"] else function.get("name"),
            }
            if extra or any(missing.values()):
                delta = ToolCallDelta(position, missing["id"], missing["name"], extra)
                self._sent.add(delta)
                events.append(delta)
        return events

    def _streamed_position(self, entry: dict[str, Any], ordinal: int) -> int:
        """Return the position the stream gave this whole call: by id, then by the
        wire index, then (no id to go by) by its place in the list; a position
        past the calls sent means a call the stream never had."""
        call_id = entry.get("id") or ""
        if call_id in self._by_id:
            return self._by_id[call_id]
        wire_index = entry.get("index")
        if isinstance(wire_index, int) and wire_index in self._by_wire_index:
            return self._by_wire_index[wire_index]
        return self.count if call_id else ordinal

    def _send(
        self, position: int, entry: dict[str, Any], function: dict[str, Any]
    ) -> ToolCallDelta:
        delta = ToolCallDelta(
            index=position,
            id=entry.get("id") or None,
            name=function.get("name") or None,
            arguments=str(function.get("arguments") or ""),
        )
        self._sent.add(delta)
        return delta

    def _position(self, entry: dict[str, Any]) -> int:
        call_id = entry.get("id") or ""
        wire_index = entry.get("index")
        if call_id in self._by_id:
            return self._by_id[call_id]
        if not call_id:
            if isinstance(wire_index, int) and wire_index in self._by_wire_index:
                return self._by_wire_index[wire_index]
            if self.count:
                return self.count - 1
        position = self.count
        self.count += 1
        if call_id:
            self._by_id[call_id] = position
        if isinstance(wire_index, int):
            self._by_wire_index[wire_index] = position
        return position


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
        self.response_id = payload.get("id") or self.response_id
        self.model = payload.get("model") or self.model
        usage = _usage(payload.get("usage"))
        if usage is not None:
            self.usage = usage
        return self._note_sensitivity(payload)

    def _note_sensitivity(self, payload: dict[str, Any]) -> list[ChatEvent]:
        current = self._sensitivity
        # Flags only ever get set: every chunk repeats them, a later one may add one.
        self._sensitivity = Sensitivity(
            input_sensitive=current.input_sensitive
            or bool(payload.get("input_sensitive")),
            input_type=int(payload.get("input_sensitive_type") or current.input_type),
            output_sensitive=current.output_sensitive
            or bool(payload.get("output_sensitive")),
            output_type=int(
                payload.get("output_sensitive_type") or current.output_type
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


def _usage(raw: Any) -> Usage | None:
    """Return the usage, or None for the all-zero placeholder that chunks repeat."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("completion_tokens_details") or {}
    usage = Usage(
        prompt_tokens=raw.get("prompt_tokens"),
        completion_tokens=raw.get("completion_tokens"),
        total_tokens=raw.get("total_tokens"),
        reasoning_tokens=details.get("reasoning_tokens"),
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

    def end(self) -> list[ChatEvent]:
        return self._reply.closing_events()


def _first_choice(payload: dict[str, Any]) -> dict[str, Any]:
    choices = payload.get("choices") or []  # [] on the usage-only chunk
    return choices[0] if choices and isinstance(choices[0], dict) else {}


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
        if isinstance(choice.get("delta"), dict):
            events += self._delta(choice["delta"])
        elif isinstance(choice.get("message"), dict):
            events += self._whole(choice["message"])
        elif isinstance(choice.get("messages"), list) and choice["messages"]:
            # abab6.5 with web_search answered with a list (Spring AI models both).
            events += self._whole(choice["messages"][-1])
        if choice.get("finish_reason"):
            self._reply.finish_reason = choice["finish_reason"]
        if payload.get("object") == "chat.completion" or "message" in choice:
            self._reply.terminal = True
        return events

    def drain(self) -> list[ChatEvent]:
        return self._content_events("", final=True)

    def _delta(self, delta: dict[str, Any]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        events += _reasoning(self._reasoning.add(delta.get("reasoning_content") or ""))
        events += _reasoning(self._details.add(_details_text(delta)))
        events += self._content_events(self._content.add(delta.get("content") or ""))
        if isinstance(delta.get("tool_calls"), list):
            events += self._tools.events(delta["tool_calls"])
        return events

    def _whole(self, message: dict[str, Any]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        reasoning = message.get("reasoning_content") or ""
        events += _reasoning(self._reasoning.rest_of(reasoning))
        events += _reasoning(self._details.rest_of(_details_text(message)))
        events += self._content_events(
            self._content.rest_of(message.get("content") or "")
        )
        if isinstance(message.get("tool_calls"), list):
            events += self._tools.rest_of(message["tool_calls"])
        return events

    def _content_events(self, raw: str, *, final: bool = False) -> list[ChatEvent]:
        if self._splitter is None:
            return [TextDelta(raw)] if raw else []
        pieces = self._splitter.feed(raw) if raw else []
        if final:
            pieces += self._splitter.flush()
        # M3 sometimes sends its reasoning twice, in a field and in <think>: keep one.
        field_reasoning = self._reasoning.seen or self._details.seen
        return [
            TextDelta(text) if kind == "text" else ReasoningDelta(text)
            for kind, text in pieces
            if kind == "text" or not field_reasoning
        ]


def _reasoning(text: str) -> list[ChatEvent]:
    return [ReasoningDelta(text)] if text else []


def _details_text(message: dict[str, Any]) -> str:
    """Return the reasoning text of `reasoning_details` (reasoning_split=true)."""
    details = message.get("reasoning_details")
    if not isinstance(details, list):
        return ""
    return "".join(
        str(item.get("text") or "") for item in details if isinstance(item, dict)
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
        messages = choice.get("messages") or [{}]
        message = messages[0] if isinstance(messages[0], dict) else {}
        finish_reason = choice.get("finish_reason")
        if finish_reason or payload.get("usage"):
            whole = payload.get("reply") or message.get("text") or ""
            events += _text(self._text.rest_of(whole))
            function_call = message.get("function_call") or payload.get("function_call")
            if isinstance(function_call, dict):
                events += self._tools.rest_of([{"id": "", "function": function_call}])
            self._reply.finish_reason = self._finish_reason(finish_reason)
            self._reply.terminal = True
        else:
            events += _text(self._text.add(message.get("text") or ""))
            if message.get("function_call"):
                entry = {"id": "", "function": message["function_call"]}
                events += self._tools.events([entry])
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


def _text(text: str) -> list[ChatEvent]:
    return [TextDelta(text)] if text else []
