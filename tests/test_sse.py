"""The SSE decoder, fed hand-cut byte chunks (after openai-python's tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.minimax import sse
from conversations.minimax.sse import (
    MAX_EVENT_BYTES,
    MAX_LINE_BYTES,
    ServerSentEvent,
    SSEDecoder,
    SSETooLarge,
)


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


DATA_EVENTS = [
    'data: {"choices":[{"delta":{"content":"你好"}}]}\n\n',
    "data:no space\ndata:  two spaces\n\n",
    "data: \xe4 cut\n\n",  # not UTF-8 (latin-1 bytes below): replaced the same way
    "\n",  # an extra blank line
    "data: [DONE]\n\n",
]


@given(
    st.lists(st.sampled_from(DATA_EVENTS), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=3),
)
def test_whole_data_events_per_chunk_decode_as_byte_by_byte(events, per_chunk):
    encoded = [
        event.encode("latin-1" if "\xe4" in event else "utf-8") for event in events
    ]
    chunks = [
        b"".join(encoded[i : i + per_chunk]) for i in range(0, len(encoded), per_chunk)
    ]
    stream = b"".join(encoded)
    single_bytes = [stream[i : i + 1] for i in range(len(stream))]
    assert decode(*chunks) == decode(*single_bytes)


def test_a_chunk_of_other_fields_after_data_events_keeps_them():
    decoder = SSEDecoder()
    assert [e.data for e in decoder.feed(b"data: a\n\n")] == ["a"]
    events = decoder.feed(b"id: 7\nevent: note\ndata: b\n\n")
    assert events == [ServerSentEvent("b", "note", "7")]
    assert decoder.feed(b"data: c\n\n") == [ServerSentEvent("c", None, "7")]


# --- hostile sizes (finding 9) ------------------------------------------------------


def test_a_line_longer_than_the_limit_fails_as_soon_as_it_passes_it():
    decoder = SSEDecoder(max_line_bytes=1000)
    assert decoder.feed(b"data: " + b"x" * 900) == []
    with pytest.raises(SSETooLarge, match="longer than"):
        decoder.feed(b"x" * 200)  # no newline yet: the line is already too long


def test_a_long_line_that_arrives_whole_fails_too():
    with pytest.raises(SSETooLarge):
        SSEDecoder(max_line_bytes=1000).feed(b"data: " + b"x" * 2000 + b"\n\n")


def test_an_event_of_many_lines_is_bounded_too():
    decoder = SSEDecoder(max_line_bytes=1000, max_event_bytes=5000)
    with pytest.raises(SSETooLarge, match="event"):
        decoder.feed(b"".join(b"data: " + b"y" * 900 + b"\n" for _ in range(6)))


def test_lines_up_to_the_limit_pass():
    decoder = SSEDecoder(max_line_bytes=1000, max_event_bytes=1000)
    line = b"data: " + b"z" * 994
    assert decoder.feed(line + b"\n\n") == [ServerSentEvent("z" * 994)]


def test_the_defaults_are_one_and_four_mebibytes():
    assert (MAX_LINE_BYTES, MAX_EVENT_BYTES) == (2**20, 4 * 2**20)


class _CountingLineEnd:
    """Stands in for the decoder's line-end pattern and counts the bytes it reads."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.bytes_read = 0

    def search(self, buffer, pos=0):
        found = self.pattern.search(buffer, pos)
        self.bytes_read += (found.end() if found else len(buffer)) - pos
        return found


class _CountingBuffer(bytearray):
    """The decoder's buffer, counting how often its head is cut (each cut moves
    the rest of the buffer)."""

    cuts = 0

    def __delitem__(self, key):
        self.cuts += 1
        super().__delitem__(key)


@pytest.fixture
def line_end(monkeypatch):
    counting = _CountingLineEnd(sse._LINE_END)
    monkeypatch.setattr(sse, "_LINE_END", counting)
    return counting


def test_a_long_line_in_small_chunks_is_scanned_once_not_on_every_chunk(line_end):
    # 8 MiB in 1 KiB reads: rescanning the whole buffer on every read is
    # quadratic (about 34 GB read); a linear decoder reads each byte once.
    decoder = SSEDecoder(max_line_bytes=16 * 2**20, max_event_bytes=16 * 2**20)
    piece = b"w" * 1024
    decoder.feed(b"data: ")
    fed = 6
    for _ in range(8 * 1024):
        assert decoder.feed(piece) == []
        fed += len(piece)
        assert line_end.bytes_read <= 2 * fed  # checked as it goes: fails fast
    events = decoder.feed(b"\n\n")
    assert len(events) == 1 and len(events[0].data) == 8 * 2**20


def test_many_short_lines_in_one_chunk_are_split_in_linear_time(line_end):
    body = b"data: a\n\n" * 200_000  # 1.8 MB, 200,000 events, LF only
    decoder = SSEDecoder()
    decoder._buffer = buffer = _CountingBuffer()
    events = decoder.feed(body)
    assert len(events) == 200_000
    # Each byte read once, and the buffer's head cut once for the whole chunk,
    # not once per line (which moves the rest of 1.8 MB 400,000 times).
    assert line_end.bytes_read <= 2 * len(body)
    assert buffer.cuts <= 1


def test_events_before_an_oversized_line_are_returned_then_it_fails():
    decoder = SSEDecoder(max_line_bytes=1000)
    events = decoder.feed(b"data: one\n\ndata: two\n\ndata: " + b"x" * 2000)
    assert [e.data for e in events] == ["one", "two"]
    with pytest.raises(SSETooLarge):
        decoder.raise_failure()
    with pytest.raises(SSETooLarge):
        decoder.feed(b"\n\n")  # and nothing more is decoded after it
    with pytest.raises(SSETooLarge):
        decoder.flush()


def test_an_event_name_from_the_last_chunk_names_the_next_data():
    decoder = SSEDecoder()
    assert decoder.feed(b"event: ping\n") == []
    assert decoder.feed(b"data: one\n\n") == [ServerSentEvent("one", "ping")]
