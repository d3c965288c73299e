"""A reply's state, event by event: no channel layer, no database."""

from datetime import UTC, datetime

import pytest

from conversations.minimax import errors
from conversations.minimax.events import (
    Finish,
    ReasoningDelta,
    Sensitivity,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from conversations.models import Message
from conversations.replies.state import ReplyState

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
Status = Message.Status


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fed(*events, json_schema=None) -> ReplyState:
    state = ReplyState(json_schema)
    for event in events:
        state.apply(event)
    return state


def test_text_and_reasoning_are_kept_apart():
    state = fed(ReasoningDelta("Think "), ReasoningDelta("first."), TextDelta("Yes."))

    assert (state.reasoning, state.text) == ("Think first.", "Yes.")


def test_deltas_carry_what_is_new_at_utf16_offsets():
    state = ReplyState()
    assert state.apply(TextDelta("😀 ok")) is True
    state.apply(ReasoningDelta("é"))

    first = state.take_delta()
    assert (first.text, first.text_offset) == ("😀 ok", 0)
    assert (first.reasoning, first.reasoning_offset) == ("é", 0)
    assert state.take_delta() is None

    state.apply(TextDelta("!"))
    second = state.take_delta()
    # The emoji is two UTF-16 units, as JavaScript's string.length counts it.
    assert (second.text, second.text_offset) == ("!", 5)
    assert (second.reasoning, second.reasoning_offset) == ("", 1)


def test_events_without_text_make_no_delta():
    state = ReplyState()

    assert state.apply(Usage(1, 2, 3)) is False
    assert state.apply(TextDelta("")) is False
    assert state.take_delta() is None


def test_a_checkpoint_is_due_only_after_new_text():
    state = ReplyState()
    assert state.take_changed() is False

    state.apply(TextDelta("a"))

    assert state.take_changed() is True
    assert state.take_changed() is False
    assert state.checkpoint_fields(NOW) == {
        "content": "a",
        "reasoning": "",
        "checkpoint_at": NOW,
    }


def test_a_stream_with_a_final_event_is_complete_with_usage_and_flags():
    state = fed(
        TextDelta("Hi"),
        Usage(prompt_tokens=12, completion_tokens=4, total_tokens=16),
        Sensitivity(input_sensitive=True, input_type=7, output_type=0),
        Finish("stop", response_id="r-1"),
    )

    fields = state.outcome_fields(NOW)

    assert state.status == Status.COMPLETE
    assert fields["status"] == Status.COMPLETE
    assert (fields["content"], fields["finish_reason"], fields["response_id"]) == (
        "Hi",
        "stop",
        "r-1",
    )
    assert (fields["prompt_tokens"], fields["total_tokens"]) == (12, 16)
    assert (fields["input_sensitive"], fields["input_sensitive_type"]) == (True, 7)
    assert fields["output_sensitive"] is False
    assert "error_kind" not in fields
    assert fields["finished_at"] == fields["checkpoint_at"] == NOW
    assert state.input_flagged is True


def test_a_stream_that_runs_out_without_a_final_event_is_a_protocol_error():
    state = fed(TextDelta("one "), TextDelta("two"))

    fields = state.outcome_fields(NOW)

    assert fields["status"] == Status.ERROR
    assert fields["error_kind"] == "protocol"
    assert fields["content"] == "one two"


def test_an_error_event_ends_the_reply_with_its_kind_code_and_message():
    error = errors.RateLimited(code=1002)
    state = fed(TextDelta("so far"), StreamError(error))

    fields = state.outcome_fields(NOW)

    assert state.status == Status.ERROR
    assert (fields["error_kind"], fields["error_code"]) == ("rate_limit", 1002)
    assert fields["error_message"] == error.message
    assert fields["content"] == "so far"


@pytest.mark.parametrize(
    ("end", "status"),
    [("stop", Status.STOPPED), ("interrupt", Status.INTERRUPTED)],
)
def test_stop_and_interruption_keep_the_text_and_no_error(end, status):
    state = fed(TextDelta("half"))

    getattr(state, end)()
    fields = state.outcome_fields(NOW)

    assert fields["status"] == status
    assert fields["content"] == "half"
    assert "error_kind" not in fields


def test_the_first_ending_wins():
    state = fed(StreamError(errors.ServerError(code=1000)))
    state.stop()
    state.interrupt()
    assert state.conclude() == Status.ERROR

    stopped = fed(TextDelta("x"))
    stopped.stop()
    stopped.fail(errors.UpstreamTimeout())
    assert stopped.conclude() == Status.STOPPED
    assert stopped.error is None


def test_tool_call_pieces_become_whole_calls_in_index_order():
    state = fed(
        ToolCallDelta(1, id="call-2", name="b", arguments="{}"),
        ToolCallDelta(0, id="call-1", name="get_weather", arguments='{"city": '),
        ToolCallDelta(0, arguments='"Paris"}'),
        Finish("tool_calls"),
    )

    calls = state.outcome_fields(NOW)["tool_calls"]

    assert [call["id"] for call in calls] == ["call-1", "call-2"]
    assert calls[0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }


def test_no_tool_calls_are_recorded_as_none():
    assert fed(Finish("stop")).outcome_fields(NOW)["tool_calls"] is None


def test_first_token_and_duration_are_timed_from_the_start():
    clock = FakeClock()
    state = ReplyState(clock=clock)
    clock.now += 5
    state.start_clock()
    clock.now += 0.25
    state.apply(Usage(1, 1, 2))
    clock.now += 0.05
    state.apply(ReasoningDelta("hmm"))
    clock.now += 1.0
    state.apply(TextDelta("later"))
    state.apply(Finish("stop"))
    clock.now += 0.5

    fields = state.outcome_fields(NOW)

    assert fields["first_token_ms"] == 300
    assert fields["duration_ms"] == 1800


SCHEMA = {
    "name": "answer",
    "schema": {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    },
}


@pytest.mark.parametrize(
    ("text", "valid"),
    [('{"answer": 42}', True), ('{"answer": "many"}', False), ("not json", False)],
)
def test_a_complete_reply_is_checked_against_the_schema(text, valid):
    state = fed(TextDelta(text), Finish("stop"), json_schema=SCHEMA)

    assert state.outcome_fields(NOW)["json_valid"] is valid


def test_an_unfinished_or_schemaless_reply_is_not_checked():
    stopped = fed(TextDelta('{"answer": 42}'), json_schema=SCHEMA)
    stopped.stop()

    assert stopped.outcome_fields(NOW)["json_valid"] is None
    assert (
        fed(TextDelta("{}"), Finish("stop")).outcome_fields(NOW)["json_valid"] is None
    )


def test_text_that_turns_out_to_be_reasoning_moves_there_and_pages_resync():
    from conversations.minimax.events import TextToReasoning

    state = ReplyState()
    state.apply(TextDelta("thinking about it"))
    assert state.take_delta().text == "thinking about it"
    state.apply(TextToReasoning())
    state.apply(TextDelta("The answer."))

    assert state.take_resync() is True
    assert (state.text, state.reasoning) == ("The answer.", "thinking about it")
    # After the snapshot, deltas extend the text as it is now.
    state.apply(TextDelta(" More."))
    delta = state.take_delta()
    assert (delta.text, delta.text_offset) == (" More.", len("The answer."))
    assert state.take_resync() is False
