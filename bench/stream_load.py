"""Load the site from outside: N websocket clients streaming replies at once.

    .venv/bin/python -m bench.stream_load --streams 1,10,50,100
    .venv/bin/python -m bench.stream_load --processes 2 --redis --postgres
    .venv/bin/python -m bench.stream_load --streams "" --idle-sockets 1000

It starts, on loopback, a fake MiniMax upstream (bench.fake_upstream: stamped
pieces at a fixed pace), the site under daphne (one or more processes; SQLite and
the in-memory layer, or PostgreSQL and Redis, each a throwaway), and for each N a
round of N clients that each sign in, open a conversation of MiniMax-Text-01 (the
chatcompletion_v2 dialect), send, and rebuild every reply by offset. Beside each
round, N clients read the same pace straight from the upstream: the yardstick the
site's figures are compared with. See bench/README.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.processes import (
    PASSWORD,
    USERNAME,
    Processes,
    prepare_database,
    read_counts,
    read_proc,
    site_env,
)
from bench.wsclient import Closed, HandshakeRefused, WebSocket
from conversations.frames import text_check

STAMP = re.compile(r"<(\d+)@(\d+)>")
MODEL = "MiniMax-Text-01"
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
SETUP_CONCURRENCY = 10


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def skip_units(text: str, units: int) -> str:
    """Return text without its first `units` UTF-16 code units (the overlap)."""
    return text.encode("utf-16-le")[2 * units :].decode("utf-16-le", "replace")


# --- one reply, as a socket sees it -------------------------------------------


@dataclass
class ReplySeen:
    """One reply rebuilt from the frames of one socket, the way chat.js does."""

    key: str
    sent_at: float = 0.0
    message_id: int | None = None
    have: str = ""
    have_units: int = 0
    first_text_at: float | None = None
    last_text_at: float | None = None
    done_at: float | None = None
    done_message: dict[str, Any] | None = None
    frames: int = 0
    deltas: int = 0
    gaps: int = 0
    wire_start: int = 0
    wire_bytes: int = 0
    lateness_ms: list[float] = field(default_factory=list)
    _scan: int = 0

    def apply(self, frame: dict[str, Any], now: float) -> None:
        """Take one frame received at `now` (time.time())."""
        self.frames += 1
        kind = frame.get("type")
        if kind == "message.created":
            message = frame.get("message") or {}
            if message.get("role") == "assistant" and self.message_id is None:
                self.message_id = message.get("id")
        elif kind == "reply.snapshot":
            message = frame.get("message") or {}
            if message.get("id") == self.message_id:
                self._replace(message.get("content") or "")
        elif kind == "reply.delta" and frame.get("message_id") == self.message_id:
            self.deltas += 1
            self._delta(frame.get("text") or "", frame.get("text_offset") or 0, now)
        elif kind == "reply.done":
            message = frame.get("message") or {}
            if message.get("id") == self.message_id:
                self.done_at = now
                self.done_message = message

    def _delta(self, text: str, offset: int, now: float) -> None:
        if not text:
            return
        if self.first_text_at is None:
            self.first_text_at = now
        self.last_text_at = now
        if offset > self.have_units:
            self.gaps += 1  # a frame was lost: a page would ask for a snapshot
            self._append(text)
        elif offset + utf16_length(text) > self.have_units:
            self._append(skip_units(text, self.have_units - offset))
        self._stamps(now)

    def _append(self, text: str) -> None:
        self.have += text
        self.have_units += utf16_length(text)

    def _replace(self, text: str) -> None:
        self.have = text
        self.have_units = utf16_length(text)
        self._scan = len(text)

    def _stamps(self, now: float) -> None:
        """Lateness of every piece whose stamp completed in this frame."""
        now_us = now * 1e6
        end = self._scan
        for match in STAMP.finditer(self.have, self._scan):
            self.lateness_ms.append((now_us - int(match.group(2))) / 1000)
            end = match.end()
        self._scan = end

    @property
    def first_token_ms(self) -> float | None:
        if self.first_text_at is None:
            return None
        return (self.first_text_at - self.sent_at) * 1000

    @property
    def total_s(self) -> float | None:
        return None if self.done_at is None else self.done_at - self.sent_at


# --- the site, from the outside ------------------------------------------------


@dataclass
class Site:
    urls: list[str]
    pids: list[int]
    upstream_url: str
    counts_dir: Path
    logs: list[Path] = field(default_factory=list)
    cookies: dict[str, str] = field(default_factory=dict)
    database_url: str = ""
    # Offer permessage-deflate on every socket, as a browser does.
    deflate: bool = True
    _pg: Any = None

    def pg_sessions(self) -> int | None:
        """PostgreSQL only: sessions ever opened on the site's database.

        Read over one connection of the bench's own, kept open, so the reads add
        none; the server flushes the counter within about a second.
        """
        if not self.database_url.startswith("postgres"):
            return None
        import psycopg

        if self._pg is None:
            self._pg = psycopg.connect(self.database_url, autocommit=True)
        self._pg.execute("select pg_stat_clear_snapshot()")
        row = self._pg.execute(
            "select sessions from pg_stat_database where datname = current_database()"
        ).fetchone()
        return int(row[0])

    def cpu_and_rss(self) -> tuple[float, int]:
        cpu = rss = 0
        for pid in self.pids:
            used, resident = read_proc(pid)
            cpu += used
            rss += resident
        return cpu, rss

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


async def sign_in(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.urls[0], timeout=30) as http:
        await http.get("/login/")
        csrf = http.cookies["csrftoken"]
        form = {"username": USERNAME, "password": PASSWORD}
        form["csrfmiddlewaretoken"] = csrf
        response = await http.post("/login/", data=form)
        if response.status_code != 302 or "sessionid" not in http.cookies:
            raise RuntimeError(f"sign-in failed: HTTP {response.status_code}")
        site.cookies = {"csrftoken": http.cookies["csrftoken"]}
        site.cookies["sessionid"] = http.cookies["sessionid"]


async def bounded(items, work, limit: int = SETUP_CONCURRENCY) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def one(item):
        async with semaphore:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


async def new_conversations(site: Site, count: int) -> list[int]:
    headers = {"X-CSRFToken": site.cookies["csrftoken"], "Cookie": site.cookie_header()}
    async with httpx.AsyncClient(base_url=site.urls[0], timeout=30) as http:

        async def create(_index: int) -> int:
            response = await http.post(
                "/api/conversations/", json={"model": MODEL}, headers=headers
            )
            if response.status_code != 201:
                raise RuntimeError(f"new conversation: HTTP {response.status_code}")
            return response.json()["id"]

        return await bounded(range(count), create)


async def stored_replies(site: Site, conversation_ids: list[int]) -> dict[int, str]:
    """Return {message id: Message} of every assistant message, read over HTTP."""
    headers = {"Cookie": site.cookie_header()}
    stored: dict[int, dict[str, Any]] = {}
    async with httpx.AsyncClient(base_url=site.urls[0], timeout=30) as http:

        async def read(conversation_id: int) -> None:
            response = await http.get(
                f"/api/conversations/{conversation_id}/", headers=headers
            )
            for message in response.json().get("messages", []):
                if message["role"] == "assistant":
                    stored[message["id"]] = message

        await bounded(conversation_ids, read)
    return stored


async def open_socket(site: Site, url: str, conversation_id: int) -> WebSocket:
    host, port = url.removeprefix("http://").split(":")
    headers = {"Origin": url, "Cookie": site.cookie_header()}
    return await WebSocket.connect(
        host,
        int(port),
        f"/ws/conversations/{conversation_id}/",
        headers,
        deflate=site.deflate,
    )


async def upstream_report(site: Site, reset: bool = True) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        query = "?reset=1" if reset else ""
        return (await http.get(f"{site.upstream_url}/sent{query}")).json()


# --- a round of N streams through the site ------------------------------------


@dataclass
class Client:
    """One conversation: the socket that sends, and maybe one that only watches."""

    conversation_id: int
    socket: WebSocket
    watcher: WebSocket | None = None
    replies: list[ReplySeen] = field(default_factory=list)
    watched: list[ReplySeen] = field(default_factory=list)


async def read_until_done(socket: WebSocket, reply: ReplySeen, seconds: float):
    async with asyncio.timeout(seconds):
        while reply.done_at is None:
            frame = await socket.receive_json()
            reply.apply(frame, time.time())
    reply.wire_bytes = socket.wire_bytes - reply.wire_start


def start_delay(index: int, streams: int, args: argparse.Namespace) -> float:
    """Return when client `index` sends its first message: --ramp spreads the N
    clients' first sends evenly over that many seconds, as people arrive."""
    return index * args.ramp / streams


async def converse(
    client: Client, label: str, count: int, seconds: float, delay: float = 0.0
) -> None:
    """Send `count` messages one after another, each read to its reply.done."""
    await asyncio.sleep(delay)
    for number in range(count):
        key = f"{label}-c{client.conversation_id}-r{number}"
        reply = ReplySeen(key, wire_start=client.socket.wire_bytes)
        client.replies.append(reply)
        watched = None
        if client.watcher is not None:
            watched = ReplySeen(key, wire_start=client.watcher.wire_bytes)
            client.watched.append(watched)
        reply.sent_at = time.time()
        if watched is not None:
            watched.sent_at = reply.sent_at
        content = f"Write something long. bench-key:{key}"
        try:
            await client.socket.send_json(
                {"type": "message.send", "content": content, "client_id": key}
            )
        except OSError:
            return  # the server dropped the socket: unfinished
        reads = [read_until_done(client.socket, reply, seconds)]
        if watched is not None:
            reads.append(read_until_done(client.watcher, watched, seconds))
        results = await asyncio.gather(*reads, return_exceptions=True)
        if any(isinstance(result, BaseException) for result in results):
            return  # unfinished: counted as lost below


class Sampler:
    """Sample the daphne processes' resident memory while a round runs."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.peak = 0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.site.cpu_and_rss()[1])
            await asyncio.sleep(0.25)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        if self._task is not None:
            self._task.cancel()


async def site_round(site: Site, streams: int, args: argparse.Namespace) -> dict:
    conversation_ids = await new_conversations(site, streams)
    clients: list[Client] = []
    processes = len(site.urls)

    async def connect(index: int) -> Client:
        conversation_id = conversation_ids[index]
        url = site.urls[index % processes]
        client = Client(conversation_id, await open_socket(site, url, conversation_id))
        if args.watch and processes > 1:
            other = site.urls[(index + 1) % processes]
            client.watcher = await open_socket(site, other, conversation_id)
        return client

    connected = await bounded(range(streams), lambda i: safe(connect(i)), 20)
    clients = [client for client in connected if isinstance(client, Client)]
    try:
        await upstream_report(site)
        await asyncio.sleep(0.6)  # counts flushed: the baseline includes the setup
        counts_before = read_counts(site.counts_dir)
        cpu_before, rss_before = site.cpu_and_rss()
        client_cpu = time.process_time()
        started = time.monotonic()
        label = f"n{streams}"
        with Sampler(site) as sampler:
            work = [
                converse(
                    client,
                    label,
                    args.replies,
                    args.max_seconds,
                    start_delay(index, streams, args),
                )
                for index, client in enumerate(clients)
            ]
            try:
                async with asyncio.timeout(args.max_seconds):
                    await asyncio.gather(*work)
            except TimeoutError:
                pass
        wall = time.monotonic() - started
        client_cpu = time.process_time() - client_cpu
        cpu_after, rss_after = site.cpu_and_rss()
        await asyncio.sleep(0.6)
        counts_after = read_counts(site.counts_dir)
        upstream = await upstream_report(site)
    finally:
        for client in clients:
            await client.socket.close()
            if client.watcher is not None:
                await client.watcher.close()
    drain_s = await wait_idle(site, args.max_seconds)
    stored = await stored_replies(site, conversation_ids)
    writes = {
        verb: counts_after.get(verb, 0) - counts_before.get(verb, 0)
        for verb in WRITE_VERBS
    }
    return summarize_round(
        clients,
        streams=streams,
        args=args,
        wall=wall,
        cpu=cpu_after - cpu_before,
        rss_before=rss_before,
        rss_peak=max(sampler.peak, rss_after),
        writes=writes,
        upstream=upstream,
        stored=stored,
        client_cpu=client_cpu,
        refused=streams - len(clients),
        drain_s=drain_s,
    )


async def wait_idle(site: Site, seconds: float) -> float:
    """Wait until the daphne processes are idle (under 10% of a core for half a
    second): replies still being relayed and saved do not overlap the next round,
    and the database holds their end state. Return how long that took."""
    started = time.monotonic()
    cpu = site.cpu_and_rss()[0]
    while time.monotonic() - started < seconds:
        await asyncio.sleep(0.5)
        now = site.cpu_and_rss()[0]
        if now - cpu < 0.05:
            break
        cpu = now
    await upstream_report(site)
    return time.monotonic() - started


def done_says(message: dict[str, Any], text: str) -> bool:
    """Whether a reply.done stands for `text`: its whole text, or (a long reply)
    its check, as the page compares it (frames.text_check)."""
    check = message.get("check")
    if check is not None:
        return check.get("content") == text_check(text)
    return message.get("content") == text


def summarize_round(clients: list[Client], **round_) -> dict:
    args = round_["args"]
    sent = {key: rec["texts"][0] for key, rec in round_["upstream"]["sent"].items()}
    replies = [reply for client in clients for reply in client.replies]
    watched = [reply for client in clients for reply in client.watched]
    done = [reply for reply in replies if reply.done_at is not None]
    pieces = round_["upstream"]["pieces_sent"]
    expected = round_["streams"] * args.replies
    mismatches = {"rebuilt": 0, "done": 0, "stored": 0, "watcher": 0}
    for reply in done:
        text = sent.get(reply.key)
        if text is None or reply.have != text:
            mismatches["rebuilt"] += 1
        if text is None or not done_says(reply.done_message or {}, text):
            mismatches["done"] += 1
        stored = round_["stored"].get(reply.message_id) or {}
        if text is None or stored.get("content") != text:
            mismatches["stored"] += 1
    # Replies the database holds as complete that their socket never saw end:
    # their reply.done (and maybe their message.created) was lost on the way.
    complete_seen = sum(
        1 for r in done if (r.done_message or {}).get("status") == "complete"
    )
    complete_stored = sum(
        1 for m in round_["stored"].values() if m["status"] == "complete"
    )
    done_lost = complete_stored - complete_seen
    for reply in watched:
        if reply.done_at is None:
            continue  # counted as unfinished
        if sent.get(reply.key) is None or reply.have != sent.get(reply.key):
            mismatches["watcher"] += 1
    statuses: dict[str, int] = {}
    for message in round_["stored"].values():
        statuses[message["status"]] = statuses.get(message["status"], 0) + 1
    lateness = [ms for reply in done for ms in reply.lateness_ms]
    first = [reply.first_token_ms for reply in done if reply.first_token_ms is not None]
    text_bytes = [len(reply.have.encode()) for reply in done]
    wire = [reply.wire_bytes for reply in done]
    writes = sum(round_["writes"].values())
    return {
        "streams": round_["streams"],
        "replies": expected,
        "complete": sum(
            1 for r in done if (r.done_message or {}).get("status") == "complete"
        ),
        "unfinished": expected - len(done),
        "done_lost": done_lost,
        "first_token_ms": dist(first),
        "server_first_token_ms": dist(
            [r.done_message.get("first_token_ms") or 0 for r in done]
        ),
        "lateness_ms": dist(lateness),
        "total_s": dist([reply.total_s for reply in done]),
        # What the end costs: the final save, then reply.done.
        "done_after_text_ms": dist(
            [
                (reply.done_at - reply.last_text_at) * 1000
                for reply in done
                if reply.last_text_at is not None
            ]
        ),
        "frames_per_reply": dist([reply.frames for reply in done]),
        "deltas_per_reply": dist([reply.deltas for reply in done]),
        "wire_bytes_per_reply": dist(wire),
        "wire_per_text": (sum(wire) / sum(text_bytes)) if sum(text_bytes) else None,
        "gaps": sum(r.gaps for r in replies) + sum(r.gaps for r in watched),
        "watcher_unfinished": sum(1 for r in watched if r.done_at is None),
        "mismatches": mismatches,
        "pieces": pieces,
        "cpu_s": round_["cpu"],
        "cpu_us_per_piece": round_["cpu"] * 1e6 / pieces if pieces else None,
        "cpu_pct": 100 * round_["cpu"] / round_["wall"],
        "rss_before_mib": round_["rss_before"] / 2**20,
        "rss_peak_mib": round_["rss_peak"] / 2**20,
        "db_writes": round_["writes"],
        "db_writes_per_reply": writes / len(round_["stored"])
        if round_["stored"]
        else None,
        "stored_statuses": statuses,
        "upstream_lag_max_ms": round_["upstream"]["lag_max_ms"],
        "wall_s": round_["wall"],
        "refused": round_["refused"],
        "drain_s": round_["drain_s"],
        "client_cpu_pct": 100 * round_["client_cpu"] / round_["wall"],
        "loadavg_1m": os.getloadavg()[0],
    }


def dist(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "max": max(values) if values else None,
        "mean": statistics.fmean(values) if values else None,
    }


# --- the same N streams straight from the upstream ----------------------------


async def direct_stream(upstream_url: str, key: str, seconds: float) -> ReplySeen:
    """Read one reply straight from the upstream: what the site is compared with."""
    host, port = upstream_url.removeprefix("http://").split(":")
    reply = ReplySeen(key)
    body = json.dumps(
        {
            "model": MODEL,
            "stream": True,
            "messages": [{"role": "user", "content": f"bench-key:{key}"}],
        }
    ).encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        async with asyncio.timeout(seconds):
            reply.sent_at = time.time()
            writer.write(
                b"POST /v1/text/chatcompletion_v2 HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            await reader.readuntil(b"\r\n\r\n")
            buffer = b""
            while True:
                size = int((await reader.readline()).strip(), 16)
                if size == 0:
                    break
                buffer += (await reader.readexactly(size + 2))[:-2]
                *events, buffer = buffer.split(b"\n\n")
                now = time.time()
                for event in events:
                    choice = json.loads(event[len(b"data: ") :])["choices"][0]
                    text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        reply._delta(text, reply.have_units, now)
            reply.done_at = time.time()
    finally:
        writer.close()
    return reply


async def direct_round(site: Site, streams: int, args: argparse.Namespace) -> dict:
    async def client(index: int) -> list[ReplySeen]:
        seen = []
        await asyncio.sleep(start_delay(index, streams, args))
        for number in range(args.replies):
            key = f"direct-n{streams}-{index}-{number}"
            seen.append(await direct_stream(site.upstream_url, key, args.max_seconds))
        return seen

    results = await asyncio.gather(
        *(client(i) for i in range(streams)), return_exceptions=True
    )
    await upstream_report(site)
    replies = [r for result in results if isinstance(result, list) for r in result]
    return {
        "first_token_ms": dist([r.first_token_ms for r in replies if r.first_token_ms]),
        "lateness_ms": dist([ms for r in replies for ms in r.lateness_ms]),
        "total_s": dist([r.total_s for r in replies if r.total_s is not None]),
        "failed": sum(1 for result in results if isinstance(result, BaseException)),
    }


# --- idle sockets ----------------------------------------------------------------


@dataclass
class IdleSocket:
    socket: WebSocket
    snapshots: int = 0
    task: asyncio.Task | None = None

    async def listen(self) -> None:
        try:
            while True:
                frame = await self.socket.receive_json()
                if frame.get("type") == "reply.snapshot":
                    self.snapshots += 1
        except Closed:
            pass


async def idle_round(site: Site, conversation_ids: list[int], args) -> dict:
    """Open many idle sockets: memory each, and does every one still answer?"""
    count = args.idle_sockets
    await asyncio.sleep(1.0)
    rss_before = site.cpu_and_rss()[1]

    async def connect(index: int) -> IdleSocket:
        url = site.urls[index % len(site.urls)]
        conversation_id = conversation_ids[index % len(conversation_ids)]
        idle = IdleSocket(await open_socket(site, url, conversation_id))
        idle.task = asyncio.get_running_loop().create_task(idle.listen())
        return idle

    started = time.monotonic()
    results = await bounded(range(count), lambda i: safe(connect(i)), 50)
    sockets = [idle for idle in results if isinstance(idle, IdleSocket)]
    connect_s = time.monotonic() - started
    try:
        await asyncio.sleep(2.0)
        rss_open = site.cpu_and_rss()[1]
        before = [idle.snapshots for idle in sockets]
        started = time.monotonic()
        await asyncio.gather(
            *(safe(idle.socket.send_json({"type": "reply.resync"})) for idle in sockets)
        )
        deadline = time.monotonic() + args.max_seconds
        while time.monotonic() < deadline:
            answered = sum(
                1 for i, s in zip(before, sockets, strict=False) if s.snapshots > i
            )
            if answered == len(sockets):
                break
            await asyncio.sleep(0.05)
        answer_s = time.monotonic() - started
    finally:
        for idle in sockets:
            await idle.socket.close()
            if idle.task is not None:
                idle.task.cancel()
    await asyncio.sleep(1.0)
    rss_closed = site.cpu_and_rss()[1]
    cycles = await connect_close_cycles(site, conversation_ids, args.cycles)
    # As many again: memory the first ones left is kept once (a warm pool, the
    # allocator's high-water mark) if these add none, lost per cycle if they do.
    again = await connect_close_cycles(site, conversation_ids, args.cycles)
    return {
        "sockets": count,
        "opened": len(sockets),
        "refused": count - len(sockets),
        "connect_s": connect_s,
        "answered": answered,
        "answer_s": answer_s,
        "rss_before_mib": rss_before / 2**20,
        "rss_open_mib": rss_open / 2**20,
        "kib_per_socket": (rss_open - rss_before) / 1024 / max(len(sockets), 1),
        "rss_closed_mib": rss_closed / 2**20,
        **cycles,
        "cycles_again_growth_kib": again.get("cycles_growth_kib"),
        "cycles_again_failed": again.get("cycles_failed"),
    }


async def safe(work):
    try:
        return await work
    except (HandshakeRefused, OSError, Closed) as error:
        return error


async def connect_close_cycles(site: Site, conversation_ids: list[int], cycles: int):
    """Open and close a socket `cycles` times (10 at once); does memory grow?"""
    if not cycles:
        return {}
    rss_before = site.cpu_and_rss()[1]

    async def cycle(index: int) -> bool:
        url = site.urls[index % len(site.urls)]
        conversation_id = conversation_ids[index % len(conversation_ids)]
        socket = await open_socket(site, url, conversation_id)
        await socket.close()
        return True

    started = time.monotonic()
    results = await bounded(range(cycles), lambda i: safe(cycle(i)), 10)
    took = time.monotonic() - started
    await asyncio.sleep(1.0)
    rss_after = site.cpu_and_rss()[1]
    return {
        "cycles": cycles,
        "cycles_failed": sum(1 for r in results if r is not True),
        "cycles_s": took,
        "cycles_growth_kib": (rss_after - rss_before) / 1024,
    }


# --- the whole run ------------------------------------------------------------------


async def warm_up(site: Site) -> list[int]:
    """One short reply per process: imports, first connections (not measured)."""
    conversation_ids = await new_conversations(site, len(site.urls))
    for url, conversation_id in zip(site.urls, conversation_ids, strict=False):
        socket = await open_socket(site, url, conversation_id)
        reply = ReplySeen("warm-up")
        await socket.send_json(
            {
                "type": "message.send",
                "content": "bench-key:warm-up pieces:20",
                "client_id": "warm",
            }
        )
        await read_until_done(socket, reply, 30)
        await socket.close()
    await upstream_report(site)
    return conversation_ids


async def idle_cpu(site: Site, seconds: float = 3.0) -> float:
    """Return the CPU the daphne processes use doing nothing, % of one core."""
    await asyncio.sleep(1.0)
    before = site.cpu_and_rss()[0]
    await asyncio.sleep(seconds)
    return 100 * (site.cpu_and_rss()[0] - before) / seconds


async def measure(site: Site, args: argparse.Namespace) -> dict:
    await sign_in(site)
    conversation_ids = await warm_up(site)
    results: dict[str, Any] = {"rounds": [], "idle_cpu_pct": await idle_cpu(site)}
    print(
        f"daphne at rest: {results['idle_cpu_pct']:.1f}% of a core "
        f"(all processes, no socket open)",
        flush=True,
    )
    try:
        for streams in args.streams:
            direct = await direct_round(site, streams, args)
            sessions_before = site.pg_sessions()
            through_site = await site_round(site, streams, args)
            through_site["direct"] = direct
            if sessions_before is not None:
                await asyncio.sleep(1.5)  # the server's counters flushed
                opened = site.pg_sessions() - sessions_before
                through_site["pg_new_connections"] = opened
                through_site["pg_new_connections_per_reply"] = opened / max(
                    through_site["replies"], 1
                )
            results["rounds"].append(through_site)
            print(format_round(through_site, args), flush=True)
        if args.idle_sockets:
            # Idle sockets on conversations that have a reply: resync answers.
            idle = await idle_round(site, conversation_ids, args)
            results["idle"] = idle
            print(format_idle(idle), flush=True)
    finally:
        problems = log_problems(site)
        results["log_problems"] = problems
        if problems:
            print("daphne logged:\n  " + "\n  ".join(problems[:12]), flush=True)
    return results


def start_site(procs: Processes, args: argparse.Namespace, work: Path) -> Site:
    counts_dir = work / "counts"
    counts_dir.mkdir()
    upstream_url = args.upstream
    if not upstream_url:
        _child, upstream_url = procs.start_upstream(
            args.pieces, args.gap_ms, args.unicode, args.filler_file
        )
    redis_url = procs.start_redis() if args.redis else ""
    if args.postgres:
        database_url = procs.start_postgres()
    else:
        database_url = f"sqlite:///{work / 'bench.sqlite3'}"
    env = site_env(database_url, redis_url, upstream_url, counts_dir)
    if args.layer_options:
        env["BENCH_LAYER_OPTIONS"] = args.layer_options
    prepare_database(env)
    site = Site(
        [],
        [],
        upstream_url,
        counts_dir,
        database_url=database_url,
        deflate=not args.no_deflate,
    )
    for number in range(args.processes):
        child, url = procs.start_daphne(f"daphne-{number}", env)
        site.urls.append(url)
        site.pids.append(child.popen.pid)
        site.logs.append(child.log_path)
    return site


def log_problems(site: Site) -> list[str]:
    """Return the distinct warning and error lines the daphne processes logged."""
    seen: dict[str, int] = {}
    for path in site.logs:
        for line in path.read_text(errors="replace").splitlines():
            if re.search(r"warning|error|exception|traceback", line, re.I):
                short = re.sub(r"\d+", "N", line.strip())[:160]
                seen[short] = seen.get(short, 0) + 1
    return [f"{count} x {line}" for line, count in seen.items()]


def describe(args: argparse.Namespace) -> str:
    database = "PostgreSQL" if args.postgres else "SQLite"
    layer = "Redis" if args.redis else "in-memory layer"
    return (
        f"{args.processes} daphne process(es), {database}, {layer}; {MODEL} (v2); "
        f"upstream {args.pieces} pieces {args.gap_ms:g} ms apart "
        f"(ideal reply {(args.pieces - 1) * args.gap_ms / 1000:.2f} s); "
        f"{args.replies} replies per client"
        + (f", first sends spread over {args.ramp:g} s" if args.ramp else "")
        + (f"; layer options {args.layer_options}" if args.layer_options else "")
    )


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_round(r: dict, args: argparse.Namespace) -> str:
    direct = r["direct"]
    site_first, direct_first = r["first_token_ms"], direct["first_token_ms"]
    added = [
        None
        if site_first[p] is None or direct_first[p] is None
        else site_first[p] - direct_first[p]
        for p in ("p50", "p95")
    ]
    writes = ", ".join(f"{n} {v}" for v, n in r["db_writes"].items() if n)
    rows = []
    if "pg_new_connections" in r:
        rows.append(
            (
                "PostgreSQL connections",
                f"{r['pg_new_connections']} opened in the round = "
                f"{r['pg_new_connections_per_reply']:.2f} per reply",
            )
        )
    rows += [
        (
            "replies complete",
            f"{r['complete']}/{r['replies']} "
            f"(unfinished {r['unfinished']}, of which complete in the database "
            f"{r['done_lost']}) in {r['wall_s']:.1f} s; sockets "
            f"refused {r['refused']}; site idle again after {r['drain_s']:.1f} s",
        ),
        (
            "first token p50/p95 (ms)",
            f"site {ms(site_first['p50'])}/"
            f"{ms(site_first['p95'])}, direct {ms(direct_first['p50'])}/"
            f"{ms(direct_first['p95'])}, added {ms(added[0])}/{ms(added[1])}",
        ),
        (
            "server first_token_ms p50/p95",
            f"{ms(r['server_first_token_ms']['p50'])}/"
            f"{ms(r['server_first_token_ms']['p95'])}",
        ),
        (
            "piece late p50/p95/max (ms)",
            f"site {ms(r['lateness_ms']['p50'])}/"
            f"{ms(r['lateness_ms']['p95'])}/{ms(r['lateness_ms']['max'])}, direct "
            f"{ms(direct['lateness_ms']['p50'])}/{ms(direct['lateness_ms']['p95'])}",
        ),
        (
            "whole reply p50/p95 (s)",
            f"site {r['total_s']['p50'] or 0:.3f}/{r['total_s']['p95'] or 0:.3f}, "
            f"direct {direct['total_s']['p50'] or 0:.3f}; reply.done after the "
            f"last text {ms(r['done_after_text_ms']['p50'])}/"
            f"{ms(r['done_after_text_ms']['p95'])} ms",
        ),
        (
            "daphne CPU per piece",
            f"{ms(r['cpu_us_per_piece'])} µs "
            f"({r['cpu_pct']:.0f}% of a core, {r['pieces']} pieces)",
        ),
        (
            "frames / wire bytes per reply",
            f"{r['frames_per_reply']['p50']} frames "
            f"({r['deltas_per_reply']['p50']} deltas), "
            f"{r['wire_bytes_per_reply']['p50']} B = "
            f"{r['wire_per_text'] or 0:.2f}x the text",
        ),
        (
            "RSS before / peak (MiB)",
            f"{r['rss_before_mib']:.1f} / {r['rss_peak_mib']:.1f}",
        ),
        ("DB writes per reply", f"{ms(r['db_writes_per_reply'])} ({writes})"),
        (
            "replies in the database",
            ", ".join(f"{n} {status}" for status, n in r["stored_statuses"].items()),
        ),
        (
            "frames lost (offset gaps)",
            f"{r['gaps']}; watcher sockets unfinished {r['watcher_unfinished']}",
        ),
        (
            "text differs from upstream",
            ", ".join(f"{k} {v}" for k, v in r["mismatches"].items()),
        ),
        (
            "noise",
            f"upstream's own lag max {r['upstream_lag_max_ms']:.1f} ms, bench "
            f"client {r['client_cpu_pct']:.0f}% of a core, load average "
            f"{r['loadavg_1m']:.2f}",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"N = {r['streams']} streams:"]
    lines += [f"  {label:<{width}} : {value}" for label, value in rows]
    return "\n".join(lines)


def format_idle(r: dict) -> str:
    lines = [
        f"Idle sockets: {r['opened']}/{r['sockets']} opened in {r['connect_s']:.1f} s "
        f"({r['refused']} refused)",
        f"  answered a reply.resync : {r['answered']}/{r['opened']} "
        f"in {r['answer_s']:.2f} s",
        f"  daphne RSS              : {r['rss_before_mib']:.1f} MiB before, "
        f"{r['rss_open_mib']:.1f} MiB open = {r['kib_per_socket']:.1f} KiB per socket, "
        f"{r['rss_closed_mib']:.1f} MiB after closing",
    ]
    if r.get("cycles"):
        lines.append(
            f"  connect/close cycles    : {r['cycles']} in {r['cycles_s']:.1f} s "
            f"({r['cycles_failed']} failed), RSS growth "
            f"{r['cycles_growth_kib']:.0f} KiB; {r['cycles']} more "
            f"({r['cycles_again_failed']} failed): "
            f"{r['cycles_again_growth_kib']:.0f} KiB"
        )
    return "\n".join(lines)


async def serve(site: Site, seconds: float) -> None:
    print(
        f"Serving: {' '.join(site.urls)} (pids {' '.join(map(str, site.pids))}); "
        f"user {USERNAME} / {PASSWORD}; upstream {site.upstream_url}",
        flush=True,
    )
    await asyncio.sleep(seconds)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--streams",
        default="1,10,50,100",
        help="comma-separated N: one round per N (default 1,10,50,100)",
    )
    parser.add_argument(
        "--replies",
        type=int,
        default=2,
        help="replies per client, one after another (default 2)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="spread the clients' first sends over this many seconds (default 0: "
        "all at once); each client sends again when its reply ends",
    )
    parser.add_argument("--pieces", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    parser.add_argument(
        "--unicode",
        action="store_true",
        help="Chinese and emoji in the pieces (UTF-16 offsets)",
    )
    parser.add_argument(
        "--filler-file",
        default="",
        help="stream this text as the filler (it compresses as a reply does)",
    )
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--redis",
        action="store_true",
        help="a throwaway redis-server as the channel layer",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a throwaway PostgreSQL cluster instead of SQLite",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="with several processes: a second socket per "
        "conversation on the next process, reading every reply",
    )
    parser.add_argument(
        "--layer-options",
        default="",
        metavar="JSON",
        help="merged into the Redis host of the channel layer (bench.settings), "
        "e.g. '{\"socket_timeout\": null}': try a setting before the site has it",
    )
    parser.add_argument("--idle-sockets", type=int, default=0)
    parser.add_argument(
        "--cycles",
        type=int,
        default=None,
        help="connect/close cycles after the idle sockets "
        "(default: as many as --idle-sockets)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="longest a round (or the idle check) may take",
    )
    parser.add_argument(
        "--upstream", default="", help="use this upstream URL instead of starting one"
    )
    parser.add_argument(
        "--serve",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="only start the site, print its URLs, and hold",
    )
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="do not offer permessage-deflate (a browser offers it)",
    )
    parser.add_argument("--json-out", help="append the results as one JSON line")
    args = parser.parse_args(argv)
    args.streams = [int(n) for n in args.streams.split(",") if n.strip()]
    if args.cycles is None:
        args.cycles = args.idle_sockets
    if args.processes > 1 and not args.redis:
        parser.error("--processes above 1 needs --redis (a layer they share)")
    return args


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A TERM ends the run like Ctrl-C: the finally blocks stop every child.
    signal.signal(signal.SIGTERM, interrupt)
    with (
        tempfile.TemporaryDirectory(prefix="chat-load-") as tmp,
        Processes(Path(tmp)) as procs,
    ):
        site = start_site(procs, args, Path(tmp))
        if args.serve:
            asyncio.run(serve(site, args.serve))
            return 0
        print(describe(args), flush=True)
        results = asyncio.run(measure(site, args))
    results["setup"] = describe(args)
    if args.json_out:
        with open(args.json_out, "a") as out:
            out.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
