"""Server-sent events: bytes in, events out.

A small decoder of its own (after openai-python's `_streaming.SSEDecoder`), with no
httpx and no Django, so it can be fed hand-cut chunks in tests. Lines are split on
bytes before they are decoded, so a UTF-8 character cut across two network reads
survives; CR, LF and CRLF all end a line, also when a CRLF is cut in two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DONE = "[DONE]"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event; `data` joins multi-line data with newlines."""

    data: str
    event: str | None = None
    id: str | None = None

    @property
    def is_done(self) -> bool:
        """Return True for OpenAI's `[DONE]` sentinel (MiniMax rarely sends it)."""
        return self.data.strip() == DONE


class SSEDecoder:
    """Incremental decoder: `feed()` chunks as they arrive, `flush()` at the end."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._last_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Return the events completed by `chunk`."""
        self._buffer += chunk
        events: list[ServerSentEvent] = []
        for line in self._complete_lines():
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """Return what the end of the stream completes.

        The spec drops an event that was not followed by a blank line; servers that
        close right after their last `data:` line are common enough that we keep it.
        """
        events: list[ServerSentEvent] = []
        if self._buffer:
            line, self._buffer = self._buffer.rstrip(b"\r"), b""
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def decode(self, chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
        """Yield every event of a whole byte stream (for tests and whole bodies)."""
        for chunk in chunks:
            yield from self.feed(chunk)
        yield from self.flush()

    def _complete_lines(self) -> Iterator[bytes]:
        buffer = self._buffer
        start = 0
        while True:
            cr = buffer.find(b"\r", start)
            lf = buffer.find(b"\n", start)
            if cr == -1 and lf == -1:
                break
            if cr != -1 and (lf == -1 or cr < lf):
                if cr + 1 == len(buffer):
                    # A lone CR at the end may be the first half of a CRLF: wait.
                    break
                end = cr + 2 if buffer[cr + 1 : cr + 2] == b"\n" else cr + 1
                yield buffer[start:cr]
            else:
                end = lf + 1
                yield buffer[start:lf]
            start = end
        self._buffer = buffer[start:]

    def _process_line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return None  # a comment, used by servers as a keep-alive
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._last_id = value
        # `retry` and unknown fields are ignored, as the spec says.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = None
            return None
        event = ServerSentEvent("\n".join(self._data), self._event, self._last_id)
        self._data = []
        self._event = None
        return event
