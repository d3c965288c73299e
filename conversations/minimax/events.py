"""The small set of typed events the rest of the app sees, whatever the dialect.

A reply is an async iterator of these. Dialect details (`delta` vs `messages`,
`<think>` tags, `reasoning_content`, the repeated final message) never get past
the client: it turns every wire format into this vocabulary.

Order within one reply: any number of TextDelta / ReasoningDelta / ToolCallDelta
(and at most one TextToReasoning),
Usage and Sensitivity when the upstream reports them, then exactly one terminal
event: Finish on success or StreamError on failure. Nothing follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .errors import MiniMaxError


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer, to append to what came before."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning ("thinking"), shown apart from the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class TextToReasoning:
    """All the answer text of this reply so far was reasoning: move it there.

    Sent once at most, when a reasoning model's stream had no `<think>` opener and
    a `</think>` turns up (some self-hosted templates put the opener in the
    prompt). The text was shown as it arrived; this says it was thinking after
    all. Append the text so far to the reasoning, then clear the text.
    """


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call; pieces with the same index belong to one call.

    `id` and `name` arrive on the first piece of a call (later pieces may carry
    them again or leave them None); `arguments` is a JSON text fragment to append.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts the upstream reported for this reply (None: not reported)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """MiniMax's content-safety verdict on the input and the output.

    Types follow the vendor's enum: 0 none, 1 severe violation, 2 pornography,
    3 advertising, 4 prohibited, 5 abuse, 6 violence/terrorism, 7 other.
    """

    input_sensitive: bool = False
    input_type: int = 0
    output_sensitive: bool = False
    output_type: int = 0

    @property
    def flagged(self) -> bool:
        return self.input_sensitive or self.output_sensitive


@dataclass(frozen=True, slots=True)
class Finish:
    """The reply ended normally: `reason` is stop, length, tool_calls, ..."""

    reason: str
    response_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class StreamError:
    """The reply failed; any deltas before it are still valid text received so far."""

    error: MiniMaxError


ChatEvent = (
    TextDelta
    | ReasoningDelta
    | TextToReasoning
    | ToolCallDelta
    | Usage
    | Sensitivity
    | Finish
    | StreamError
)
