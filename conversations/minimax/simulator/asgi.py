"""The simulator as an ASGI app, for `manage.py minimax_simulator` and live tests.

Each part is sent as its own `http.response.body` message as soon as the simulator
produces it. The app watches for `http.disconnect` while sending, so a stalled
stream ends as soon as the client goes away.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .core import ConnectionDropped, SimRequest, Simulator

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def make_asgi_app(chunk_delay: float = 0.03) -> Callable[..., Awaitable[None]]:
    """Return an ASGI app that answers MiniMax API requests offline."""
    simulator = Simulator(chunk_delay)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = SimRequest(
            method=scope["method"],
            path=scope["path"],
            headers={
                k.decode("latin-1").lower(): v.decode("latin-1")
                for k, v in scope.get("headers", [])
            },
            body=await _read_body(receive),
            query=scope.get("query_string", b"").decode("latin-1"),
        )
        response = await simulator.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode(), v.encode()) for k, v in response.headers],
            }
        )
        # Servers may hold the headers back until the first body bytes (Twisted
        # does); an empty part flushes them, as MiniMax does before a slow stream.
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await _send_until_disconnect(response.body, receive, send)

    return app


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_until_disconnect(
    parts: AsyncIterator[bytes], receive: Receive, send: Send
) -> None:
    sending = asyncio.ensure_future(_send_parts(parts, send))
    watching = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        await asyncio.wait({sending, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, watching):
            task.cancel()
        await asyncio.gather(sending, watching, return_exceptions=True)
        await parts.aclose()  # type: ignore[attr-defined]
    if not sending.cancelled() and isinstance(sending.exception(), ConnectionDropped):
        _cut_connection(send)


async def _send_parts(parts: AsyncIterator[bytes], send: Send) -> None:
    async for part in parts:
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _cut_connection(send: Send) -> None:
    """Close the TCP connection in the middle of the body, like a dropped upstream.

    ASGI has no "abort" message. Under daphne, `send` is
    functools.partial(server.handle_reply, protocol) and the protocol is a Twisted
    request, so we close its transport: the chunked body stays unfinished. Elsewhere
    raising makes servers such as uvicorn abort the connection the same way.
    """
    protocol = (
        send.args[0] if isinstance(send, functools.partial) and send.args else None
    )
    transport = getattr(getattr(protocol, "channel", None), "transport", None)
    if transport is None:
        raise ConnectionDropped("simulated connection drop")
    transport.loseConnection()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
