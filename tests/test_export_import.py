"""Export (Markdown, JSON) and import: the round trip, refusals, duplicates, owners."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import timezone

from conversations import imports
from conversations.exports import markdown_text
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def chat(user):
    conversation = Conversation.objects.create(
        owner=user,
        title="三星堆 trip",
        model="MiniMax-M1",
        dialect="v2",
        system_prompt="Be brief.",
        temperature=0.7,
        json_schema=None,
        pinned=True,
    )
    asked = timezone.now() - timedelta(days=3)
    Message.objects.create(
        conversation=conversation,
        role="user",
        sender_name="用户",
        content="学习三星堆正确拍照姿势 <img src=x onerror=alert(1)>",
        created_at=asked,
        input_sensitive=True,
        input_sensitive_type=7,
    )
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        sender_name="MiniMax-M1",
        content=(
            "Use this:\n```html\n<b>bold</b>\n```\nDone </details><script>x</script>"
        ),
        reasoning="Think <i>first</i>",
        status="complete",
        finish_reason="stop",
        prompt_tokens=10,
        completion_tokens=5,
        total_tokens=15,
        first_token_ms=120,
        duration_ms=900,
        created_at=asked + timedelta(seconds=1),
        finished_at=asked + timedelta(seconds=2),
        tool_calls=[{"id": "call_1", "type": "function", "function": {"name": "f"}}],
    )
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="half",
        status="error",
        error_kind="rate_limit",
        error_code=1002,
        error_message="Slow down",
        created_at=asked + timedelta(seconds=5),
    )
    return conversation


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def export_json(client, url="/api/export/?format=json"):
    response = client.get(url)
    assert response.status_code == 200
    return json.loads(body(response))


def without_ids(document):
    """Return the document with its ids left out, and links to messages as
    positions in the conversation's message list."""
    document = json.loads(json.dumps(document))
    document.pop("exported_at")
    for conversation in document["conversations"]:
        conversation.pop("id")
        position = {m["id"]: n for n, m in enumerate(conversation["messages"])}
        leaf = conversation["active_leaf_id"]
        conversation["active_leaf_id"] = position[leaf] if leaf else None
        for message in conversation["messages"]:
            message.pop("id")
            parent = message["parent_id"]
            message["parent_id"] = position[parent] if parent else None
    return document


def upload(client, content: bytes, name="export.json"):
    return client.post(
        "/api/import/", {"file": SimpleUploadedFile(name, content, "application/json")}
    )


# --- export ---------------------------------------------------------------------------


def test_json_export_of_one_conversation_is_an_attachment_with_everything(ada, chat):
    response = ada.get(f"/api/conversations/{chat.pk}/export?format=json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == (
        f'attachment; filename="chat-{chat.pk}-trip.json"'
    )
    document = json.loads(body(response))
    assert document["format"] == "minimax-chat-export"
    (entry,) = document["conversations"]
    assert entry["settings"]["system_prompt"] == "Be brief."
    assert entry["settings"]["temperature"] == 0.7
    assert entry["pinned"] is True
    user, answer, failed = entry["messages"]
    assert user["flags"]["input_sensitive_type"] == 7
    assert answer["reasoning"] == "Think <i>first</i>"
    assert answer["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert answer["timings"]["first_token_ms"] == 120
    assert answer["sender_name"] == "MiniMax-M1"
    assert failed["error"] == {
        "kind": "rate_limit",
        "code": 1002,
        "message": "Slow down",
    }


def test_markdown_export_is_readable_and_cannot_inject_html(ada, chat):
    response = ada.get(f"/api/conversations/{chat.pk}/export?format=md")
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"].endswith('.md"')
    text = body(response).decode()
    assert text.startswith("# 三星堆 trip\n")
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<script>" not in text and "&lt;/details&gt;&lt;script&gt;" in text
    # Reasoning folded, and escaped too.
    assert "<details>\n<summary>Reasoning</summary>\n\nThink &lt;i&gt;first" in text
    # Code inside a fence stays as typed: a viewer never reads it as HTML.
    assert "```html\n<b>bold</b>\n```" in text
    assert "(error: Slow down)" in text


def test_an_unclosed_fence_is_closed_and_cannot_swallow_what_follows():
    assert markdown_text("```\n<b>") == "```\n<b>\n```"
    # Not a fence (a backtick in the info string): the tag is escaped.
    assert markdown_text("``` a`b\n<b>") == "``` a`b\n&lt;b&gt;"
    # Indented four spaces: not a fence opening for us, so escaped.
    assert markdown_text("    ```\n<b>") == "    ```\n&lt;b&gt;"


def test_export_all_holds_only_the_users_own(ada, chat, other_user):
    Conversation.objects.create(owner=other_user, model="MiniMax-M1", title="bob's")
    archived = Conversation.objects.create(
        owner=chat.owner, model="MiniMax-M1", title="shelved", archived=True
    )
    titles = [c["title"] for c in export_json(ada)["conversations"]]
    assert titles == ["三星堆 trip", "shelved"]
    assert archived.pk


def test_export_refuses_an_unknown_format(ada, chat):
    response = ada.get(f"/api/conversations/{chat.pk}/export?format=pdf")
    assert response.status_code == 400
    assert "format" in response.json()["errors"]


# --- the round trip -------------------------------------------------------------------


def test_export_delete_import_export_gives_the_same_document(ada, chat, user):
    Conversation.objects.create(owner=user, model="MiniMax-Text-01", title="empty")
    before = export_json(ada)
    raw = json.dumps(before).encode()
    Conversation.objects.filter(owner=user).delete()
    response = upload(ada, raw)
    assert response.status_code == 201
    assert len(response.json()["imported"]) == 2
    after = export_json(ada)
    assert without_ids(after) == without_ids(before)
    # The imported messages are in the search index.
    hits = ada.get("/api/search/", {"q": "三星堆"}).json()["results"]
    assert len(hits) == 1


def test_importing_the_same_file_twice_does_not_duplicate(ada, chat, user):
    raw = body(ada.get("/api/export/?format=json"))
    first = upload(ada, raw).json()
    second = upload(ada, raw)
    assert second.status_code == 200
    assert second.json() == {"imported": [], "skipped": 1}
    assert len(first["imported"]) == 1
    assert Conversation.objects.filter(owner=user).count() == 2  # original + 1 copy


# --- refusals -------------------------------------------------------------------------


def valid_document(chat_entry_count=1):
    return {
        "format": "minimax-chat-export",
        "version": 1,
        "conversations": [
            {
                "title": f"ok {n}",
                "settings": {"model": "MiniMax-M1"},
                "messages": [
                    {
                        "role": "user",
                        "content": "hi",
                        "created_at": "2026-11-01T10:00:00Z",
                    }
                ],
            }
            for n in range(chat_entry_count)
        ],
    }


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d["conversations"][1]["messages"][0].update(role="boss"), "role"),
        (lambda d: d["conversations"][1]["settings"].update(model="gpt-9"), "model"),
        (lambda d: d["conversations"][1].update(pinned="yes"), "pinned"),
        (
            lambda d: d["conversations"][1]["messages"][0].update(created_at="soon"),
            "created_at",
        ),
        (lambda d: d["conversations"][1]["messages"][0].update(extra=1), "extra"),
    ],
)
def test_a_bad_file_imports_nothing_and_says_why(ada, user, mutate, says):
    document = valid_document(3)
    mutate(document)
    response = upload(ada, json.dumps(document).encode())
    assert response.status_code == 400
    message = response.json()["errors"]["file"][0]
    assert says in message
    assert not Conversation.objects.filter(owner=user).exists()


def test_a_file_that_is_not_json_is_refused(ada, user):
    response = upload(ada, b"\x89PNG not json")
    assert response.status_code == 400
    assert "JSON export" in response.json()["errors"]["file"][0]
    assert ada.post("/api/import/").status_code == 400  # no file at all


def test_an_oversized_file_is_refused(ada, user, monkeypatch):
    monkeypatch.setattr(imports, "IMPORT_MAX_BYTES", 100)
    response = upload(ada, json.dumps(valid_document(5)).encode())
    assert response.status_code == 413
    assert "larger than" in response.json()["errors"]["file"][0]
    assert not Conversation.objects.filter(owner=user).exists()


def test_a_valid_file_imports(ada, user):
    response = upload(ada, json.dumps(valid_document(2)).encode())
    assert response.status_code == 201
    assert Conversation.objects.filter(owner=user).count() == 2


# --- owners ---------------------------------------------------------------------------


def test_another_users_conversation_cannot_be_exported(ada, other_user):
    theirs = Conversation.objects.create(owner=other_user, model="MiniMax-M1")
    for kind in ("json", "md"):
        url = f"/api/conversations/{theirs.pk}/export?format={kind}"
        assert ada.get(url).status_code == 404


def test_import_belongs_to_the_importer(client, other_user, user):
    client.force_login(other_user)
    upload(client, json.dumps(valid_document(1)).encode())
    assert Conversation.objects.filter(owner=other_user).count() == 1
    assert not Conversation.objects.filter(owner=user).exists()


def test_export_and_import_need_a_signed_in_user(client):
    assert client.get("/api/export/").status_code == 401
    assert client.post("/api/import/").status_code == 401


@pytest.mark.django_db(transaction=True)
async def test_export_streams_under_asgi(async_client, user):
    from channels.db import database_sync_to_async

    await database_sync_to_async(Conversation.objects.create)(
        owner=user, model="MiniMax-M1", title="async"
    )
    await database_sync_to_async(async_client.force_login)(user)
    response = await async_client.get("/api/export/?format=json")
    assert response.status_code == 200
    assert response.is_async  # not read whole into memory before sending
    raw = b"".join([chunk async for chunk in response.streaming_content])
    assert [c["title"] for c in json.loads(raw)["conversations"]] == ["async"]
    # The test client keeps request_finished from closing the export's connection
    # (daphne does close it); close it, or the test database cannot be dropped.
    await sync_to_async(connections.close_all, thread_sensitive=True)()
