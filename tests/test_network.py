"""The client's sockets (conversations/minimax/network.py), through httpx, against
small servers on loopback: what comes is read whole and in order, over TLS too,
however it is cut; a server that breaks off or goes away is an error httpx
names; a pooled connection the server closed is not reused."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import trustme

from conversations.minimax import network

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """Read one request's head (the tests send no body)."""
    return await reader.readuntil(b"\r\n\r\n")


def chunked(*pieces: bytes) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Start a loopback server with `await serve(handler, tls=None)`; its base URL."""
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"{'https' if tls else 'http'}://localhost:{port}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def client(**kwargs) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=5)
    return httpx.AsyncClient(transport=network.HTTPTransport(limits=limits), **kwargs)


async def streamed(http: httpx.AsyncClient, url: str) -> list[bytes]:
    async with http.stream("GET", url) as response:
        assert response.status_code == 200
        return [chunk async for chunk in response.aiter_raw()]


async def test_a_stream_cut_anywhere_is_read_whole_and_in_order(serve):
    pieces = [f'data: {{"n": {n}, "text": "你好👋🏽"}}\n\n'.encode() for n in range(50)]
    wire = STREAM_HEAD + b"".join(chunked(*pieces))

    async def handler(reader, writer):
        await read_request(reader)
        # Cut mid-character, mid-header and mid-chunk-size, a little at a time.
        for start in range(0, len(wire), 7):
            writer.write(wire[start : start + 7])
            await writer.drain()
            await asyncio.sleep(0)
        writer.close()

    url = await serve(handler)
    async with client() as http:
        assert b"".join(await streamed(http, url)) == b"".join(pieces)


async def test_a_body_larger_than_the_buffer_read_slowly_arrives_intact(
    serve, monkeypatch
):
    body = bytes(range(256)) * (4 * network.MAX_BUFFERED // 256)
    most_buffered = 0
    data_received = network._Connection.data_received

    def measured(connection, data):
        nonlocal most_buffered
        data_received(connection, data)
        most_buffered = max(most_buffered, len(connection.buffer))

    monkeypatch.setattr(network._Connection, "data_received", measured)

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
        writer.write(body)
        await writer.drain()
        writer.close()

    url = await serve(handler)
    received = bytearray()
    async with client() as http, http.stream("GET", url) as response:
        async for chunk in response.aiter_raw():
            received += chunk
            await asyncio.sleep(0.001)  # a reader slower than loopback
    assert received == body
    # The rest waited in the kernel, not in the process's memory.
    assert most_buffered < 2 * network.MAX_BUFFERED


async def test_tls_is_verified_and_streams(serve):
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    pieces = [b"data: one\n\n", b"data: two\n\n"]

    async def handler(reader, writer):
        await read_request(reader)
        for part in [STREAM_HEAD, *chunked(*pieces)]:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()

    url = await serve(handler, tls=server_tls)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=5)
    transport = network.HTTPTransport(limits=limits)
    # The site's transport verifies against certifi; this one trusts the test CA.
    transport._pool._ssl_context = trusting
    async with httpx.AsyncClient(transport=transport) as http:
        assert await streamed(http, url) == pieces
    # And a certificate nobody vouched for is refused.
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_a_server_that_breaks_off_mid_stream_is_an_error_not_an_end(serve):
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(STREAM_HEAD + chunked(b"data: partial\n\n")[0])
        await writer.drain()
        writer.transport.abort()  # a reset, not a clean end of the body

    url = await serve(handler)
    received = []
    async with client() as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            async with http.stream("GET", url) as response:
                async for chunk in response.aiter_raw():
                    received.append(chunk)
    assert received == [b"data: partial\n\n"]


async def test_nobody_listening_is_a_connect_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_kept_alive_connection_the_server_closed_is_not_reused(serve):
    connections = 0

    async def handler(reader, writer):
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # the server's keep-alive ends before the client's

    url = await serve(handler)
    async with client() as http:
        assert (await http.get(url)).text == "ok"
        await asyncio.sleep(0.2)
        assert (await http.get(url)).text == "ok"
    assert connections == 2


async def test_a_slow_server_trips_the_read_timeout(serve):
    async def handler(reader, writer):
        await read_request(reader)
        await asyncio.sleep(1)
        writer.close()

    url = await serve(handler)
    async with client(timeout=httpx.Timeout(5, read=0.1)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url)


async def test_an_idle_connection_is_reused_while_many_streams_are_open(serve):
    connections = 0
    release = asyncio.Event()

    async def handler(reader, writer):
        nonlocal connections
        connections += 1
        while True:
            try:
                head = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            if b"/long" in head:
                writer.write(STREAM_HEAD + chunked(b"data: hi\n\n")[0])
                await writer.drain()
                await release.wait()
                writer.write(chunked()[-1])
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    url = await serve(handler)
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=2)
    transport = network.HTTPTransport(limits=limits)
    async with httpx.AsyncClient(transport=transport) as http:
        long = http.build_request("GET", f"{url}/long")
        streams = [await http.send(long, stream=True) for _ in range(6)]
        # More connections open than the keep-alive limit, but one of them idle:
        # the short requests one after another take turns on it.
        for _ in range(5):
            assert (await http.get(f"{url}/short")).text == "ok"
        release.set()
        for stream in streams:
            await stream.aread()
            await stream.aclose()
    assert connections == 6 + 1


async def test_requests_past_the_connection_limit_wait_their_turn(serve):
    open_now = most_open = served = 0

    async def handler(reader, writer):
        nonlocal open_now, most_open, served
        open_now += 1
        most_open = max(most_open, open_now)
        try:
            while True:
                try:
                    await read_request(reader)
                except asyncio.IncompleteReadError:
                    break
                await asyncio.sleep(0.02)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
                served += 1
        finally:
            open_now -= 1
            writer.close()

    url = await serve(handler)
    limits = httpx.Limits(max_connections=3, max_keepalive_connections=3)
    transport = network.HTTPTransport(limits=limits)
    async with httpx.AsyncClient(transport=transport) as http:
        answers = await asyncio.gather(*(http.get(url) for _ in range(12)))
    assert [answer.text for answer in answers] == ["ok"] * 12
    assert served == 12
    assert most_open == 3
