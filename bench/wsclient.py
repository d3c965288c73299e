"""A small websocket client (RFC 6455) on asyncio streams, for the load bench.

Hand-made rather than a library so that a thousand of them are cheap to hold in
one process and every byte the server sends is counted (`wire_bytes`: frame headers
included, the handshake not). Text frames only; no extensions are offered (daphne
negotiates none with a browser either, see docs/performance.md), so the count is
what a browser receives.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
from typing import Any

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class HandshakeRefused(Exception):
    """The server answered the upgrade with something other than 101."""


class Closed(Exception):
    """The connection ended."""


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.wire_bytes = 0

    @classmethod
    async def connect(
        cls, host: str, port: int, path: str, headers: dict[str, str]
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
        return cls(reader, writer)

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
            opcode, payload = await self._read_frame()
            if opcode == TEXT:
                return json.loads(payload)
            if opcode == PING:
                self._send_frame(PONG, payload)
            elif opcode == CLOSE:
                raise Closed(payload[:2].hex())

    async def _read_frame(self) -> tuple[int, bytes]:
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
        return first & 0x0F, payload

    async def close(self) -> None:
        """Close politely if the server still listens; never raise (best effort)."""
        with contextlib.suppress(Exception):
            self._send_frame(CLOSE, struct.pack("!H", 1000))
            await asyncio.wait_for(self.writer.drain(), 2)
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2)
