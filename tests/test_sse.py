"""The SSE decoder, fed hand-cut byte chunks (after openai-python's tests)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conversations.minimax.sse import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    return list(SSEDecoder().decode(chunks))


def test_data_with_and_without_a_space_after_the_colon():
    events = decode(b'data: {"a":1}\n\n', b'data:{"b":2}\n\n')
    assert [e.data for e in events] == ['{"a":1}', '{"b":2}']


def test_only_one_leading_space_is_removed():
    assert decode(b"data:  two spaces\n\n")[0].data == " two spaces"


def test_lf_cr_and_crlf_all_end_lines():
    for newline in (b"\n", b"\r", b"\r\n"):
        events = decode(b"data: one" + newline * 2 + b"data: two" + newline * 2)
        assert [e.data for e in events] == ["one", "two"], newline


def test_multi_line_data_is_joined_with_newlines():
    events = decode(b"data: first\ndata: second\ndata:\n\n")
    assert events == [ServerSentEvent("first\nsecond\n")]


def test_comments_and_extra_blank_lines_are_skipped():
    events = decode(b": keep-alive\n\n\n\n: again\ndata: x\n\n\n")
    assert [e.data for e in events] == ["x"]


def test_event_and_id_fields():
    events = decode(b"event: message\nid: 7\ndata: x\n\ndata: y\n\n")
    assert events == [
        ServerSentEvent("x", "message", "7"),
        ServerSentEvent("y", None, "7"),
    ]


def test_chinese_text_cut_inside_a_character_survives():
    raw = 'data: {"content":"你好！"}\n\n'.encode()
    cut = raw.index("好".encode()) + 1  # in the middle of a 3-byte character
    assert decode(raw[:cut], raw[cut:])[0].data == '{"content":"你好！"}'


def test_crlf_cut_between_cr_and_lf_is_one_line_end():
    events = decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")
    assert [e.data for e in events] == ["a", "b"]


def test_feed_returns_events_as_soon_as_they_are_complete():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: par") == []
    assert decoder.feed(b"tial\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent("partial")]


def test_last_event_without_blank_line_is_kept_at_the_end():
    assert decode(b"data: a\n\ndata: b")[-1].data == "b"
    assert decode(b"data: a\n\ndata: b\n")[-1].data == "b"


def test_done_sentinel_is_recognised():
    events = decode(b'data: {"x":1}\n\ndata: [DONE]\n\n')
    assert [e.is_done for e in events] == [False, True]


def test_a_data_less_event_is_not_dispatched():
    assert decode(b"event: ping\n\n") == []


STREAM = (
    'data: {"id":"1","choices":[{"delta":{"content":"你好，世界"}}]}\r\n\r\n'
    ": comment\r\n"
    "event: note\r\n"
    "data: 第一行\r\n"
    "data: 😀 second\r\n"
    "\r\n"
    "data: [DONE]\n\n"
).encode()


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_of_the_byte_stream_gives_the_same_events(cuts):
    points = sorted(set(cuts))
    bounds = zip([0, *points], [*points, len(STREAM)], strict=True)
    chunks = [STREAM[a:b] for a, b in bounds]
    assert decode(*chunks) == decode(STREAM)
    assert [e.data for e in decode(STREAM)] == [
        '{"id":"1","choices":[{"delta":{"content":"你好，世界"}}]}',
        "第一行\n😀 second",
        "[DONE]",
    ]
