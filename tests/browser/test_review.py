"""A reviewer filters the queue by type, hides a reply; the owner sees a placeholder.

The screenshots of the queue, the item and the overview are saved beside the
test's temporary files, for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.chat import conversation_path, last_reply, messages, send
from tests.browser.conftest import sign_in
from tests.browser.servers import USER_PASSWORD, SiteServer, manage

PLACEHOLDER = "This message was hidden by a reviewer."
REVIEWER = "rosa"


def make_reviewer(server: SiteServer, username: str = REVIEWER) -> str:
    """Create a staff member in the Reviewers group on server (once)."""
    if username not in server.users:
        code = (
            "from django.contrib.auth import get_user_model; "
            "from django.contrib.auth.models import Group; "
            f"u = get_user_model().objects.create_user({username!r}, "
            f"password={USER_PASSWORD!r}, is_staff=True); "
            "u.groups.add(Group.objects.get(name='Reviewers'))"
        )
        manage(server.env, "shell", "-c", code)
        server.users.add(username)
    return username


def sign_in_to_admin(page: Page, server: SiteServer, username: str) -> None:
    page.goto(f"{server.url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(USER_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    expect(page.locator("#site-name")).to_be_visible()


def wait_for_reply_end(page: Page, count: int) -> None:
    replies = messages(page, "assistant")
    expect(replies).to_have_count(count)
    expect(replies.nth(count - 1)).not_to_have_attribute("data-status", "streaming")


def test_a_reviewer_hides_a_flagged_reply_and_its_owner_sees_the_placeholder(
    browser: Browser, chat_server: SiteServer, tmp_path: Path
):
    owner_context = browser.new_context()
    reviewer_context = browser.new_context()
    try:
        owner = sign_in(owner_context.new_page(), chat_server, "olive")
        owner.goto(f"{chat_server.url}/")
        send(owner, "Where can I buy cheap watches? [sim:flag-output]")
        wait_for_reply_end(owner, 1)
        path = conversation_path(owner)
        flagged_text = last_reply(owner).locator(".body").inner_text()
        assert flagged_text.strip()
        send(owner, "Just saying hello [sim:flag-input]")
        wait_for_reply_end(owner, 2)

        reviewer = reviewer_context.new_page()
        sign_in_to_admin(reviewer, chat_server, make_reviewer(chat_server))
        reviewer.screenshot(path=str(tmp_path / "index.png"), full_page=True)
        expect(reviewer.get_by_test_id("review-queue-link")).to_contain_text(
            re.compile(r"\d+ messages? waiting for review")
        )
        reviewer.get_by_test_id("review-queue-link").get_by_role(
            "link", name=re.compile("waiting for review")
        ).click()
        filters = reviewer.locator("#changelist-filter")
        filters.get_by_role("link", name="advertising", exact=True).click()
        expect(reviewer).to_have_url(re.compile(r"sensitive_type__exact=3"))
        rows = reviewer.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("advertising")
        expect(rows.first).to_contain_text("output, delivered")
        reviewer.screenshot(path=str(tmp_path / "queue.png"), full_page=True)

        item_url = rows.first.locator("th a").get_attribute("href")
        rows.first.locator("input.action-select").check()
        reviewer.locator("select[name=action]").select_option("hide")
        reviewer.locator("input[name=note]").fill("advertising spam")
        reviewer.locator("button[name=index]").click()
        expect(reviewer.locator(".messagelist")).to_contain_text("1 item")
        # The link from the index lists waiting items: this one is decided now.
        expect(rows).to_have_count(0)
        # The owner's open page is told at once.
        expect(messages(owner, "assistant").first).to_contain_text(PLACEHOLDER)

        reviewer.goto(f"{chat_server.url}{item_url}")
        expect(reviewer.get_by_test_id("review-flagged-turn")).to_contain_text(
            "hidden from the user"
        )
        expect(reviewer.locator("body")).to_contain_text("advertising spam")
        reviewer.screenshot(path=str(tmp_path / "item.png"), full_page=True)
        reviewer.goto(f"{chat_server.url}/admin/review/reviewitem/overview/")
        expect(reviewer.get_by_test_id("review-chart")).to_be_visible()
        reviewer.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

        owner.goto(f"{chat_server.url}{path}")
        first_reply = messages(owner, "assistant").first
        expect(first_reply).to_contain_text(PLACEHOLDER)
        expect(owner.locator("body")).not_to_contain_text(flagged_text.strip()[:40])
        # The other flagged message, not decided yet, is still shown.
        expect(messages(owner, "user").last).to_contain_text("Just saying hello")
        print(f"screenshots in {tmp_path}")
    finally:
        owner_context.close()
        reviewer_context.close()
