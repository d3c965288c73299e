"""Server-sent events: bytes in, events out.

A small decoder of its own (after openai-python's `_streaming.SSEDecoder`), with no
httpx and no Django, so it can be fed hand-cut chunks in tests. Lines are split on
bytes before they are decoded, so a UTF-8 character cut across two network reads
survives; CR, LF and CRLF all end a line, also when a CRLF is cut in two.

An upstream is not trusted with our memory or our event loop: a line and an
event are bounded (MAX_LINE_BYTES, MAX_EVENT_BYTES; SSETooLarge past them), and
the search for a line end never looks at the same byte twice, however the
bytes are cut into reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import ProtocolError

DONE = "[DONE]"
# A chunk of a reply is a few hundred bytes; the final whole copy of a long reply
# is the one big line (see client.py: past the finish chunk, it is not needed).
MAX_LINE_BYTES = 1 * 2**20
MAX_EVENT_BYTES = 4 * 2**20
_LINE_END = re.compile(rb"[\r\n]")
_CR = 0x0D


class SSETooLarge(ProtocolError):
    """A line or an event longer than the decoder accepts."""


def _too_large(what: str, limit: int) -> SSETooLarge:
    size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"
    return SSETooLarge(
        f"MiniMax sent {what} longer than {size}; the reply was cut there.",
        detail=f"{what} longer than {size}",
    )


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

    def __init__(
        self,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        self._buffer = bytearray()
        # How many bytes at the start of the buffer are known to hold no line end.
        self._scanned = 0
        self._data: list[str] = []
        self._data_bytes = 0
        self._event: str | None = None
        self._last_id: str | None = None
        # A limit was passed: every later call raises it.
        self._failure: SSETooLarge | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Return the events completed by `chunk`; raise SSETooLarge past a limit.

        The events completed before the oversized line are still returned; the
        error is raised then on the next call (at once when there are none).
        """
        self.raise_failure()
        if (
            not self._buffer
            and not self._data
            and self._event is None  # an `event:` line of the last chunk applies
            and chunk.endswith(b"\n\n")
        ):
            whole = self._whole_data_events(chunk)
            if whole is not None:
                return whole
        self._buffer += chunk
        events: list[ServerSentEvent] = []
        try:
            for line in self._complete_lines():
                event = self._process_line(line)
                if event is not None:
                    events.append(event)
        except SSETooLarge as error:
            self._failure = error
            self._buffer.clear()  # nothing more is read: let the memory go
            self._data.clear()
        if not events:
            self.raise_failure()
        return events

    def _whole_data_events(self, chunk: bytes) -> list[ServerSentEvent] | None:
        """Return the events of a chunk that is whole events of `data:` lines
        ended by LF alone, as an upstream writes one or a few per read; None for
        anything else (the line-by-line path then takes it)."""
        if len(chunk) > self.max_line_bytes or b"\r" in chunk:
            return None
        blocks = chunk[:-2].split(b"\n\n")
        lines_of = [block.split(b"\n") for block in blocks if block]
        if not all(line.startswith(b"data:") for lines in lines_of for line in lines):
            return None
        events = []
        for lines in lines_of:
            data = b"\n".join(
                line[6:] if line.startswith(b"data: ") else line[5:] for line in lines
            )
            events.append(
                ServerSentEvent(
                    data.decode("utf-8", errors="replace"), None, self._last_id
                )
            )
        self._event = None
        return events

    def flush(self) -> list[ServerSentEvent]:
        """Return what the end of the stream completes.

        The spec drops an event that was not followed by a blank line; servers that
        close right after their last `data:` line are common enough that we keep it.
        """
        self.raise_failure()
        events: list[ServerSentEvent] = []
        if self._buffer:
            line = bytes(self._buffer).rstrip(b"\r")
            self._buffer.clear()
            self._scanned = 0
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

    def raise_failure(self) -> None:
        """Raise the SSETooLarge met earlier, if any (the events before it are out)."""
        if self._failure is not None:
            raise self._failure

    def _complete_lines(self) -> Iterator[bytes]:
        """Yield the lines the buffer completes, and keep the incomplete rest."""
        buffer = self._buffer
        start = 0
        scanned_to = len(buffer)
        search_from = self._scanned  # the bytes before it were looked at already
        while (found := _LINE_END.search(buffer, search_from)) is not None:
            end = found.start()
            if buffer[end] == _CR and end + 1 == len(buffer):
                scanned_to = end  # a lone CR may be half a CRLF: look again later
                break
            self._check_line(end - start)
            line = bytes(buffer[start:end])
            start = search_from = end + (2 if buffer[end : end + 2] == b"\r\n" else 1)
            yield line
        del buffer[:start]
        self._scanned = max(scanned_to - start, 0)
        self._check_line(len(buffer))

    def _check_line(self, size: int) -> None:
        if size > self.max_line_bytes:
            raise _too_large("a line", self.max_line_bytes)

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
            self._data_bytes += len(raw) - len(b"data:")
            if self._data_bytes > self.max_event_bytes:
                raise _too_large("an event", self.max_event_bytes)
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._last_id = value
        # `retry` and unknown fields are ignored, as the spec says.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self._data_bytes = 0
        if not self._data:
            self._event = None
            return None
        event = ServerSentEvent("\n".join(self._data), self._event, self._last_id)
        self._data = []
        self._event = None
        return event
