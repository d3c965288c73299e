"""CPU of reading MiniMax streams through the client: httpcore's anyio sockets
against the site's own (conversations/minimax/network.py).

    .venv/bin/python -m bench.upstream_read --streams 50 --rounds 4

It starts the load bench's fake upstream (bench.fake_upstream, 200 pieces 10 ms
apart), then in this one process streams N replies at once through
`MiniMaxClient`, over one transport and then the other, alternating which goes
first each round (the machine's speed drifts). A round is timed after a warm-up
round on the same client (connections open). Prints, per round and as medians,
the process's CPU time per piece (all threads) and the round's wall time: the
part of the site's CPU per relayed piece that reading the upstream costs, without
the channel layer, the websocket or the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.processes import Processes

KINDS = ("anyio", "site")


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def make_client(kind: str, url: str):
    from conversations.minimax import network
    from conversations.minimax.client import MiniMaxClient

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    if kind == "site":
        transport = network.HTTPTransport(limits=limits)
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits)
    key = "sk-bench-0123456789"
    return MiniMaxClient(api_key=key, base_url=url, transport=transport)


async def stream_one(client, n: int, pieces: int) -> int:
    from conversations.minimax.events import TextDelta
    from conversations.minimax.types import ChatMessage, ChatRequest

    request = ChatRequest(
        model="MiniMax-Text-01",
        messages=[ChatMessage(role="user", content=f"bench-key:r{n} pieces:{pieces}")],
    )
    received = 0
    async for event in client.stream(request):
        received += isinstance(event, TextDelta)
    return received


async def timed_round(
    kind: str, url: str, streams: int, pieces: int
) -> tuple[float, float]:
    """Return (CPU µs per piece, wall seconds) of one round of `streams` at once."""
    client = make_client(kind, url)
    replies = [stream_one(client, n, pieces) for n in range(streams)]
    try:
        await asyncio.gather(*replies)
        cpu, wall = time.process_time(), time.monotonic()
        replies = [stream_one(client, n, pieces) for n in range(streams)]
        counts = await asyncio.gather(*replies)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        await client.aclose()
    return cpu / sum(counts) * 1e6, wall


async def run(url: str, streams: int, rounds: int, pieces: int) -> None:
    figures: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for number in range(rounds):
        order = KINDS if number % 2 == 0 else KINDS[::-1]
        for kind in order:
            per_piece, wall = await timed_round(kind, url, streams, pieces)
            figures[kind].append(per_piece)
            print(f"  round {number + 1} {kind:5}: {per_piece:6.1f} µs/piece", end="")
            print(f", {wall:.2f} s")
    for kind in KINDS:
        values = ", ".join(f"{value:.0f}" for value in sorted(figures[kind]))
        median = statistics.median(figures[kind])
        print(f"{kind:5} sockets: median {median:.1f} µs per piece ({values})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.upstream_read", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--pieces",
        type=int,
        default=200,
        help="pieces per reply; 1 measures what a request costs (default 200)",
    )
    args = parser.parse_args(argv)
    django_setup()
    with tempfile.TemporaryDirectory() as logs, Processes(Path(logs)) as processes:
        _upstream, url = processes.start_upstream(pieces=200, gap_ms=10)
        print(f"{args.streams} streams at once, {args.pieces} pieces 10 ms apart")
        asyncio.run(run(url, args.streams, args.rounds, args.pieces))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
