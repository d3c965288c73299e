"""A fake MiniMax upstream for the load bench: paced SSE pieces, each one stamped.

    .venv/bin/python -m bench.fake_upstream --port 9150 --pieces 200 --gap-ms 10

Plain asyncio, HTTP/1.1 with keep-alive and chunked bodies, loopback only. It serves

* `POST /v1/text/chatcompletion_v2` (and `/v1/chat/completions`, the same stream):
  a streamed reply of --pieces delta events, the first one at once, then one every
  --gap-ms on a fixed schedule (start + i * gap: a slow moment does not stretch the
  reply), then the final `chat.completion` event with the whole message, usage and
  `base_resp`, as MiniMax ends a v2 stream. A request with `"stream": false` (the
  site's title request) gets a short `chat.completion` body at once.
* `GET /sent?reset=1`: what was streamed since the last reset, by key (below).
* `GET /health`.

Every piece starts with a stamp `<SEQ@MICROS>`: SEQ is the piece's index and MICROS
is `time.time()` in microseconds just before its bytes are written, so a client on
this host can tell how late each piece reached it through the site. The first piece
also carries the request's key, `[KEY]`: the key is the `bench-key:KEY` word of the
last user message, so the bench can match each reply with the text sent for it.
`pieces:N` in that message asks for N pieces instead of --pieces (warm-up replies).
With --unicode the filler mixes Chinese and an emoji (a UTF-16 surrogate pair), so
offsets in UTF-16 units are exercised; the default filler is ASCII. Both repeat a
short cycle, which compresses far better than a model's prose: --filler-file takes
the filler from a text instead (e.g. docs/performance.md), each piece going on
where the one before stopped, to measure what permessage-deflate saves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

KEY_WORD = re.compile(r"bench-key:(\S+)")
PIECES_WORD = re.compile(r"pieces:(\d+)")
ASCII_FILL = "abcdefghij klmnopqrstuvwxyz "
UNICODE_FILL = "流式回复 😀 speed テスト "
MAX_BODY = 4 * 2**20


@dataclass
class Pace:
    """How every reply is streamed."""

    pieces: int = 200
    gap: float = 0.010
    piece_chars: int = 24
    unicode: bool = False
    # A text to stream from instead of the short cycles above ("" for none).
    prose: str = ""


@dataclass
class Record:
    """Everything sent for one key since the last reset."""

    texts: list[str] = field(default_factory=list)
    complete: list[bool] = field(default_factory=list)


class Upstream:
    """The server's state: its pace, what it sent, how late its own clock ran."""

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self.sent: dict[str, Record] = {}
        self.pieces_sent = 0
        self.lag_max_ms = 0.0
        self.active = 0

    def filler(self, seq: int, length: int) -> str:
        if self.pace.prose:
            fill, start = self.pace.prose, seq * length % len(self.pace.prose)
        else:
            fill = UNICODE_FILL if self.pace.unicode else ASCII_FILL
            start = seq % len(fill)
        # Wrap around without repeating the fill: a --filler-file text is long.
        text = fill[start : start + length]
        while len(text) < length:
            text += fill[: length - len(text)]
        return text

    def piece(self, seq: int, key: str) -> str:
        head = f"<{seq}@{time.time_ns() // 1000}>"
        if seq == 0:
            head = f"[{key}]" + head
        return head + self.filler(seq, max(self.pace.piece_chars - len(head), 1))

    # --- HTTP -------------------------------------------------------------------

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                method, path, body = request
                await self.route(writer, method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def route(
        self, writer: asyncio.StreamWriter, method: str, path: str, body: bytes
    ) -> None:
        route, _, query = path.partition("?")
        if method == "POST" and route.rstrip("/") in (
            "/v1/text/chatcompletion_v2",
            "/v1/chat/completions",
        ):
            await self.stream_reply(writer, body)
        elif method == "GET" and route == "/sent":
            await respond_json(writer, self.report(reset="reset=1" in query))
        elif method == "GET" and route == "/health":
            await respond_json(writer, {"ok": True})
        else:
            await respond_json(writer, {"error": "not found"}, status=404)

    def report(self, *, reset: bool) -> dict[str, Any]:
        out = {
            "pieces_sent": self.pieces_sent,
            "active": self.active,
            "lag_max_ms": round(self.lag_max_ms, 2),
            "sent": {
                key: {"texts": rec.texts, "complete": rec.complete}
                for key, rec in self.sent.items()
            },
        }
        if reset:
            self.sent.clear()
            self.pieces_sent = 0
            self.lag_max_ms = 0.0
        return out

    async def stream_reply(self, writer: asyncio.StreamWriter, body: bytes) -> None:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            await respond_json(writer, {"error": "invalid JSON"}, status=400)
            return
        if request.get("stream") is False:
            # A short non-streamed completion (the site's title request), as
            # MiniMax answers one: not a paced reply, not counted in pieces.
            final = final_event(uuid.uuid4().hex, "MiniMax-Text-01", 0, "Bench", 1)
            await respond_json(writer, final)
            return
        prompt = last_user_text(request)
        key_match = KEY_WORD.search(prompt)
        key = key_match.group(1) if key_match else "-"
        pieces_match = PIECES_WORD.search(prompt)
        pieces = int(pieces_match.group(1)) if pieces_match else self.pace.pieces
        record = self.sent.setdefault(key, Record())
        model = str(request.get("model") or "MiniMax-Text-01")
        reply_id = uuid.uuid4().hex
        created = int(time.time())
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        parts: list[str] = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        complete = False
        self.active += 1
        try:
            for seq in range(pieces):
                due = start + seq * self.pace.gap
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.lag_max_ms = max(self.lag_max_ms, (loop.time() - due) * 1000)
                text = self.piece(seq, key)
                parts.append(text)
                write_chunk(writer, sse(delta_event(reply_id, model, created, text)))
                await writer.drain()
                self.pieces_sent += 1
            whole = "".join(parts)
            final = final_event(reply_id, model, created, whole, pieces)
            write_chunk(writer, sse(final))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            complete = True
        finally:
            self.active -= 1
            record.texts.append("".join(parts))
            record.complete.append(complete)


def last_user_text(request: dict[str, Any]) -> str:
    messages = request.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def delta_event(reply_id: str, model: str, created: int, text: str) -> dict[str, Any]:
    return {
        "id": reply_id,
        "choices": [{"index": 0, "delta": {"content": text, "role": "assistant"}}],
        "created": created,
        "model": model,
        "object": "chat.completion.chunk",
        "usage": None,
        "input_sensitive": False,
        "output_sensitive": False,
    }


def final_event(
    reply_id: str, model: str, created: int, text: str, pieces: int
) -> dict[str, Any]:
    message = {"content": text, "role": "assistant", "name": "MiniMax AI"}
    return {
        "id": reply_id,
        "choices": [{"finish_reason": "stop", "index": 0, "message": message}],
        "created": created,
        "model": model,
        "object": "chat.completion",
        "usage": {
            "prompt_tokens": 8,
            "completion_tokens": pieces,
            "total_tokens": 8 + pieces,
        },
        "input_sensitive": False,
        "output_sensitive": False,
        "base_resp": {"status_code": 0, "status_msg": ""},
    }


def sse(value: dict[str, Any]) -> bytes:
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + data.encode() + b"\n\n"


def write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(b"%x\r\n%s\r\n" % (len(data), data))


async def read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, bytes] | None:
    """Return (method, path, body) of the next request, or None at the end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length > MAX_BODY:
        raise ConnectionError("request body too large")
    body = await reader.readexactly(length) if length else b""
    return method, path, body


async def respond_json(
    writer: asyncio.StreamWriter, value: Any, status: int = 200
) -> None:
    data = json.dumps(value, ensure_ascii=False).encode()
    writer.write(
        b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (status, len(data), data)
    )
    await writer.drain()


async def serve(host: str, port: int, pace: Pace) -> None:
    upstream = Upstream(pace)
    server = await asyncio.start_server(
        upstream.serve_connection, host, port, backlog=1024
    )
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fake_upstream", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9150)
    parser.add_argument("--pieces", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    parser.add_argument("--piece-chars", type=int, default=24)
    parser.add_argument("--unicode", action="store_true")
    parser.add_argument("--filler-file", help="stream this text (UTF-8) as filler")
    args = parser.parse_args(argv)
    prose = ""
    if args.filler_file:
        with open(args.filler_file, encoding="utf-8") as text:
            prose = text.read()
    pace = Pace(args.pieces, args.gap_ms / 1000, args.piece_chars, args.unicode, prose)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, pace))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
