"""The review queue in the admin: who may see it, deciding, the item page, the chart."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Conversation, Message
from review.models import ReviewDecision, ReviewItem, ReviewStatus
from review.services import do_decide, record_reply

pytestmark = pytest.mark.django_db

QUEUE = "/admin/review/reviewitem/"
OVERVIEW = "/admin/review/reviewitem/overview/"


@pytest.fixture
def reviewer(django_user_model):
    """A staff member in the Reviewers group the migration made."""
    user = django_user_model.objects.create_user(
        "rita", password="rita-pass-1", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Reviewers"))
    return user


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


def turn(conversation, role: str, content: str, *, parent="last", **fields):
    """Store a message under the conversation's newest one (or `parent`), as the
    chat does: each message links to the turn it follows."""
    if parent == "last":
        parent = conversation.messages.order_by("-id").first()
    message = Message(
        conversation=conversation, role=role, content=content, parent=parent, **fields
    )
    message.is_root = parent is None  # an edited first turn starts its own branch
    message.save()
    Conversation.objects.filter(pk=conversation.pk).update(active_leaf=message)
    return message


def flag(conversation, text: str, kind: int = 3, *, refused: int | None = None):
    """Store a user turn and a flagged (or refused) reply; return its items."""
    turn(conversation, "user", text)
    fields = {"error_code": refused, "status": "error"} if refused else {}
    if not refused:
        fields.update(output_sensitive=True, output_sensitive_type=kind)
    reply = turn(
        conversation,
        "assistant",
        f"Reply to {text}" if not refused else "",
        **fields,
    )
    return record_reply(reply)


# --- who may see it ---------------------------------------------------------------


def test_other_staff_get_403_and_visitors_the_login(
    client, conversation, django_user_model
):
    [item] = flag(conversation, "secret flagged words")
    staff = django_user_model.objects.create_user(
        "sam", password="sam-pass-1", is_staff=True
    )

    anonymous = client.get(QUEUE)
    client.force_login(staff)
    pages = [QUEUE, f"{QUEUE}{item.pk}/change/", OVERVIEW]
    responses = [client.get(url) for url in pages]
    index = client.get("/admin/")

    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert "secret flagged words" not in index.content.decode()
    assert "review-queue-link" not in index.content.decode()


def test_reviewers_see_the_queue_linked_from_the_index_with_the_count(
    reviewer_client, conversation
):
    flag(conversation, "one")
    flag(conversation, "two")

    index = reviewer_client.get("/admin/").content.decode()

    assert "2 messages waiting for review" in index
    assert f"{QUEUE}?status__exact=waiting" in index


# --- the queue --------------------------------------------------------------------


def test_queue_rows_name_the_type_and_filter_by_it(reviewer_client, conversation):
    flag(conversation, "buy now", kind=3)
    flag(conversation, "you idiot", kind=5)
    flag(conversation, "refused words", refused=1027)

    everything = reviewer_client.get(QUEUE).content.decode()
    abuse_only = reviewer_client.get(QUEUE, {"sensitive_type__exact": 5})

    assert "advertising" in everything and "abuse" in everything
    assert "refused (1027)" in everything
    assert "Reply to you idiot" in abuse_only.content.decode()
    assert "Reply to buy now" not in abuse_only.content.decode()


def test_oldest_waiting_items_come_first(reviewer_client, conversation, reviewer):
    [decided] = flag(conversation, "decided long ago")
    flag(conversation, "newer waiting")
    [older] = flag(conversation, "older waiting")
    ReviewItem.objects.filter(pk=decided.pk).update(
        message_created_at=timezone.now() - timedelta(days=3)
    )
    ReviewItem.objects.filter(pk=older.pk).update(
        message_created_at=timezone.now() - timedelta(days=1)
    )
    do_decide([decided], reviewer, "approve")

    page = reviewer_client.get(QUEUE).content.decode()

    positions = [
        page.index(text) for text in ("older waiting", "newer waiting", "long ago")
    ]
    assert positions == sorted(positions)


def test_bulk_hide_with_a_note_records_one_decision_per_item(
    reviewer_client, conversation, reviewer
):
    items = flag(conversation, "a") + flag(conversation, "b")

    response = reviewer_client.post(
        QUEUE,
        {
            "action": "hide",
            "_selected_action": [item.pk for item in items],
            "note": "spam wave",
            "index": 0,
        },
    )

    assert response.status_code == 302
    decisions = ReviewDecision.objects.order_by("id")
    assert [(d.item_id, d.action, d.note, d.reviewer) for d in decisions] == [
        (item.pk, "hide", "spam wave", reviewer) for item in items
    ]
    assert set(ReviewItem.objects.values_list("status", flat=True)) == {"hidden"}
    assert Message.objects.filter(hidden_at__isnull=False).count() == 2


def test_deciding_from_the_item_page_returns_to_it(reviewer_client, conversation):
    [item] = flag(conversation, "look at me")

    response = reviewer_client.post(
        QUEUE,
        {
            "action": "escalate",
            "_selected_action": [item.pk],
            "note": "ask legal",
            "_return_to_item": "1",
        },
    )

    assert response["Location"] == f"{QUEUE}{item.pk}/change/"
    item.refresh_from_db()
    assert item.status == ReviewStatus.ESCALATED
    page = reviewer_client.get(response["Location"]).content.decode()
    assert "ask legal" in page


def test_the_item_page_shows_the_turns_around_it_flags_and_history(
    reviewer_client, conversation, reviewer
):
    turn(conversation, "user", "before")
    turn(conversation, "assistant", "ok")
    [item] = flag(conversation, "the flagged one")
    turn(conversation, "user", "after")
    do_decide([item], reviewer, "hide", "first look")

    page = reviewer_client.get(f"{QUEUE}{item.pk}/change/").content.decode()

    for text in ("before", "the flagged one", "Reply to the flagged one", "after"):
        assert text in page
    assert "&quot;output_sensitive_type&quot;: 3" in page
    assert "first look" in page
    assert "hidden from the user" in page
    # Read-only: no Save button, and no way to delete.
    assert 'name="_save"' not in page
    assert "/delete/" not in page


def test_the_item_page_reads_the_flagged_reply_on_its_own_branch(
    reviewer_client, conversation
):
    question = turn(conversation, "user", "the question")
    [item] = flag(conversation, "a follow-up")
    turn(conversation, "user", "next on this branch")
    # The user then edits the first question: a new branch, written later.
    turn(conversation, "user", "the question, edited", parent=None)
    turn(conversation, "assistant", "answer on the other branch")

    page = reviewer_client.get(f"{QUEUE}{item.pk}/change/").content.decode()

    assert question.content in page
    assert "Reply to a follow-up" in page
    assert "next on this branch" in page
    assert "the question, edited" not in page
    assert "answer on the other branch" not in page


def test_items_and_decisions_cannot_be_changed_or_deleted_through_the_admin(
    reviewer_client, conversation, reviewer
):
    [item] = flag(conversation, "keep me")
    [decision] = do_decide([item], reviewer, "hide", "original note")
    decision_url = f"/admin/review/reviewdecision/{decision.pk}/"

    attempts = [
        reviewer_client.post(f"{decision_url}change/", {"note": "rewritten"}),
        reviewer_client.post(f"{decision_url}delete/", {"post": "yes"}),
        reviewer_client.post(f"{QUEUE}{item.pk}/change/", {"status": "approved"}),
        reviewer_client.post(f"{QUEUE}{item.pk}/delete/", {"post": "yes"}),
        reviewer_client.post(
            QUEUE,
            {"action": "delete_selected", "_selected_action": [item.pk], "post": 1},
        ),
    ]

    assert [r.status_code for r in attempts[:4]] == [403, 403, 403, 403]
    decision.refresh_from_db()
    item.refresh_from_db()
    assert decision.note == "original note"
    assert item.status == "hidden"
    assert ReviewItem.objects.count() == 1
    queue = reviewer_client.get(QUEUE).content.decode()
    assert "delete_selected" not in queue
    assert reviewer_client.get(decision_url + "change/").status_code == 200


# --- the overview -------------------------------------------------------------------


def test_the_overview_counts_per_day_by_type_in_constant_queries(
    reviewer_client, conversation, django_user_model
):
    def queries_for_overview() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            response = reviewer_client.get(OVERVIEW)
        assert response.status_code == 200
        return len(captured), response.content.decode()

    flag(conversation, "first", kind=2)
    few, _ = queries_for_overview()
    other = Conversation.objects.create(
        owner=django_user_model.objects.create_user("zed"), model="MiniMax-M1"
    )
    for number in range(12):
        flag(
            other if number % 2 else conversation, f"more {number}", kind=number % 7 + 1
        )
    flag(conversation, "refused", refused=1026)
    old = flag(conversation, "too old", kind=4)
    ReviewItem.objects.filter(pk=old[0].pk).update(
        message_created_at=timezone.now() - timedelta(days=40)
    )
    many, page = queries_for_overview()

    assert many == few
    today = timezone.localdate().isoformat()
    assert f'data-day="{today}" data-total="14"' in page
    assert "14 flagged or refused messages" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script
    assert "MiniMax-M1</td><td>6</td>" in page
    assert "zed</td><td>6</td>" in page
