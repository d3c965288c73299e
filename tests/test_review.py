"""The review queue: flagged and refused replies become items; decisions hide text.

Replies come from the real client over the simulator (offline_minimax), so the
flags and refusal codes are the ones MiniMax's wire format carries.
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import translation

from conversations import relay, services
from conversations.frames import message_json
from conversations.models import HIDDEN_PLACEHOLDER, Conversation, Message
from conversations.replies import runner
from review.models import Direction, ReviewDecision, ReviewItem, ReviewStatus
from review.sensitivity import SensitiveType
from review.services import do_decide

pytestmark = pytest.mark.django_db(transaction=True)

PLACEHOLDER = str(HIDDEN_PLACEHOLDER)


def items() -> list[ReviewItem]:
    return list(ReviewItem.objects.order_by("id"))


def turns(conversation) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id"))


get_items = database_sync_to_async(items)
get_turns = database_sync_to_async(turns)


async def say(conversation, text: str) -> None:
    await services.send_message(conversation.pk, text)
    await runner.wait_for_replies()


# --- the queue ----------------------------------------------------------------


async def test_a_flagged_input_is_queued_on_the_users_message(
    conversation, offline_minimax
):
    await say(conversation, "Tell me a secret [sim:flag-input]")

    prompt, reply = await get_turns(conversation)
    [item] = await get_items()
    assert item.message_id == prompt.pk
    assert item.direction == Direction.INPUT
    assert item.sensitive_type == SensitiveType.OTHER
    with translation.override("en"):
        assert item.get_sensitive_type_display() == "other"
    assert item.refusal_code is None
    assert "Tell me a secret" in item.text
    assert (item.user_id, item.model) == (conversation.owner_id, "MiniMax-Text-01")
    assert item.status == ReviewStatus.WAITING
    assert reply.status == "complete"


async def test_a_flagged_output_is_queued_on_the_reply(conversation, offline_minimax):
    await say(conversation, "What is Django? [sim:flag-output]")

    _prompt, reply = await get_turns(conversation)
    [item] = await get_items()
    assert item.message_id == reply.pk
    assert item.direction == Direction.OUTPUT
    assert item.sensitive_type == SensitiveType.ADVERTISING
    assert item.text == reply.content
    assert item.flags["output_sensitive"] is True


@pytest.mark.parametrize(
    "code, direction, on_prompt", [(1026, "input", True), (1027, "output", False)]
)
async def test_a_refused_reply_is_queued_with_its_code_and_direction(
    conversation, offline_minimax, code, direction, on_prompt
):
    await say(conversation, f"Something risky [sim:error={code}]")

    prompt, reply = await get_turns(conversation)
    [item] = await get_items()
    assert reply.status == "error"
    assert (item.refusal_code, item.direction) == (code, direction)
    assert item.message_id == (prompt.pk if on_prompt else reply.pk)
    assert item.flags["error_code"] == code


async def test_an_unflagged_reply_is_not_queued(conversation, offline_minimax):
    await say(conversation, "Hello there")

    assert await get_items() == []


async def test_regenerating_keeps_the_item_of_the_replaced_reply(
    conversation, offline_minimax
):
    await say(conversation, "Ads please [sim:flag-output] [sim:flag-input]")
    _prompt, first_reply = await get_turns(conversation)
    first_text = first_reply.content

    await services.regenerate(conversation.pk)
    await runner.wait_for_replies()

    all_items = await get_items()
    output_items = [i for i in all_items if i.direction == Direction.OUTPUT]
    input_items = [i for i in all_items if i.direction == Direction.INPUT]
    # The replaced reply stays (a version of the turn), with its item; the
    # prompt still has one item.
    assert len(output_items) == 2
    assert output_items[0].message_id == first_reply.pk
    assert output_items[0].text == first_text
    assert output_items[0].conversation_id == conversation.pk
    assert len(input_items) == 1


# --- decisions ------------------------------------------------------------------


@pytest.fixture
def reviewer(django_user_model):
    return django_user_model.objects.create_user(
        "rita", password="rita-pass-1", is_staff=True
    )


@pytest.fixture
def flagged_reply(conversation):
    Message.objects.create(conversation=conversation, role="user", content="Sell it")
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Buy cheap pills at example.com",
        reasoning="Selling things",
        output_sensitive=True,
        output_sensitive_type=3,
    )
    from review.services import record_reply

    [item] = record_reply(reply)
    return reply, item


def test_the_latest_decision_is_the_status_and_history_is_kept(flagged_reply, reviewer):
    reply, item = flagged_reply

    do_decide([item], reviewer, ReviewDecision.Action.HIDE, "spam")
    do_decide([item], reviewer, ReviewDecision.Action.ESCALATE)
    item.refresh_from_db()
    reply.refresh_from_db()
    assert item.status == ReviewStatus.ESCALATED
    assert reply.hidden  # escalating does not restore it

    do_decide([item], reviewer, ReviewDecision.Action.APPROVE, "fine after all")
    item.refresh_from_db()
    reply.refresh_from_db()
    assert item.status == ReviewStatus.APPROVED
    assert not reply.hidden
    history = [(d.action, d.note, d.reviewer_id) for d in item.decisions.order_by("id")]
    assert history == [
        ("hide", "spam", reviewer.pk),
        ("escalate", "", reviewer.pk),
        ("approve", "fine after all", reviewer.pk),
    ]


def test_a_decision_cannot_be_changed_or_deleted(flagged_reply, reviewer):
    _reply, item = flagged_reply
    [decision] = do_decide([item], reviewer, ReviewDecision.Action.HIDE)
    decision = ReviewDecision.objects.get(pk=decision.pk)

    decision.note = "rewritten"
    with pytest.raises(ValueError):
        decision.save()
    with pytest.raises(ValueError):
        decision.delete()
    assert ReviewDecision.objects.get(pk=decision.pk).note == ""


# --- hidden text never reaches the owner --------------------------------------


def test_a_hidden_reply_shows_its_owner_the_placeholder(flagged_reply, reviewer, user):
    reply, item = flagged_reply
    do_decide([item], reviewer, ReviewDecision.Action.HIDE)
    owner = Client()
    owner.force_login(user)

    page = owner.get(f"/c/{reply.conversation_id}/").content.decode()
    api = owner.get(f"/api/conversations/{reply.conversation_id}/").json()

    for text in (page, str(api)):
        assert "Buy cheap pills" not in text
        assert "Selling things" not in text
    assert PLACEHOLDER in page
    [shown] = [m for m in api["messages"] if m["id"] == reply.pk]
    assert (shown["content"], shown["reasoning"], shown["hidden"]) == (
        PLACEHOLDER,
        "",
        True,
    )

    do_decide([item], reviewer, ReviewDecision.Action.APPROVE)
    page = owner.get(f"/c/{reply.conversation_id}/").content.decode()
    assert "Buy cheap pills" in page


def test_hiding_a_first_message_clears_the_title_it_gave(conversation, reviewer):
    prompt = Message.objects.create(
        conversation=conversation, role="user", content="Rude words here"
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        title=conversation.title_from(prompt.content)
    )
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="ok",
        input_sensitive=True,
        input_sensitive_type=5,
    )
    from review.services import record_reply

    [item] = record_reply(reply)
    do_decide([item], reviewer, ReviewDecision.Action.HIDE)

    conversation.refresh_from_db()
    assert item.message_id == prompt.pk
    assert "Rude" not in str(conversation)


async def test_a_snapshot_of_a_hidden_reply_carries_the_placeholder(
    flagged_reply, reviewer, channel_layer
):
    reply, item = flagged_reply
    await database_sync_to_async(do_decide)([item], reviewer, "hide")
    channel = await channel_layer.new_channel()

    await runner.request_snapshot(reply.conversation_id, channel)

    event = await asyncio.wait_for(channel_layer.receive(channel), 2)
    frame = json.loads(event["text"])
    assert frame["type"] == "reply.snapshot"
    assert frame["message"]["content"] == PLACEHOLDER
    assert "Buy cheap" not in str(frame)


async def test_hidden_text_is_not_sent_upstream_again(
    conversation, fake_minimax, reviewer
):
    await say(conversation, "My first question")
    _prompt, first_reply = await get_turns(conversation)
    item = await database_sync_to_async(
        lambda: ReviewItem.objects.create(
            message=first_reply,
            conversation=conversation,
            model=conversation.model,
            direction="output",
            text=first_reply.content,
            message_created_at=first_reply.created_at,
        )
    )()
    await database_sync_to_async(do_decide)([item], reviewer, "hide")

    await say(conversation, "A second question")

    sent = [m.content for m in fake_minimax.requests[-1].messages]
    assert first_reply.content == "Hello, world."
    assert first_reply.content not in sent
    assert "My first question" in sent
    assert "A second question" in sent


async def test_open_pages_are_shown_the_placeholder_when_a_reviewer_hides(
    flagged_reply, reviewer, channel_layer
):
    reply, item = flagged_reply
    channel = await channel_layer.new_channel()
    await channel_layer.group_add(relay.group_name(reply.conversation_id), channel)

    await database_sync_to_async(do_decide)([item], reviewer, "hide")

    event = await asyncio.wait_for(channel_layer.receive(channel), 2)
    frame = json.loads(event["text"])
    assert frame["type"] == "reply.snapshot"
    assert frame["message"]["id"] == reply.pk
    assert frame["message"]["content"] == PLACEHOLDER


def test_the_placeholder_and_type_names_are_translated(flagged_reply, reviewer):
    reply, item = flagged_reply
    do_decide([item], reviewer, "hide")
    reply.refresh_from_db()

    with translation.override("zh-hans"):
        assert message_json(reply)["content"] == "此消息已被审核员隐藏。"
        assert item.get_sensitive_type_display() == "广告"
