"""The API key canary: the site runs with a key nobody else has, against the
simulator over HTTP, and no form of it appears in anything the site shows or logs.

Replies in every dialect (one whose upstream error echoes the key in five forms),
speech clips, the review queue and every admin page are produced first; then every
page and API answer of the run (users' and staff's), every websocket frame, every
export and the daphne log are searched for the key as sent, lower- and upper-cased,
shortened, URL-encoded and base64-encoded.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

from playwright.sync_api import Browser, Page, expect

from conversations.minimax.redact import redact
from conversations.minimax.simulator.hostile import key_echo
from tests.browser.attacks import api
from tests.browser.chat import messages, send
from tests.browser.conftest import CANARY_KEY, sign_in
from tests.browser.servers import SiteServer, manage

REPLY_TIMEOUT_MS = 20_000
PROMPTS = [
    "Tell me about rivers.",
    "Tell me about rivers. [sim:echo-key]",
    "Tell me about lakes. [sim:error=1004]",
    "Tell me about seas. [sim:flag-output]",
]
DIALECTS = [
    {"model": "MiniMax-M1", "dialect": "v2"},
    {"model": "MiniMax-M2.7", "dialect": "chat"},
    {"model": "abab6.5s-chat", "dialect": "pro"},
]


def canary_forms(key: str = CANARY_KEY) -> dict[str, str]:
    """Return each form of the key to search for (compared lower-cased)."""
    forms = {
        "as sent": key,
        "start": key[:12],
        "end": key[-12:],
        "middle": key[10:22],
        "url-encoded": quote(key, safe=""),
    }
    for prefix in ("", "Bearer ", ":"):
        encoded = base64.b64encode(f"{prefix}{key}".encode()).decode()
        # A piece from the middle: the same whatever comes before or after it.
        forms[f"base64 {prefix!r}"] = encoded[12:32]
        forms[f"base64url {prefix!r}"] = encoded[12:32].replace("+", "-")
    return forms


def leaks(text: str, where: str) -> list[str]:
    lowered = text.lower()
    return [
        f"{where}: {name}"
        for name, form in canary_forms().items()
        if form.lower() in lowered
    ]


def test_the_search_finds_every_form_the_upstream_echoes():
    """The check can fail: each form of the simulator's echo is found."""
    echo = key_echo(CANARY_KEY)
    found = leaks(echo, "echo")
    for name in ("as sent", "start", "end", "middle", "base64 'Bearer '"):
        assert f"echo: {name}" in found
    assert leaks(redact(echo, CANARY_KEY), "redacted") == []


def wait_for_replies(page: Page, count: int) -> None:
    replies = messages(page, "assistant")
    expect(replies).to_have_count(count, timeout=REPLY_TIMEOUT_MS)
    expect(replies.nth(count - 1)).not_to_have_attribute(
        "data-status", "streaming", timeout=REPLY_TIMEOUT_MS
    )


def make_superuser(server: SiteServer, username: str) -> str:
    server.ensure_user(username)
    manage(
        server.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.filter(username={username!r})"
        ".update(is_staff=True, is_superuser=True)",
    )
    return username


def visit(page: Page, url: str, seen: dict[str, str]) -> None:
    """Open a page (its source and its DOM once its scripts ran) or fetch an API
    answer or a download, as the page's user; remember all of it and the headers."""
    if "/api/" in url:
        response = page.request.get(url)
        status, body = response.status, response.text()
    else:
        response = page.goto(url)
        status, body = response.status, response.text() + page.content()
    assert status < 500, (url, status)
    seen[url] = body + str(response.headers)


def test_no_form_of_the_key_reaches_a_page_frame_export_or_log(
    browser: Browser, attack_server: SiteServer
):
    base = attack_server.url
    log_start = attack_server.process.log_size()
    context = browser.new_context()
    frames: list[str] = []

    def on_socket(socket) -> None:
        socket.on("framereceived", lambda payload: frames.append(str(payload)))
        socket.on("framesent", lambda payload: frames.append(str(payload)))

    seen: dict[str, str] = {}
    try:
        page = sign_in(context.new_page(), attack_server, "canary-ada")
        page.on("websocket", on_socket)
        conversation_ids = []
        for settings in DIALECTS:
            created = api(page, "POST", f"{base}/api/conversations/", settings)
            conversation_ids.append(created["id"])
            page.goto(f"{base}/c/{created['id']}/")
            for count, prompt in enumerate(PROMPTS, start=1):
                send(page, prompt)
                wait_for_replies(page, count)
        # The echoing error is on the page, with the vendor's words and no key.
        expect(page.get_by_test_id("error").first).to_contain_text("invalid params")
        voices = [{"voice_id": "female-shaonv", "weight": 1}]
        clip_ids = [
            api(page, "POST", f"{base}/api/speech/", {"text": t, "voices": voices})[
                "id"
            ]
            for t in ("Hello there.", "Hello there. [sim:echo-key]")
        ]
        page.goto(f"{base}/speech/")
        expect(
            page.locator('[data-testid="clip"][data-status="pending"]')
        ).to_have_count(0, timeout=REPLY_TIMEOUT_MS)
        assert frames, "the websocket frames were seen"

        user_urls = [
            "/",
            *(f"/c/{n}/" for n in conversation_ids),
            "/speech/",
            "/account/password/",
            "/api/conversations/",
            *(f"/api/conversations/{n}/" for n in conversation_ids),
            *(
                f"/api/conversations/{n}/export?format={f}"
                for n in conversation_ids
                for f in ("md", "json")
            ),
            "/api/export/?format=json",
            "/api/export/?format=md",
            "/api/search/?q=rivers",
            "/api/search/?q=invalid&reasoning=1",
            "/api/speech/",
            *(f"/api/speech/{n}/" for n in clip_ids),
            "/api/speech/blends/",
            "/c/999999/",
            "/api/conversations/999999/",
        ]
        for url in user_urls:
            visit(page, f"{base}{url}", seen)

        # Staff: every admin page there is, and each list's first object.
        admin = context.browser.new_context()
        try:
            staff = sign_in(admin.new_page(), attack_server, "canary-root")
            make_superuser(attack_server, "canary-root")
            visit(staff, f"{base}/admin/", seen)
            lists = sorted(
                {
                    href
                    for href in staff.locator("#content-main a").evaluate_all(
                        "(links) => links.map((a) => a.getAttribute('href'))"
                    )
                    if href and re.fullmatch(r"/admin/\w+/\w+/", href)
                }
            )
            assert len(lists) >= 6, lists
            for href in lists:
                visit(staff, f"{base}{href}", seen)
                first = staff.locator("#result_list tbody tr th a").first
                if first.count():
                    visit(staff, f"{base}{first.get_attribute('href')}", seen)
            visit(staff, f"{base}/admin/review/reviewitem/overview/", seen)
            visit(staff, f"{base}/admin/conversations/message/?q=invalid", seen)
        finally:
            admin.close()
        visitor = context.browser.new_context()
        try:
            for url in ("/login/", "/signup/", "/setup/"):
                visit(visitor.new_page(), f"{base}{url}", seen)
        finally:
            visitor.close()
    finally:
        context.close()

    assert len(seen) >= 30, sorted(seen)
    found = [leak for url, body in seen.items() for leak in leaks(body, url)]
    found += [leak for frame in frames for leak in leaks(frame, "a websocket frame")]
    log = attack_server.process.log(log_start)
    found += leaks(log, "the daphne log")
    assert found == []
    # The run did what it was meant to: the upstream echoed the key and failed.
    assert "invalid params, api key ***" in "".join(frames)
    print(
        f"canary: {len(seen)} URLs, {len(frames)} frames, {len(log)} log bytes, "
        f"{len(canary_forms())} forms searched"
    )
