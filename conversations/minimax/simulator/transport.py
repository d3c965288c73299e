"""The simulator as an httpx transport: the real client code, no socket.

Unlike httpx.ASGITransport, which collects the whole body before returning, this
transport hands httpx a stream that yields each part when the simulator produces
it, so first-token and idle timeouts, "stop" and slow streams behave as online.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from .core import ConnectionDropped, SimRequest, Simulator


class SimulatorTransport(httpx.AsyncBaseTransport):
    """Answer every request with the offline MiniMax simulator."""

    def __init__(self, chunk_delay: float = 0.03) -> None:
        self.simulator = Simulator(chunk_delay)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sim_request = SimRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.aread(),
            query=request.url.query.decode("ascii", "replace"),
        )
        response = await self.simulator.handle(sim_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=SimulatedBodyStream(response.body, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


class SimulatedBodyStream(httpx.AsyncByteStream):
    """Yield the simulator's parts as they come; a drop fails like a real one."""

    def __init__(self, parts: AsyncIterator[bytes], request: httpx.Request) -> None:
        self._parts = parts
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._parts:
                yield part
        except ConnectionDropped:
            # The error httpx raises when a server closes a chunked body early.
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body: "
                "incomplete chunked read",
                request=self._request,
            ) from None

    async def aclose(self) -> None:
        # Closing ends a stalled simulator at once instead of after its sleep.
        await self._parts.aclose()  # type: ignore[attr-defined]
