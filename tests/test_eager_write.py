"""Frames go to the socket at once, and none is lost or reordered when the socket
is full (chatsite/eager_write.py, over Twisted's own TCP connection)."""

import socket

import pytest
from twisted.internet import tcp
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from chatsite import eager_write


class RecordingReactor:
    """Stands in for the reactor: records who waits to write."""

    def __init__(self) -> None:
        self.writers: set = set()

    def addWriter(self, writer) -> None:  # Twisted's names
        self.writers.add(writer)

    def removeWriter(self, writer) -> None:
        self.writers.discard(writer)


@pytest.fixture
def pair():
    """A Twisted TCP connection over one end of a socket pair, writing eagerly."""
    ours, theirs = socket.socketpair()
    # Small buffers, so that a large write fills them.
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reactor = RecordingReactor()
    connection = tcp.Connection(ours, protocol=None, reactor=reactor)
    connection.connected = True
    previous = tcp.Connection.write
    eager_write.install()
    yield connection, theirs, reactor
    tcp.Connection.write = previous
    ours.close()
    theirs.close()


def read_available(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    chunks = []
    while True:
        try:
            chunk = peer.recv(65536)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_frame_to_an_idle_socket_is_sent_without_the_reactor(pair):
    connection, peer, reactor = pair

    connection.write(b"\x81\x05hello")

    assert read_available(peer) == b"\x81\x05hello"
    assert reactor.writers == set()


@implementer(IPushProducer)
class Channel:
    """A streaming producer, as Twisted's HTTP channel registers on its socket."""

    def __init__(self) -> None:
        self.paused = False

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        pass


def test_a_websocket_upgraded_from_http_is_written_at_once_too(pair):
    connection, peer, reactor = pair
    connection.registerProducer(Channel(), True)

    connection.write(b"frame")

    assert read_available(peer) == b"frame"
    assert reactor.writers == set()


def test_a_paused_producer_waits_for_the_buffer_to_drain(pair):
    connection, peer, reactor = pair
    channel = Channel()
    connection.registerProducer(channel, True)
    big = b"x" * (4 * connection.bufferSize)

    connection.write(big)
    connection.write(b"tail")

    # Paused by the buffered path, as Twisted does; resumed once it drains.
    assert channel.paused
    received = [read_available(peer)]
    while reactor.writers:
        connection.doWrite()
        received.append(read_available(peer))
    assert b"".join(received) == big + b"tail"
    assert not channel.paused


def test_what_a_full_socket_does_not_take_is_sent_later_in_order(pair):
    connection, peer, reactor = pair
    big = bytes(range(256)) * 4096  # 1 MiB: far more than the buffers hold

    connection.write(big)
    # Buffered behind the rest: sending it now would put it first.
    connection.write(b"tail")

    assert reactor.writers == {connection}
    received = [read_available(peer)]
    assert 0 < len(received[0]) < len(big)
    while reactor.writers:
        assert connection.doWrite() is None
        received.append(read_available(peer))
    assert b"".join(received) == big + b"tail"


def test_a_write_after_the_socket_broke_does_not_raise(pair):
    connection, peer, reactor = pair
    peer.close()

    connection.write(b"lost")

    # Left to the reactor, which meets the error and closes the connection.
    assert reactor.writers == {connection}
    assert connection.doWrite() is not None
