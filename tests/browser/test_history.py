"""The conversation history in the sidebar: search, rename, pin, archive, restore,
delete with undo, endless scrolling, and every change showing live in a second tab."""

from __future__ import annotations

import json
import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import sign_in
from tests.browser.servers import SiteServer, manage

# Creates conversations for `username` straight in the database (the search index
# follows through its triggers), `days` old; prints [[conversation id, answer id]].
SEED = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from conversations.models import Conversation, Message
owner = get_user_model().objects.get(username={username!r})
made = []
for title, answer, days in {rows!r}:
    c = Conversation.objects.create(
        owner=owner, model="MiniMax-M1", dialect="v2", title=title
    )
    Message.objects.create(conversation=c, role="user", sender_name="me",
                           content="Tell me about " + title)
    reply = Message.objects.create(conversation=c, role="assistant",
                                   sender_name="MiniMax", content=answer,
                                   status="complete")
    when = timezone.now() - timedelta(days=days)
    Conversation.objects.filter(pk=c.pk).update(updated_at=when)
    Message.objects.filter(conversation=c).update(created_at=when)
    made.append([c.pk, reply.pk])
print(json.dumps(made))
"""


def seed(server: SiteServer, username: str, rows) -> list[list[int]]:
    server.ensure_user(username)
    out = manage(server.env, "shell", "-c", SEED.format(username=username, rows=rows))
    return json.loads(out.strip().splitlines()[-1])


def entry(page: Page, conversation_id: int):
    return page.locator(f'[data-testid="conversation"][data-id="{conversation_id}"]')


def open_menu(page: Page, conversation_id: int, action: str) -> None:
    row = entry(page, conversation_id)
    row.hover()
    row.get_by_test_id("conversation-menu").click()
    page.get_by_test_id(f"menu-{action}").click()


def two_tabs(context: BrowserContext, server: SiteServer, username: str, path="/"):
    first = sign_in(context.new_page(), server, username)
    first.goto(f"{server.url}{path}")
    second = context.new_page()
    second.goto(f"{server.url}/")
    # Both live sockets are open once the pages have run their scripts.
    for page in (first, second):
        expect(page.get_by_test_id("history-list")).to_be_visible()
        page.wait_for_load_state("networkidle")
    return first, second


def test_search_finds_a_word_from_an_old_answer_and_opens_that_message(
    page: Page, chat_server: SiteServer
):
    made = seed(
        chat_server,
        "hist-search",
        [
            ("Airships", "The Zeppelinfahrt of 1929 went round the world.", 90),
            ("Lighthouses", "A Fresnel lens focuses the beam.", 3),
            ("学习三星堆正确拍照姿势", "三星堆的青铜面具要侧光拍。", 40),
        ],
    )
    (airship, answer), _, (sanxingdui, _) = made
    sign_in(page, chat_server, "hist-search")
    page.goto(f"{chat_server.url}/c/{made[1][0]}/")

    page.keyboard.press("Control+k")
    box = page.get_by_test_id("search")
    expect(box).to_be_focused()
    box.fill("zeppelinfahrt")
    result = page.get_by_test_id("search-result")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text("Zeppelinfahrt")
    expect(result).to_contain_text("The Zeppelinfahrt of 1929 went round the world.")
    # Chinese has no spaces: a word inside the title and the answer is found too.
    box.fill("三星堆")
    expect(page.get_by_test_id("search-result").first).to_be_visible()
    expect(page.locator('[data-testid="search-result"] mark').first).to_have_text(
        "三星堆"
    )
    first_hit = page.get_by_test_id("search-result").first
    assert f"/c/{sanxingdui}/" in first_hit.get_attribute("href")

    box.fill("zeppelinfahrt")
    expect(page.get_by_test_id("search-result")).to_have_count(1)
    page.get_by_test_id("search-result").click()

    expect(page).to_have_url(re.compile(rf"/c/{airship}/#message-{answer}$"))
    message = page.locator(f'[data-testid="message"][data-id="{answer}"]')
    expect(message).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(message).to_be_in_viewport()


def test_rename_pin_archive_and_restore_show_live_in_a_second_tab(
    context: BrowserContext, chat_server: SiteServer
):
    ((chat, _),) = seed(chat_server, "hist-live", [("Old name", "Answer.", 2)])
    first, second = two_tabs(context, chat_server, "hist-live", f"/c/{chat}/")

    # Rename: a double-click on the open conversation, Esc cancels, Enter saves.
    entry(first, chat).locator(".title").dblclick()
    rename = first.get_by_test_id("rename-input")
    rename.fill("Never saved")
    rename.press("Escape")
    expect(entry(first, chat).locator(".title")).to_have_text("Old name")
    entry(first, chat).locator(".title").dblclick()
    first.get_by_test_id("rename-input").fill("Trip to 杭州")
    first.get_by_test_id("rename-input").press("Enter")
    expect(entry(first, chat).locator(".title")).to_have_text("Trip to 杭州")
    expect(entry(second, chat).locator(".title")).to_have_text("Trip to 杭州")
    # And from the menu.
    open_menu(second, chat, "rename")
    second.get_by_test_id("rename-input").fill("Trip to Hangzhou")
    second.get_by_test_id("rename-input").press("Enter")
    expect(entry(first, chat).locator(".title")).to_have_text("Trip to Hangzhou")

    # Pin: on top, under "Pinned", in both tabs.
    open_menu(first, chat, "pin")
    for page in (first, second):
        pinned = page.locator('[data-group="pinned"] [data-testid="conversation"]')
        expect(pinned).to_have_attribute("data-id", str(chat))

    # Archive: it leaves the list of both tabs and waits in "Archived".
    open_menu(first, chat, "archive")
    expect(entry(first, chat)).to_have_count(0)
    expect(entry(second, chat)).to_have_count(0)
    first.get_by_test_id("archived-view").click()
    expect(entry(first, chat)).to_be_visible()

    # Restore from the archived view: back in the other tab's list, live.
    open_menu(first, chat, "restore")
    expect(entry(first, chat)).to_have_count(0)
    expect(entry(second, chat)).to_be_visible()
    expect(entry(second, chat).locator(".title")).to_have_text("Trip to Hangzhou")


def test_an_archived_conversation_opened_by_url_offers_restore(
    page: Page, chat_server: SiteServer
):
    ((chat, _),) = seed(chat_server, "hist-banner", [("Shelved", "Answer.", 1)])
    sign_in(page, chat_server, "hist-banner")
    page.goto(f"{chat_server.url}/")
    open_menu(page, chat, "archive")
    expect(entry(page, chat)).to_have_count(0)

    page.goto(f"{chat_server.url}/c/{chat}/")
    banner = page.get_by_test_id("archived-banner")
    expect(banner).to_be_visible()
    expect(page.locator("#archive")).to_be_hidden()
    banner.get_by_test_id("archived-restore").click()

    expect(banner).to_be_hidden()
    expect(entry(page, chat)).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("archived-banner")).to_be_hidden()


def test_delete_can_be_undone_and_then_deletes_for_real(
    context: BrowserContext, chat_server: SiteServer
):
    (keep, _), (doomed, _) = seed(
        chat_server, "hist-delete", [("Keep me", "A.", 1), ("Delete me", "B.", 2)]
    )
    first, second = two_tabs(context, chat_server, "hist-delete")

    # Cancel in the confirmation: nothing happens.
    open_menu(first, doomed, "delete")
    first.get_by_test_id("confirm-cancel").click()
    expect(entry(first, doomed)).to_be_visible()

    # Delete, then undo: back, and the other tab never lost it.
    open_menu(first, doomed, "delete")
    first.get_by_test_id("confirm-delete").click()
    expect(entry(first, doomed)).to_have_count(0)
    toast = first.get_by_test_id("undo-toast")
    expect(toast).to_be_visible()
    toast.get_by_test_id("undo").click()
    expect(entry(first, doomed)).to_be_visible()
    expect(toast).to_have_count(0)
    first.wait_for_timeout(7000)
    expect(entry(second, doomed)).to_be_visible()
    assert first.request.get(f"{chat_server.url}/api/conversations/{doomed}/").ok

    # Delete and let the toast run out: gone in both tabs and on the server.
    open_menu(first, doomed, "delete")
    first.get_by_test_id("confirm-delete").click()
    expect(first.get_by_test_id("undo-toast")).to_be_visible()
    expect(first.get_by_test_id("undo-toast")).to_have_count(0, timeout=10_000)
    expect(entry(second, doomed)).to_have_count(0)
    response = first.request.get(f"{chat_server.url}/api/conversations/{doomed}/")
    assert response.status == 404
    expect(entry(second, keep)).to_be_visible()


def test_leaving_the_page_during_the_undo_still_deletes(
    page: Page, chat_server: SiteServer
):
    ((doomed, _),) = seed(chat_server, "hist-leave", [("Going", "A.", 1)])
    sign_in(page, chat_server, "hist-leave")
    page.goto(f"{chat_server.url}/")
    open_menu(page, doomed, "delete")
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_test_id("undo-toast")).to_be_visible()

    page.goto(f"{chat_server.url}/login/")  # leaves the page: pagehide sends it

    def gone() -> bool:
        url = f"{chat_server.url}/api/conversations/{doomed}/"
        return page.request.get(url).status == 404

    for _ in range(30):
        if gone():
            break
        page.wait_for_timeout(100)
    assert gone()


def test_select_several_and_archive_them(context, chat_server: SiteServer):
    made = seed(
        chat_server,
        "hist-bulk",
        [("One", "A.", 1), ("Two", "B.", 2), ("Three", "C.", 3)],
    )
    first, second = two_tabs(context, chat_server, "hist-bulk")
    first.get_by_test_id("select-mode").click()
    for conversation_id, _ in made[:2]:
        entry(first, conversation_id).get_by_test_id("select-conversation").check()
    expect(first.get_by_test_id("selection-bar")).to_contain_text("2")

    first.get_by_test_id("archive-selected").click()

    for conversation_id, _ in made[:2]:
        expect(entry(second, conversation_id)).to_have_count(0)
    expect(entry(second, made[2][0])).to_be_visible()


def test_the_list_loads_more_as_it_is_scrolled(page: Page, chat_server: SiteServer):
    rows = [(f"Conversation {n:02d}", "A.", n * 0.5) for n in range(55)]
    made = seed(chat_server, "hist-scroll", rows)
    sign_in(page, chat_server, "hist-scroll")
    page.goto(f"{chat_server.url}/")
    listed = page.get_by_test_id("conversation")
    expect(listed).to_have_count(40)
    oldest = entry(page, made[-1][0])
    expect(oldest).to_have_count(0)

    page.locator("#sidebar").evaluate("(bar) => { bar.scrollTop = bar.scrollHeight; }")

    expect(listed).to_have_count(55)
    expect(oldest).to_be_visible()
    ids = listed.evaluate_all("(rows) => rows.map((r) => r.dataset.id)")
    assert len(set(ids)) == 55
