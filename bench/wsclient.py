"""A small websocket client (RFC 6455) on asyncio streams, for the load bench.

Hand-made rather than a library so that a thousand of them are cheap to hold in
one process and every byte the server sends is counted (`wire_bytes`: frame headers
included, the handshake not). Text frames only. Like a browser it offers
`permessage-deflate` (RFC 7692) unless told not to, and counts the compressed bytes,
so the count is what a browser receives; it never compresses what it sends, which
the extension allows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
import zlib
from typing import Any

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
RSV1 = 0x40  # set on the first frame of a compressed message
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"
# What RFC 7692 (7.2.2) has the sender strip from the end of every message.
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class HandshakeRefused(Exception):
    """The server answered the upgrade with something other than 101."""


class Closed(Exception):
    """The connection ended."""


class WebSocket:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        extensions: str = "",
    ):
        self.reader = reader
        self.writer = writer
        self.wire_bytes = 0
        # The extension the server accepted ("" for none), as its answer said.
        self.extensions = extensions
        self.deflated = "permessage-deflate" in extensions
        self._fresh_context = "server_no_context_takeover" in extensions
        # Made at the first compressed message: a 32 KiB window reads any server's.
        self._inflater: Any = None

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str,
        headers: dict[str, str],
        deflate: bool = True,
    ) -> WebSocket:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        if deflate:
            lines.append(f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            writer.close()
            raise HandshakeRefused(f"no answer to the upgrade: {error!r}") from None
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            writer.close()
            raise HandshakeRefused(status.decode(errors="replace"))
        return cls(reader, writer, _header(head, b"sec-websocket-extensions"))

    async def send_json(self, value: dict[str, Any]) -> None:
        self._send_frame(TEXT, json.dumps(value).encode())
        await self.writer.drain()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        # Client frames are masked (RFC 6455 5.3).
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    async def receive_json(self) -> dict[str, Any]:
        """Return the next text frame as JSON; answer pings; raise Closed at the end."""
        while True:
            opcode, compressed, payload = await self._read_frame()
            if opcode == TEXT:
                return json.loads(self._inflate(payload) if compressed else payload)
            if opcode == PING:
                self._send_frame(PONG, payload)
            elif opcode == CLOSE:
                raise Closed(payload[:2].hex())

    async def _read_frame(self) -> tuple[int, bool, bytes]:
        """One frame: its opcode, whether it is compressed, and its payload."""
        try:
            first, second = await self.reader.readexactly(2)
            size = 2
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
                size += 2
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
                size += 8
            mask = b""
            if second & 0x80:  # servers do not mask; tolerate one that does
                mask = await self.reader.readexactly(4)
                size += 4
            payload = await self.reader.readexactly(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            raise Closed(repr(error)) from None
        self.wire_bytes += size + length
        # Daphne sends every message as one frame, so no continuation is read.
        return first & 0x0F, bool(first & RSV1) and self.deflated, payload

    def _inflate(self, payload: bytes) -> bytes:
        if self._inflater is None or self._fresh_context:
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inflater.decompress(payload + DEFLATE_TAIL)

    async def close(self) -> None:
        """Close politely if the server still listens; never raise (best effort)."""
        with contextlib.suppress(Exception):
            self._send_frame(CLOSE, struct.pack("!H", 1000))
            await asyncio.wait_for(self.writer.drain(), 2)
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2)


def _header(head: bytes, name: bytes) -> str:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode()
    return ""
