"""Websocket frames written to the socket at once, not on the reactor's next turn.

Daphne serves over Twisted, whose TCP transport never writes in `write()`: it
buffers the bytes and registers the socket with the reactor, which (on asyncio)
is an epoll_ctl to watch for "writable", a turn of the event loop, the send, and
another epoll_ctl to stop watching. A streaming reply writes one small frame per
socket every 20 ms, so at 50 streams that was 2,500 such round trips a second,
and each frame waited for the loop's next turn behind everything else ready.

`install()` (from chatsite/asgi.py) makes `write()` do what asyncio's own
transports do: when nothing is buffered, send right away; whatever the kernel
does not take (a slow reader, a full socket buffer) is buffered and written by
the reactor as before, in order. It reads Twisted's private buffer fields
(`dataBuffer`, `offset`, `_tempDataLen`, `_writeDisconnected`): Twisted is
pinned in requirements.txt, and tests/test_eager_write.py uses them as a real
connection does, so an upgrade that renames them fails there.
"""

from __future__ import annotations

from twisted.internet import tcp

_buffered_write = tcp.Connection.write


def _write(self: tcp.Connection, data: bytes) -> None:
    if data and _idle(self):
        sent = self.writeSomeData(data)
        # An error (an exception returned) is left to the buffered path: the
        # reactor's doWrite meets it again and closes the connection its way.
        if isinstance(sent, int) and sent > 0:
            if sent == len(data):
                return
            data = data[sent:]
    _buffered_write(self, data)


def _idle(connection: tcp.Connection) -> bool:
    """Whether nothing waits to be written, so sending now keeps the order."""
    return (
        connection.connected
        and not connection.disconnecting
        and not connection._writeDisconnected
        # Twisted's HTTP channel stays registered as a streaming producer: one
        # not paused means the buffer is empty. A pull producer is left alone.
        and (
            connection.producer is None
            or (connection.streamingProducer and not connection.producerPaused)
        )
        and not connection._tempDataLen
        and connection.offset == len(connection.dataBuffer)
    )


def install() -> None:
    """Write eagerly on every TCP connection of this process (idempotent)."""
    tcp.Connection.write = _write
