"""Edits branch the conversation, regenerate keeps the old reply, the pager switches
branches; each branch is the context sent upstream; exports carry the tree."""

import asyncio
import json
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from django.apps import apps
from django.db import connection
from django.test import Client

from conversations.exports import markdown_document
from conversations.minimax.events import Finish, TextDelta
from conversations.models import Conversation, Message
from review.services import prompt_of

pytestmark = pytest.mark.django_db(transaction=True)


def reply(text):
    return [TextDelta(text), Finish("stop")]


async def until(socket, frame_type: str) -> list[dict]:
    frames = []
    while True:
        frame = await socket.receive_json_from(timeout=3)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


def sent(request) -> list[tuple[str, str]]:
    """What went upstream: (role, content) of each message but the system's."""
    return [(m.role, m.content) for m in request.messages if m.role != "system"]


@database_sync_to_async
def branch_contents(conversation) -> list[str]:
    conversation.refresh_from_db()
    return [m.content for m in conversation.active_branch()]


@database_sync_to_async
def all_messages(conversation) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id"))


async def say(socket, text) -> dict:
    await socket.send_json_to({"type": "message.send", "content": text})
    return (await until(socket, "reply.done"))[-1]["message"]


async def edit(socket, message_id, text) -> list[dict]:
    await socket.send_json_to(
        {"type": "message.edit", "message_id": message_id, "content": text}
    )
    return await until(socket, "reply.done")


# --- edits --------------------------------------------------------------------


async def test_an_edit_makes_a_branch_with_its_own_reply_and_context(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    fake_minimax.enqueue(reply("Tea is a drink."))
    await say(socket, "Tell me about tea")
    fake_minimax.enqueue(reply("Green is grassy."))
    await say(socket, "And green tea?")
    first_question = (await all_messages(conversation))[2]

    fake_minimax.enqueue(reply("Black is malty."))
    frames = await edit(socket, first_question.pk, "  And black tea? ")

    changed = frames[0]
    assert changed["type"] == "branch.changed"
    edited = changed["messages"][2]
    assert edited["content"] == "And black tea?"
    assert edited["parent_id"] == first_question.parent_id
    assert edited["sibling_ids"] == [first_question.pk, edited["id"]]
    assert (edited["version"], edited["versions"]) == (2, 2)
    assert changed["messages"][3]["status"] == "streaming"
    assert frames[-1]["message"]["content"] == "Black is malty."
    # The edited branch's context: the first exchange and the edited question only.
    assert sent(fake_minimax.requests[-1]) == [
        ("user", "Tell me about tea"),
        ("assistant", "Tea is a drink."),
        ("user", "And black tea?"),
    ]
    assert await branch_contents(conversation) == [
        "Tell me about tea",
        "Tea is a drink.",
        "And black tea?",
        "Black is malty.",
    ]
    assert len(await all_messages(conversation)) == 6  # the old branch stays


async def test_switching_back_sends_that_branch_and_only_it_upstream(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    fake_minimax.enqueue(reply("Paris."))
    await say(socket, "Capital of France?")
    original = (await all_messages(conversation))[0]
    fake_minimax.enqueue(reply("Rome."))
    await edit(socket, original.pk, "Capital of Italy?")

    await socket.send_json_to({"type": "branch.switch", "message_id": original.pk})
    changed = await socket.receive_json_from(timeout=3)

    assert changed["type"] == "branch.changed"
    assert [m["content"] for m in changed["messages"]] == [
        "Capital of France?",
        "Paris.",
    ]
    assert changed["messages"][0]["version"] == 1
    assert changed["active_leaf_id"] == changed["message_ids"][-1]
    fake_minimax.enqueue(reply("About 2 million."))
    await say(socket, "How many people live there?")
    assert sent(fake_minimax.requests[-1]) == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
        ("user", "How many people live there?"),
    ]
    # The page, the API and a fresh socket's snapshot all show this branch.
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    api = await database_sync_to_async(client.get)(
        f"/api/conversations/{conversation.pk}/"
    )
    assert [m["content"] for m in api.json()["messages"]] == [
        "Capital of France?",
        "Paris.",
        "How many people live there?",
        "About 2 million.",
    ]


async def test_the_edited_message_is_stored_before_the_call_upstream(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    await say(socket, "Hi")
    question = (await all_messages(conversation))[0]
    seen = []

    async def look(request):
        seen.extend(await branch_contents(conversation))

    fake_minimax.on_request = look
    await edit(socket, question.pk, "Hey")

    assert seen[0] == "Hey"


async def test_switching_to_an_older_version_lands_on_its_newest_leaf(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    await say(socket, "one")
    fake_minimax.enqueue(reply("r2"))
    await say(socket, "two")
    root = (await all_messages(conversation))[0]
    fake_minimax.enqueue(reply("uno"))
    await edit(socket, root.pk, "eins")

    await socket.send_json_to({"type": "branch.switch", "message_id": root.pk})
    changed = await socket.receive_json_from(timeout=3)

    assert [m["content"] for m in changed["messages"]] == [
        "one",
        "Hello, world.",
        "two",
        "r2",
    ]


# --- regenerate -----------------------------------------------------------------


async def test_regenerate_keeps_the_first_reply_and_the_pager_returns_to_it(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    fake_minimax.enqueue(reply("First answer."))
    first = await say(socket, "Question")
    fake_minimax.enqueue(reply("Second answer."))

    await socket.send_json_to({"type": "reply.regenerate"})
    frames = await until(socket, "reply.done")

    second = frames[-1]["message"]
    assert (second["version"], second["versions"]) == (2, 2)
    assert second["sibling_ids"] == [first["id"], second["id"]]
    assert sent(fake_minimax.requests[-1]) == [("user", "Question")]
    await socket.send_json_to({"type": "branch.switch", "message_id": first["id"]})
    changed = await socket.receive_json_from(timeout=3)
    assert [m["content"] for m in changed["messages"]] == ["Question", "First answer."]
    assert changed["messages"][1]["version"] == 1


# --- refusals -------------------------------------------------------------------


@database_sync_to_async
def someone_elses_message(other_user) -> int:
    theirs = Conversation.objects.create(owner=other_user, model="MiniMax-Text-01")
    return Message.objects.create(conversation=theirs, role="user", content="mine").pk


@pytest.mark.parametrize("frame_type", ["message.edit", "branch.switch"])
async def test_another_users_message_is_not_there(
    frame_type, conversation, user, other_user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    await say(socket, "Hi")
    theirs = await someone_elses_message(other_user)

    await socket.send_json_to(
        {"type": frame_type, "message_id": theirs, "content": "taken"}
    )
    refused = await socket.receive_json_from(timeout=3)

    assert refused["type"] == "error"
    assert refused["code"] == "no_such_message"
    assert len(await all_messages(conversation)) == 2
    assert len(fake_minimax.requests) == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "message.edit", "message_id": "1", "content": "x"}, "bad_frame"),
        ({"type": "message.edit", "message_id": True, "content": "x"}, "bad_frame"),
        ({"type": "message.edit", "message_id": 1}, "bad_frame"),
        ({"type": "message.edit", "message_id": 1, "content": "  "}, "empty"),
        ({"type": "branch.switch"}, "bad_frame"),
        ({"type": "branch.switch", "message_id": 10**30}, "bad_frame"),
        ({"type": "branch.switch", "message_id": 999_999}, "no_such_message"),
    ],
)
async def test_a_bad_edit_or_switch_is_refused(
    frame, code, conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)

    await socket.send_json_to(frame)

    assert (await socket.receive_json_from(timeout=3))["code"] == code


async def test_a_reply_cannot_be_edited(conversation, user, fake_minimax, open_socket):
    socket = await open_socket(user, conversation.pk)
    answer = await say(socket, "Hi")

    await socket.send_json_to(
        {"type": "message.edit", "message_id": answer["id"], "content": "no"}
    )

    assert (await socket.receive_json_from(timeout=3))["code"] == "not_editable"


async def test_edit_and_switch_wait_for_a_streaming_reply(
    conversation, user, fake_minimax, open_socket
):
    socket = await open_socket(user, conversation.pk)
    await say(socket, "Hi")
    question = (await all_messages(conversation))[0]
    gate = asyncio.Event()
    fake_minimax.enqueue([TextDelta("slow"), gate, Finish("stop")])
    await socket.send_json_to({"type": "message.send", "content": "Again"})
    await until(socket, "reply.delta")

    for frame in (
        {"type": "message.edit", "message_id": question.pk, "content": "Edited"},
        {"type": "branch.switch", "message_id": question.pk},
        {"type": "reply.regenerate"},
    ):
        await socket.send_json_to(frame)
        assert (await socket.receive_json_from(timeout=3))["code"] == "busy"
    gate.set()
    await until(socket, "reply.done")
    assert "Edited" not in [m.content for m in await all_messages(conversation)]


# --- the tree elsewhere ----------------------------------------------------------


def test_the_migration_makes_existing_messages_one_branch(conversation):
    Message.objects.bulk_create(
        Message(conversation=conversation, role=role, content=text)
        for role, text in [("user", "a"), ("assistant", "b"), ("user", "c")]
    )
    migration = __import__(
        "conversations.migrations.0005_message_tree", fromlist=["link_existing"]
    )

    migration.link_existing(apps, SimpleNamespace(connection=connection))

    conversation.refresh_from_db()
    a, b, c = conversation.messages.order_by("id")
    assert (a.parent_id, b.parent_id, c.parent_id) == (None, a.pk, b.pk)
    assert conversation.active_leaf_id == c.pk
    assert [m.content for m in conversation.active_branch()] == ["a", "b", "c"]


def test_the_prompt_of_a_reply_is_its_branchs_question(conversation):
    question = Message.objects.create(
        conversation=conversation, role="user", content="q"
    )
    Message.objects.create(conversation=conversation, role="assistant", content="a")
    edited = Message(conversation=conversation, role="user", content="q2")
    edited.is_root = True
    edited.save()
    answer = Message.objects.create(
        conversation=conversation, role="assistant", content="a2", parent=edited
    )
    # A question on another branch, newer than the answer.
    Message.objects.create(
        conversation=conversation, role="user", content="later", parent=question
    )

    assert prompt_of(answer) == edited


def branched_conversation(user) -> Conversation:
    conversation = Conversation.objects.create(owner=user, model="MiniMax-Text-01")
    first = Message.objects.create(conversation=conversation, role="user", content="Q1")
    Message.objects.create(conversation=conversation, role="assistant", content="A1")
    Message.objects.create(
        conversation=conversation, role="assistant", content="A1b", parent=first
    )
    edited = Message(conversation=conversation, role="user", content="Q1 edited")
    edited.is_root = True
    edited.save()
    leaf = Message.objects.create(
        conversation=conversation, role="assistant", content="A2", parent=edited
    )
    conversation.active_leaf = leaf
    conversation.save()
    return conversation


def export(client) -> dict:
    response = client.get("/api/export/?format=json")
    return json.loads(b"".join(response.streaming_content))


def test_a_tree_survives_export_delete_import(client, user):
    conversation = branched_conversation(user)
    client.force_login(user)
    before = export(client)
    entry = before["conversations"][0]
    by_id = {m["id"]: m["content"] for m in entry["messages"]}
    assert {m["content"]: by_id.get(m["parent_id"]) for m in entry["messages"]} == {
        "Q1": None,
        "A1": "Q1",
        "A1b": "Q1",
        "Q1 edited": None,
        "A2": "Q1 edited",
    }
    assert by_id[entry["active_leaf_id"]] == "A2"

    conversation.delete()
    response = client.post(
        "/api/import/",
        {"file": _upload(json.dumps(before).encode())},
    )
    assert response.status_code == 201
    after = export(client)

    assert _positions(after) == _positions(before)
    imported = Conversation.objects.get(owner=user)
    assert [m.content for m in imported.active_branch()] == ["Q1 edited", "A2"]
    versions = {m.content: m.sibling_ids for m in imported.tree().branch()}
    assert len(versions["Q1 edited"]) == 2
    # The re-export is the same conversation: importing it again is skipped.
    again = client.post("/api/import/", {"file": _upload(json.dumps(after).encode())})
    assert again.json() == {"imported": [], "skipped": 1}


def test_markdown_export_is_the_active_branch(user):
    branched_conversation(user)

    text = "".join(markdown_document(Conversation.objects.filter(owner=user)))

    assert "Q1 edited" in text and "A2" in text
    assert "A1b" not in text and "\nQ1\n" not in text


def test_an_import_with_a_broken_link_is_refused(client, user):
    branched_conversation(user)
    client.force_login(user)
    document = export(client)
    Conversation.objects.all().delete()
    document["conversations"][0]["messages"][0]["parent_id"] = 10**9

    response = client.post(
        "/api/import/", {"file": _upload(json.dumps(document).encode())}
    )

    assert response.status_code == 400
    assert "parent_id" in json.dumps(response.json()["errors"])
    assert not Conversation.objects.exists()


def _upload(raw: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("export.json", raw, "application/json")


def _positions(document) -> list:
    """The document's trees as (content, parent's position), and the leaf's position."""
    out = []
    for entry in document["conversations"]:
        position = {m["id"]: n for n, m in enumerate(entry["messages"])}
        out.append(
            (
                [
                    (m["content"], position.get(m["parent_id"]))
                    for m in entry["messages"]
                ],
                position[entry["active_leaf_id"]],
            )
        )
    return out
