"""The AI pre-analysis: seed 001's user_analysis schema, validated, in the background.

The simulator answers a json_schema request with an example matching the schema,
and `[sim:length]` in the analysed text cuts that reply in half (not JSON any
more), `[sim:error=CODE]` refuses it: the three outcomes a reviewer can meet.
"""

import asyncio
import threading

import jsonschema
import pytest
from django.contrib.auth.models import Group, Permission

from conversations.minimax.catalog import Dialect
from conversations.models import Message
from review import analysis
from review.models import AnalysisState, ReviewItem
from review.services import record_reply

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "/admin/review/reviewitem/"


@pytest.fixture
def reviewer_client(client, django_user_model):
    user = django_user_model.objects.create_user(
        "rita", password="rita-pass-1", is_staff=True
    )
    # A transactional test's flush removes the migration's group: make it again.
    group, _ = Group.objects.get_or_create(name="Reviewers")
    group.permissions.add(Permission.objects.get(codename="review_message"))
    user.groups.add(group)
    client.force_login(user)
    return client


@pytest.fixture
def offline(settings):
    settings.MINIMAX_API_KEY = ""
    settings.MINIMAX_SIMULATOR_CHUNK_DELAY = 0
    return settings


def flagged_item(conversation, text: str) -> ReviewItem:
    prompt = Message.objects.create(
        conversation=conversation, role="user", content=text
    )
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="ok",
        input_sensitive=True,
        input_sensitive_type=2,
    )
    [item] = record_reply(reply)
    assert item.message_id == prompt.pk
    return item


def analyse(client, item: ReviewItem) -> ReviewItem:
    response = client.post(
        QUEUE, {"action": "analyse", "_selected_action": [item.pk], "index": 0}
    )
    assert response.status_code == 302
    analysis.wait_for_analyses()
    item.refresh_from_db()
    return item


def test_the_request_is_seed_001s_schema_on_a_json_schema_model():
    request = analysis.analysis_request("some text", analysis.analysis_model())

    assert request.model == "MiniMax-Text-01"
    assert request.dialect == Dialect.V2
    assert request.stream is False
    assert request.json_schema["name"] == "user_analysis"
    assert request.json_schema["schema"]["required"] == [
        "analysis",
        "summary_words",
        "content_result",
        "risk_words",
        "correct_rate",
        "content_risk_level",
    ]
    assert request.messages[-1].content == "some text"


def test_a_valid_reply_is_stored_and_shown_as_the_suggestion(
    reviewer_client, conversation, offline
):
    item = analyse(reviewer_client, flagged_item(conversation, "Dirty words here"))

    assert item.ai_state == AnalysisState.VALID
    assert item.ai_valid is True
    jsonschema.validate(item.ai_suggestion, analysis.USER_ANALYSIS_SCHEMA["schema"])
    assert item.ai_model == "MiniMax-Text-01"
    page = reviewer_client.get(f"{QUEUE}{item.pk}/change/").content.decode()
    assert item.ai_suggestion["content_result"] in page
    assert item.ai_suggestion["content_risk_level"] in page
    queue = reviewer_client.get(QUEUE).content.decode()
    assert f"{item.ai_suggestion['content_result']} · " in queue


def test_a_reply_that_does_not_match_is_marked_and_not_stored_as_valid(
    reviewer_client, conversation, offline
):
    item = analyse(reviewer_client, flagged_item(conversation, "Cut me [sim:length]"))

    assert item.ai_state == AnalysisState.INVALID
    assert item.ai_valid is False
    assert item.ai_suggestion is None
    assert item.ai_raw_reply  # kept for the reviewer to read
    assert item.ai_error
    page = reviewer_client.get(f"{QUEUE}{item.pk}/change/").content.decode()
    assert "reply did not match the schema" in page


def test_a_refused_analysis_says_why(reviewer_client, conversation, offline):
    item = analyse(reviewer_client, flagged_item(conversation, "No [sim:error=1026]"))

    assert item.ai_state == AnalysisState.FAILED
    assert item.ai_suggestion is None
    assert item.ai_error


def test_the_action_returns_before_the_analysis_ends(
    reviewer_client, conversation, offline, monkeypatch
):
    release = threading.Event()
    real_ask = analysis.ask

    async def slow_ask(text, model):
        await asyncio.to_thread(release.wait, 10)
        return await real_ask(text, model)

    monkeypatch.setattr(analysis, "ask", slow_ask)
    items = [flagged_item(conversation, f"bulk {n}") for n in range(3)]

    response = reviewer_client.post(
        QUEUE,
        {"action": "analyse", "_selected_action": [i.pk for i in items], "index": 0},
    )

    assert response.status_code == 302
    states = set(ReviewItem.objects.values_list("ai_state", flat=True))
    assert states == {AnalysisState.PENDING}
    assert "analysis pending" in reviewer_client.get(QUEUE).content.decode()
    release.set()
    analysis.wait_for_analyses()
    states = set(ReviewItem.objects.values_list("ai_state", flat=True))
    assert states == {AnalysisState.VALID}
