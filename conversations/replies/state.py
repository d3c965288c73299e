"""The state of one reply while it streams, and the outcome to record: no I/O.

`ReplyState` takes the client's events one by one and keeps what a reply is made
of: its text and reasoning, what of them the pages have not been sent yet (and
the UTF-16 offsets of what they have), tool calls, usage, safety flags, the finish
event, the error, the time to the first token, and one `status`. The runner
(replies/runner.py) feeds it, asks it for deltas and checkpoints, and at the end
records `outcome_fields()` on the message.

A reply ends once: the first of error, stop and interruption wins, and a stream
that runs out is complete if it had a final event, else a protocol error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversations.frames import utf16_length
from conversations.minimax.errors import MiniMaxError, ProtocolError
from conversations.minimax.events import (
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
from conversations.minimax.schema import reply_matches_schema
from conversations.minimax.tool_calls import ToolCallAssembler
from conversations.models import Message

Status = Message.Status


@dataclass(frozen=True, slots=True)
class Delta:
    """Text and reasoning not yet relayed; offsets are UTF-16 lengths before them."""

    text: str
    text_offset: int
    reasoning: str
    reasoning_offset: int


class ReplyState:
    """What one reply has received so far, and how it ended."""

    def __init__(
        self,
        json_schema: dict[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_chars: int | None = None,
    ) -> None:
        self.json_schema = json_schema
        # The site's cap on text + reasoning (CHAT_REPLY_MAX_CHARS); None: no cap.
        self.max_chars = max_chars
        self._chars = 0
        # Why the site cut the reply short ("chars" or "seconds"), if it did.
        self.limit: str | None = None
        self.limit_value: float | None = None
        self.status: Status = Status.STREAMING
        self.usage: Usage | None = None
        self.sensitivity: Sensitivity | None = None
        self.finish: Finish | None = None
        self.error: MiniMaxError | None = None
        self.first_token_ms: int | None = None
        self._clock = clock
        self._started = clock()
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._tool_calls = ToolCallAssembler()
        # Received but not yet relayed, and how much (UTF-16) has been relayed.
        self._unsent_text: list[str] = []
        self._unsent_reasoning: list[str] = []
        self._sent_text_units = 0
        self._sent_reasoning_units = 0
        # New text or reasoning since the last checkpoint.
        self._changed = False
        # Text already relayed was moved to reasoning: pages need a snapshot.
        self._resync = False

    # --- While it streams --------------------------------------------------------

    def start_clock(self) -> None:
        """Time the reply from now (the request goes upstream)."""
        self._started = self._clock()

    def elapsed_ms(self) -> int:
        return round((self._clock() - self._started) * 1000)

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def streaming(self) -> bool:
        return self.status == Status.STREAMING

    def apply(self, event: ChatEvent) -> bool:
        """Take one event from the client; return whether there is new text to relay."""
        match event:
            case TextDelta(text=text) if text:
                self._add_text(text, self._text, self._unsent_text)
                return True
            case ReasoningDelta(text=text) if text:
                self._add_text(text, self._reasoning, self._unsent_reasoning)
                return True
            case TextToReasoning():
                self._move_text_to_reasoning()
                return True
            case ToolCallDelta():
                self._tool_calls.add(event)
            case Usage():
                self.usage = event
            case Sensitivity():
                self.sensitivity = event
            case Finish() if self.limit is None:
                self.finish = event
            case StreamError(error=error):
                self.fail(error)
        return False

    def _add_text(self, text: str, whole: list[str], unsent: list[str]) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = self.elapsed_ms()
        if self.max_chars is not None:
            room = self.max_chars - self._chars
            if len(text) >= room:
                text = text[: max(room, 0)]
                self.cut_short("chars", self.max_chars)
            self._chars += len(text)
        whole.append(text)
        unsent.append(text)
        self._changed = True

    def _move_text_to_reasoning(self) -> None:
        # A stream with no <think> opener turned out to be thinking: what was
        # shown as the answer is reasoning (docs/minimax-protocol.md §6).
        self._reasoning.extend(self._text)
        self._text.clear()
        self._resync = self._changed = True

    def take_resync(self) -> bool:
        """Return whether pages must be sent a snapshot instead of a delta.

        Offsets restart from the text as it is now, so the deltas after the
        snapshot extend it.
        """
        if not self._resync:
            return False
        self._resync = False
        self._unsent_text.clear()
        self._unsent_reasoning.clear()
        self._sent_text_units = utf16_length(self.text)
        self._sent_reasoning_units = utf16_length(self.reasoning)
        return True

    def take_delta(self) -> Delta | None:
        """Return what arrived since the last delta (None if nothing did)."""
        text = "".join(self._unsent_text)
        reasoning = "".join(self._unsent_reasoning)
        self._unsent_text.clear()
        self._unsent_reasoning.clear()
        if not text and not reasoning:
            return None
        delta = Delta(
            text=text,
            text_offset=self._sent_text_units,
            reasoning=reasoning,
            reasoning_offset=self._sent_reasoning_units,
        )
        self._sent_text_units += utf16_length(text)
        self._sent_reasoning_units += utf16_length(reasoning)
        return delta

    def take_changed(self) -> bool:
        """Return whether text arrived since the last call (a checkpoint is due)."""
        changed, self._changed = self._changed, False
        return changed

    def mark_changed(self) -> None:
        """A checkpoint failed: the next one is due even if no text arrives."""
        self._changed = True

    def checkpoint_fields(self, now: datetime) -> dict[str, Any]:
        return {"content": self.text, "reasoning": self.reasoning, "checkpoint_at": now}

    # --- Endings (the first one wins) ------------------------------------------------

    def fail(self, error: MiniMaxError) -> None:
        if self.streaming:
            self.status, self.error = Status.ERROR, error

    def stop(self) -> None:
        """The user pressed stop."""
        if self.streaming:
            self.status = Status.STOPPED

    def cut_short(self, limit: str, value: float) -> None:
        """The reply reached the site's cap on size ("chars") or time ("seconds").

        It ends complete, like a reply MiniMax cut at max_tokens: finish_reason
        "length", and an explanation (error kind "reply_limit") the page can show.
        """
        if self.streaming:
            self.limit, self.limit_value = limit, value
            self.finish = Finish("length", response_id=None)
            self.status = Status.COMPLETE

    def interrupt(self) -> None:
        """The server is shutting down."""
        if self.streaming:
            self.status = Status.INTERRUPTED

    def conclude(self) -> Status:
        """End a reply whose stream ran out: complete only with a final event."""
        if self.streaming:
            if self.finish is not None:
                self.status = Status.COMPLETE
            else:
                self.fail(ProtocolError("The reply ended without a final event."))
        return self.status

    def outcome_fields(self, now: datetime) -> dict[str, Any]:
        """Return the message fields that record how the reply ended."""
        self.conclude()
        fields: dict[str, Any] = {
            "content": self.text,
            "reasoning": self.reasoning,
            "status": self.status,
            "finish_reason": self.finish.reason if self.finish else "",
            "response_id": (self.finish.response_id or "") if self.finish else "",
            "tool_calls": self._tool_calls.calls(),
            "first_token_ms": self.first_token_ms,
            "duration_ms": self.elapsed_ms(),
            "json_valid": self.json_valid(),
            "checkpoint_at": now,
            "finished_at": now,
        }
        fields.update(self._error_fields())
        fields.update(self._usage_fields())
        fields.update(self._sensitivity_fields())
        return fields

    def limit_message(self) -> str:
        if self.limit == "chars":
            return (
                f"The reply reached this site's limit of {self.limit_value:g} "
                "characters and was cut short."
            )
        return (
            f"The reply reached this site's limit of {self.limit_value:g} "
            "seconds and was cut short."
        )

    def json_valid(self) -> bool | None:
        """Return whether a complete reply matches the conversation's JSON schema."""
        if not self.json_schema or self.status != Status.COMPLETE:
            return None
        return reply_matches_schema(self.text, self.json_schema)

    def _error_fields(self) -> dict[str, Any]:
        if self.limit is not None:
            return {
                "error_kind": "reply_limit",
                "error_code": None,
                "error_message": self.limit_message(),
            }
        if self.error is None:
            return {}
        return {
            "error_kind": self.error.kind,
            "error_code": self.error.code,
            "error_message": self.error.message,
        }

    def _usage_fields(self) -> dict[str, Any]:
        if self.usage is None:
            return {}
        return {
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "total_tokens": self.usage.total_tokens,
        }

    def _sensitivity_fields(self) -> dict[str, Any]:
        if self.sensitivity is None:
            return {}
        return {
            "input_sensitive": self.sensitivity.input_sensitive,
            "input_sensitive_type": self.sensitivity.input_type,
            "output_sensitive": self.sensitivity.output_sensitive,
            "output_sensitive_type": self.sensitivity.output_type,
        }

    @property
    def input_flagged(self) -> bool:
        """Whether MiniMax flagged the prompt (the user message gets the flag too)."""
        return bool(self.sensitivity and self.sensitivity.input_sensitive)
