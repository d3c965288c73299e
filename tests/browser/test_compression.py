"""Frames are compressed for a browser that offers it (chatsite/ws_compression.py).

Chromium offers permessage-deflate on every socket; the server accepts it with a
1 KiB window both ways. A client that does not offer it gets plain frames.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from playwright.sync_api import Page, expect

from bench.wsclient import WebSocket
from tests.browser.chat import conversation_path, last_reply, send
from tests.browser.servers import SiteServer

OPEN_SOCKET = """async (path) => {
  const socket = new WebSocket(`ws://${location.host}${path}`);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("the socket did not open"));
  });
  const extensions = socket.extensions;
  socket.close();
  return extensions;
}"""


def socket_path(page: Page) -> str:
    conversation_id = re.search(r"/c/(\d+)/", conversation_path(page)).group(1)
    return f"/ws/conversations/{conversation_id}/"


def test_chromium_and_the_server_agree_on_permessage_deflate(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    send(page, "Hello there")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")

    extensions = page.evaluate(OPEN_SOCKET, socket_path(page))

    assert extensions.startswith("permessage-deflate")
    assert "client_max_window_bits=10" in extensions


async def stream_one_reply(
    server: SiteServer, path: str, cookie: str, deflate: bool
) -> tuple[WebSocket, list[dict]]:
    host, port = server.url.removeprefix("http://").split(":")
    headers = {"Origin": server.url, "Cookie": cookie}
    socket = await WebSocket.connect(host, int(port), path, headers, deflate=deflate)
    received: list[dict] = []
    try:
        await socket.send_json(
            {"type": "message.send", "content": "Tell me about rivers"}
        )
        while not received or received[-1]["type"] != "reply.done":
            received.append(await asyncio.wait_for(socket.receive_json(), 30))
    finally:
        await socket.close()
    return socket, received


def run_beside_playwright(coroutine):
    """asyncio.run in a thread of its own (Playwright's sync API has this loop)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def rebuilt_text(received: list[dict]) -> str:
    text = ""
    for frame in received:
        if frame["type"] == "reply.delta":
            text = text[: frame["text_offset"]] + frame["text"]
    return text


def test_a_reply_reads_the_same_compressed_in_fewer_bytes(
    signed_in_page: Page, chat_server: SiteServer
) -> None:
    page = signed_in_page
    send(page, "Hello there")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    path = socket_path(page)
    cookie = "; ".join(
        f"{c['name']}={c['value']}" for c in page.context.cookies(chat_server.url)
    )

    plain, plain_frames = run_beside_playwright(
        stream_one_reply(chat_server, path, cookie, deflate=False)
    )
    packed, packed_frames = run_beside_playwright(
        stream_one_reply(chat_server, path, cookie, deflate=True)
    )

    assert plain.extensions == ""
    assert packed.extensions.startswith("permessage-deflate")
    assert packed_frames[-1]["message"]["status"] == "complete"
    # Each reply, rebuilt from its compressed or plain deltas, is the one stored.
    stored = httpx.get(
        f"{chat_server.url}/api{path.removeprefix('/ws')}", headers={"Cookie": cookie}
    ).json()["messages"]
    replies = [m["content"] for m in stored if m["role"] == "assistant"]
    plain_text, packed_text = rebuilt_text(plain_frames), rebuilt_text(packed_frames)
    assert replies[-2:] == [plain_text, packed_text]
    # A simulator reply, as a browser receives it, costs half the bytes or less.
    plain_ratio = plain.wire_bytes / len(plain_text.encode())
    packed_ratio = packed.wire_bytes / len(packed_text.encode())
    assert packed_ratio * 2 < plain_ratio
