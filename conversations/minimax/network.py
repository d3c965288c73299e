"""The client's sockets: an asyncio network backend for httpcore.

httpx reaches the network through httpcore, and httpcore through anyio. A reply
is ~200 small reads, and anyio's socket stream resumes reading before each one
and pauses it after (an epoll_ctl system call each way), under a cancel scope of
its own: ~11% of a busy process's CPU at 50 streams (docs/performance.md). Here a
connection keeps reading into a buffer, paused only when MAX_BUFFERED bytes wait
unread, and a read takes what is there or waits for the next data.

Only the sockets change: the pool, HTTP/1.1, TLS (asyncio's), proxies and the
timeouts are still httpx's and httpcore's, through the interface httpcore
documents for it (`AsyncConnectionPool(network_backend=...)`).
"""

# The `timeout` parameters are httpcore's interface.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

# Unread bytes at which a connection stops reading until its reader catches up.
MAX_BUFFERED = 256 * 1024
# Addresses of a host name tried this far apart (RFC 8305), as anyio does.
HAPPY_EYEBALLS_DELAY = 0.25

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray]


class HTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over `AsyncioBackend`."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # Written against httpx 0.28 (pinned), whose transport sends through
        # `_pool`: the same pool it builds, with our backend.
        self._pool = ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )


class ConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's pool, with its bookkeeping linear in the connections.

    The pool sorts its connections out each time a request comes or goes.
    httpcore 1.0.9 counts the whole pool again for every idle connection and
    scans it again for every waiting request: with 50 streams open, ~2 ms of CPU
    a request, most of a reply's start (docs/performance.md). And it counts every
    connection where it means the idle ones, so with more than
    max_keepalive_connections open it closed idle connections instead of
    reusing them (encode/httpcore#1035, not released). Here one pass drops
    closed and expired connections and the idle ones past the limit, oldest
    first, as before; and a connection handed to a waiting request is neither
    handed to another nor closed under it (encode/httpcore#1110). HTTP/1.1, as
    the client speaks it.
    """

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        reserved = {id(r.connection) for r in self._requests if r.connection}
        kept = []
        for connection in self._connections:
            if connection.is_closed():
                continue
            if id(connection) not in reserved and connection.has_expired():
                closing.append(connection)
                continue
            kept.append(connection)
        idle = [c for c in kept if id(c) not in reserved and c.is_idle()]
        limit = self._max_keepalive_connections
        surplus = {id(c) for c in idle[: max(0, len(idle) - limit)]}
        if surplus:
            closing += [c for c in kept if id(c) in surplus]
            kept = [c for c in kept if id(c) not in surplus]
            idle = [c for c in idle if id(c) not in surplus]
        self._connections = kept

        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            reusable = next((c for c in idle if c.can_handle_request(origin)), None)
            if reusable is not None:
                idle.remove(reusable)
                connection = reusable
            elif len(self._connections) < self._max_connections:
                connection = self.create_connection(origin)
                self._connections.append(connection)
            elif idle:  # full: an idle connection to another origin makes room
                other = idle.pop(0)
                self._connections.remove(other)
                closing.append(other)
                connection = self.create_connection(origin)
                self._connections.append(connection)
            else:
                break  # every connection is busy: the rest wait for one
            pool_request.assign_to_connection(connection)
        return closing


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        with _connect_errors():
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    local_addr=local,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                )
        return AsyncioStream(transport, protocol, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _connect_errors():
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(
                    _Connection, path
                )
        return AsyncioStream(transport, protocol, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@contextmanager
def _connect_errors() -> Iterator[None]:
    """Raise connecting's failures as httpcore's, as its anyio backend does."""
    try:
        yield
    except TimeoutError as error:
        raise httpcore.ConnectTimeout(str(error)) from error
    except OSError as error:  # ssl.SSLError among them
        raise httpcore.ConnectError(str(error) or repr(error)) from error


class _Connection(asyncio.Protocol):
    """What arrived on one socket, kept until read, and whether it has ended."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self._data_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self.writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= MAX_BUFFERED and not self.reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def eof_received(self) -> None:
        self.ended = True
        self._wake_reader()
        # None: the transport closes itself.

    def connection_lost(self, error: Exception | None) -> None:
        self.ended = True
        self.error = error
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_writer()

    async def data(self) -> None:
        """Return once something is buffered or the connection has ended."""
        if not (self.buffer or self.ended):
            await self._wait("_data_waiter")

    async def drained(self) -> None:
        """Return once the transport takes writes again (or the connection ended)."""
        if self.writing_paused and not self.ended:
            await self._wait("_drain_waiter")

    async def _wait(self, slot: str) -> None:
        """Wait until the future put in `slot` (woken by _wake) is done."""
        waiter = asyncio.get_running_loop().create_future()
        setattr(self, slot, waiter)
        try:
            await waiter
        finally:
            setattr(self, slot, None)

    def take(self, max_bytes: int) -> bytes:
        if len(self.buffer) <= max_bytes:
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:max_bytes])
            del self.buffer[:max_bytes]
        if self.reading_paused and len(self.buffer) < MAX_BUFFERED // 2:
            assert self.transport is not None
            self.transport.resume_reading()
            self.reading_paused = False
        return data

    def _wake_reader(self) -> None:
        _wake(self._data_waiter)

    def _wake_writer(self) -> None:
        _wake(self._drain_waiter)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, as httpcore reads and writes it."""

    def __init__(
        self,
        transport: asyncio.Transport,
        connection: _Connection,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> None:
        self._transport = transport
        self._connection = connection
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        if not connection.buffer and not connection.ended:
            if timeout is None:  # the client's reads: its own timers bound them
                await connection.data()
            else:
                try:
                    async with asyncio.timeout(timeout):
                        await connection.data()
                except TimeoutError as error:
                    raise httpcore.ReadTimeout(str(error)) from error
        if connection.buffer:
            return connection.take(max_bytes)
        if connection.error is not None:
            raise httpcore.ReadError(repr(connection.error)) from connection.error
        return b""  # the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        if connection.ended or self._transport.is_closing():
            raise httpcore.WriteError(repr(connection.error or "connection closed"))
        self._transport.write(buffer)
        try:
            async with asyncio.timeout(timeout):
                await connection.drained()
        except TimeoutError as error:
            raise httpcore.WriteTimeout(str(error)) from error

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            with _connect_errors():
                async with asyncio.timeout(timeout):
                    transport = await loop.start_tls(
                        self._transport,
                        self._connection,
                        ssl_context,
                        server_hostname=server_hostname,
                    )
        except BaseException:
            self._transport.close()
            raise
        assert isinstance(transport, asyncio.Transport)
        # start_tls does not call connection_made: the protocol is told here.
        self._connection.transport = transport
        return AsyncioStream(transport, self._connection)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            # Read already, if anything came: an idle connection with data or an
            # end waiting was closed (or broken) by the server.
            return bool(self._connection.buffer) or self._connection.ended
        return None
