"""Stream a long reply through the chat websocket, in-process, and print figures.

The whole offline stack runs in this process, as daphne would run it: the ASGI
application from chatsite.asgi (origin check, session auth, the consumer), the reply
service, a fresh SQLite file, and the built-in simulator as an httpx transport (no
API key). A WebsocketCommunicator plays the browser. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import threading
import time
import tracemalloc
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from conversations.frames import text_check

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
LONG_PROMPT = "[sim:long] Tell me about websockets."


def configure_django(db_path: Path, chunk_delay: float) -> None:
    """Point the settings at a fresh SQLite file and the offline simulator; migrate."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        # A throwaway key for a throwaway database.
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="0",
        DJANGO_INSECURE_HTTP="1",
        DATABASE_URL=f"sqlite:///{db_path}",
        MINIMAX_API_KEY="",
        MINIMAX_SIMULATOR_CHUNK_DELAY=str(chunk_delay),
    )
    # One process: the in-memory channel layer, whatever the shell says.
    os.environ.pop("REDIS_URL", None)
    # Whitenoise looks for collected static files; no page is served here.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class StatementCounter:
    """Count SQL statements by verb, on every thread's database connection.

    An execute wrapper (Django's "database instrumentation") sees one connection;
    the service writes from database_sync_to_async threads, so the wrapper is
    attached to each connection as it is created.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.active = False
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        if self.active:
            verb = sql.lstrip().split(None, 1)[0].upper()
            with self._lock:
                self.counts[verb] += 1
        return execute(sql, params, many, context)

    def attach(self, sender=None, connection=None, **kwargs) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def install(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        connection_created.connect(self.attach, weak=False)
        for connection in connections.all():
            self.attach(connection=connection)

    @property
    def writes(self) -> int:
        return sum(self.counts[verb] for verb in WRITE_VERBS)


def signed_in_conversation(model: str) -> tuple[int, str]:
    """Create a user with a session and an empty conversation; return (id, cookie)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from conversations.minimax.catalog import get_model
    from conversations.models import Conversation

    user = get_user_model().objects.create_user("bench", password=None)
    client = Client()
    client.force_login(user)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    conversation = Conversation.objects.create(
        owner=user, model=model, dialect=get_model(model).default_dialect.value
    )
    return conversation.pk, f"{settings.SESSION_COOKIE_NAME}={session_key}"


@dataclass
class ReplyFigures:
    """What one streamed reply looked like from the browser's side of the socket."""

    frames: list[tuple[float, dict]] = field(default_factory=list)
    db_statements: Counter[str] = field(default_factory=Counter)
    peak_memory: int = 0
    total_seconds: float = 0.0

    @property
    def deltas(self) -> list[tuple[float, dict]]:
        return [(t, f) for t, f in self.frames if f["type"] == "reply.delta"]

    @property
    def first_delta_seconds(self) -> float | None:
        for moment, frame in self.deltas:
            if frame.get("text") or frame.get("reasoning"):
                return moment
        return None

    @property
    def max_frames_per_second(self) -> int:
        """Return the most reply.delta frames in any one-second window."""
        moments = [t for t, _ in self.deltas]
        best = 0
        start = 0
        for end, moment in enumerate(moments):
            while moment - moments[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    @property
    def final_message(self) -> dict:
        return self.frames[-1][1]["message"]

    def rebuilt_text(self) -> str | None:
        """Return the reply text put together from the deltas, or None on a gap."""
        text = ""
        for _, frame in self.deltas:
            offset = frame.get("text_offset", len(text))
            if offset > len(text):
                return None
            text = text[:offset] + (frame.get("text") or "")
        return text


async def stream_one(application, path: str, cookie: str, frame_wait: float):
    """Send LONG_PROMPT on a fresh socket and collect frames until reply.done."""
    from channels.testing import WebsocketCommunicator

    communicator = WebsocketCommunicator(
        application,
        path,
        headers=[
            (b"host", b"localhost"),
            (b"origin", b"http://localhost"),
            (b"cookie", cookie.encode()),
        ],
    )
    connected, _ = await communicator.connect(timeout=10)
    if not connected:
        raise RuntimeError(f"the websocket handshake for {path} was refused")
    figures = ReplyFigures()
    try:
        started = time.perf_counter()
        await communicator.send_json_to(
            {"type": "message.send", "content": LONG_PROMPT, "client_id": "bench"}
        )
        while True:
            frame = await communicator.receive_json_from(timeout=frame_wait)
            figures.frames.append((time.perf_counter() - started, frame))
            if frame["type"] == "error":
                raise RuntimeError(f"the server refused the message: {frame}")
            if frame["type"] == "reply.done":
                break
        figures.total_seconds = time.perf_counter() - started
    finally:
        await disconnect(communicator)
    return figures


async def disconnect(communicator) -> None:
    """Close the socket; report (not raise) a consumer that already died.

    The figures are in by then. The communicator re-raises whatever ended the
    consumer's task, and that is worth a line, not a lost run.
    """
    try:
        await communicator.disconnect()
    except (Exception, asyncio.CancelledError) as error:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # Ctrl-C: this run is being cancelled, not the consumer.
        print(f"note: the consumer had ended with {error!r} before the disconnect")


async def measure(
    application, path: str, cookie: str, counter: StatementCounter, frame_wait: float
) -> ReplyFigures:
    counter.counts.clear()
    tracemalloc.start()
    counter.active = True
    try:
        figures = await stream_one(application, path, cookie, frame_wait)
    finally:
        counter.active = False
        figures_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    figures.db_statements = Counter(counter.counts)
    figures.peak_memory = figures_peak
    return figures


def report(figures: ReplyFigures, number: int) -> str:
    message = figures.final_message
    writes = {verb: figures.db_statements[verb] for verb in WRITE_VERBS}
    first = figures.first_delta_seconds
    rebuilt = figures.rebuilt_text()
    if rebuilt is None:
        rebuilt_verdict = "a gap in the offsets"
    elif rebuilt == message.get("content") or (
        "check" in message and text_check(rebuilt) == message["check"]["content"]
    ):
        # A long reply's reply.done carries a check of its text, not the text.
        rebuilt_verdict = "identical to the stored reply"
    else:
        rebuilt_verdict = "DIFFERENT from the stored reply"
    if "check" in message:
        characters = message["check"]["content"]["length"]
    else:
        characters = len(message["content"])
    rows = [
        (
            "frames received per reply",
            f"{len(figures.frames)} ({len(figures.deltas)} reply.delta)",
        ),
        ("max frames per second", f"{figures.max_frames_per_second} reply.delta"),
        (
            "DB writes during the reply",
            f"{sum(writes.values())} "
            f"({', '.join(f'{n} {v}' for v, n in writes.items() if n)}); "
            f"{sum(figures.db_statements.values())} statements in all",
        ),
        (
            "time to first frame",
            "none" if first is None else f"{first * 1000:.0f} ms (first reply.delta)",
        ),
        ("total time", f"{figures.total_seconds:.2f} s (send to reply.done)"),
        ("peak memory (tracemalloc)", f"{figures.peak_memory / 2**20:.2f} MiB"),
        (
            "reply",
            f"status {message['status']}, {characters:,} characters; "
            f"text rebuilt from the deltas: {rebuilt_verdict}",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    cold = " (cold: includes the process's one-off start-up)" if number == 1 else ""
    lines = [f"Reply {number}{cold}:"]
    lines += [f"  {label:<{width}} : {value}" for label, value in rows]
    return "\n".join(lines)


async def measure_all(
    path: str, cookie: str, counter: StatementCounter, args: argparse.Namespace
) -> None:
    """Stream args.replies replies one after another, printing each one's figures.

    All in one event loop: the shared MiniMax client and the in-memory channel
    layer belong to the loop they were first used in.
    """
    from chatsite.asgi import application

    for number in range(1, args.replies + 1):
        figures = await measure(application, path, cookie, counter, args.timeout)
        print(report(figures, number), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Stream [sim:long] replies (400 chunks) through the websocket.",
    )
    parser.add_argument(
        "--chunk-delay",
        type=float,
        default=0.01,
        help="seconds between simulated chunks (default 0.01; the site's is 0.03)",
    )
    parser.add_argument(
        "--model", default="MiniMax-M2.7", help="catalog model id (MiniMax-M2.7)"
    )
    parser.add_argument(
        "--replies",
        type=int,
        default=2,
        help="how many replies, one after another (default 2: a cold one, a warm one)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="longest wait for one frame (s)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        configure_django(Path(tmp) / "bench.sqlite3", args.chunk_delay)
        conversation_id, cookie = signed_in_conversation(args.model)
        counter = StatementCounter()
        counter.install()
        path = f"/ws/conversations/{conversation_id}/"
        print(
            f"Streaming {args.replies} [sim:long] "
            f"{'reply' if args.replies == 1 else 'replies'} "
            f"from the offline simulator: {args.model}, "
            f"{args.chunk_delay:.3f} s between chunks, in-process chatsite.asgi"
        )
        asyncio.run(measure_all(path, cookie, counter, args))
    return 0
