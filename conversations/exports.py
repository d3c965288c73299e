"""Export conversations as Markdown or JSON.

`exported_message()` is the one place that decides what a message's exported
content is (and whether it is exported at all): every format goes through it.

The JSON is the format conversations.imports reads back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.models import Conversation, Message
from conversations.tree import MessageTree

FORMAT = "minimax-chat-export"
VERSION = 1
SETTINGS_FIELDS = [
    "model",
    "dialect",
    "system_prompt",
    "bot_name",
    "user_name",
    "temperature",
    "top_p",
    "max_tokens",
    "json_schema",
]
# Rows read per query when exporting everything: memory stays flat.
EXPORT_CHUNK = 100


def iso(moment: datetime | None) -> str | None:
    """Return a timestamp in UTC to the microsecond, so a round trip keeps it."""
    if moment is None:
        return None
    return (
        moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


# --- export -------------------------------------------------------------------


def exported_message(
    message: Message, parent_id: int | None = None
) -> dict[str, Any] | None:
    """Return what an export holds of a message, or None to leave it out.

    Every format is built from this: a rule about what must never leave the site
    (a hidden message, say) belongs here and applies to Markdown and JSON alike.
    """
    if message.hidden:  # a reviewer hid it: it never leaves the site
        return None
    error = None
    if message.error_kind:
        error = {
            "kind": message.error_kind,
            "code": message.error_code,
            "message": message.error_message,
        }
    usage = None
    if any(
        v is not None
        for v in (
            message.prompt_tokens,
            message.completion_tokens,
            message.total_tokens,
        )
    ):
        usage = {
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
            "total_tokens": message.total_tokens,
        }
    return {
        "id": message.pk,
        # The exported message this one follows (tree.py), null for a first turn.
        "parent_id": parent_id,
        "role": message.role,
        "sender_name": message.sender_name,
        "content": message.content,
        "reasoning": message.reasoning,
        "status": message.status,
        "finish_reason": message.finish_reason,
        "error": error,
        "usage": usage,
        "flags": {
            "input_sensitive": message.input_sensitive,
            "input_sensitive_type": message.input_sensitive_type,
            "output_sensitive": message.output_sensitive,
            "output_sensitive_type": message.output_sensitive_type,
        },
        "timings": {
            "first_token_ms": message.first_token_ms,
            "duration_ms": message.duration_ms,
            "checkpoint_at": iso(message.checkpoint_at),
            "finished_at": iso(message.finished_at),
        },
        "json_valid": message.json_valid,
        "tool_calls": message.tool_calls,
        "response_id": message.response_id,
        "created_at": iso(message.created_at),
    }


def exported_conversation(conversation: Conversation) -> dict[str, Any]:
    """Return a conversation with its settings and exported messages, oldest first.

    All branches go, each message with its parent's id (the nearest exported one:
    a hidden message is left out and its children hang from its parent), and the
    id of the branch on screen's last exported message.
    """
    tree = MessageTree(list(conversation.messages.all()), conversation.active_leaf_id)

    def shown(message: Message | None) -> Message | None:
        while message is not None and message.hidden:
            message = tree.by_id.get(message.parent_id)
        return message

    messages = []
    for message in tree.messages:
        parent = shown(tree.by_id.get(message.parent_id))
        messages.append(exported_message(message, parent.pk if parent else None))
    leaf = shown(tree.leaf())
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "title_source": conversation.title_source,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "settings": {name: getattr(conversation, name) for name in SETTINGS_FIELDS},
        "active_leaf_id": leaf.pk if leaf else None,
        "messages": [m for m in messages if m is not None],
    }


def active_branch_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the exported messages of the branch on screen, oldest first.

    An entry without parent links (an older export) is one branch: all of it.
    """
    messages = entry["messages"]
    if not any("parent_id" in m for m in messages):
        return messages
    by_id = {m["id"]: m for m in messages}
    message = by_id.get(entry.get("active_leaf_id")) or (
        messages[-1] if messages else None
    )
    branch: list[dict[str, Any]] = []
    while message is not None and len(branch) <= len(messages):
        branch.append(message)
        message = by_id.get(message.get("parent_id"))
    branch.reverse()
    return branch


def with_messages(conversations) -> Any:
    """Return the queryset with its messages prefetched in conversation order."""
    return conversations.prefetch_related(
        Prefetch("messages", queryset=Message.objects.order_by("created_at", "id"))
    )


def iter_conversations(conversations) -> Iterator[Conversation]:
    yield from with_messages(conversations.order_by("created_at", "id")).iterator(
        chunk_size=EXPORT_CHUNK
    )


def json_document(conversations) -> Iterator[str]:
    """Yield the JSON export, one conversation per line (streamed, not built)."""
    header = {"format": FORMAT, "version": VERSION, "exported_at": iso(timezone.now())}
    yield json.dumps(header, ensure_ascii=False)[:-1] + ', "conversations": [\n'
    separator = ""
    for conversation in iter_conversations(conversations):
        entry = json.dumps(exported_conversation(conversation), ensure_ascii=False)
        yield separator + entry
        separator = ",\n"
    yield "\n]}\n"


# --- Markdown -----------------------------------------------------------------

FENCE_OPEN = re.compile(r"^(`{3,}|~{3,})(.*)$")


def _is_fence_close(line: str, fence: str) -> bool:
    # At least as liberal as CommonMark: any fence it would close, we close too, so
    # we never leave text unescaped that a viewer renders outside a code block.
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return False
    run = len(stripped) - len(stripped.lstrip(fence[0]))
    return run >= len(fence) and not stripped[run:].strip()


def markdown_text(text: str) -> str:
    """Return message text for a Markdown document, unable to inject HTML.

    Outside fenced code blocks <, > and & become entities (a viewer shows them as
    typed, and Markdown formatting still works); inside a fence, which a viewer
    never reads as HTML, the code stays as it was. A fence left open is closed, so
    the message cannot swallow what follows.
    """
    out: list[str] = []
    fence = ""
    for line in text.split("\n"):
        if fence:
            out.append(line)
            if _is_fence_close(line, fence):
                fence = ""
            continue
        opening = FENCE_OPEN.match(line)
        # A backtick fence's info string cannot hold a backtick (CommonMark).
        if opening and not (opening[1][0] == "`" and "`" in opening[2]):
            fence = opening[1]
            out.append(escape_html(line))
            continue
        out.append(escape_html(line))
    if fence:
        out.append(fence)
    return "\n".join(out)


def escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline(text: str) -> str:
    """Return text for a heading or a one-line field: one line, escaped."""
    return escape_html(" ".join(text.split())) or "—"


def markdown_message(message: dict[str, Any]) -> str:
    when = (message["created_at"] or "")[:16].replace("T", " ")
    name = message["sender_name"] or message["role"]
    parts = [f"### {inline(name)} ({message['role']}) · {when} UTC", ""]
    if message["reasoning"]:
        parts += [
            "<details>",
            f"<summary>{escape_html(_('Reasoning'))}</summary>",
            "",
            markdown_text(message["reasoning"]),
            "",
            "</details>",
            "",
        ]
    parts += [markdown_text(message["content"]), ""]
    if message["status"] not in (Message.Status.COMPLETE, Message.Status.STREAMING):
        note = message["status"]
        if message["error"]:
            note += ": " + inline(message["error"]["message"] or "")
        parts += [f"*({note})*", ""]
    return "\n".join(parts)


def markdown_conversation(entry: dict[str, Any]) -> str:
    settings = entry["settings"]
    title = entry["title"] or _("Untitled conversation")
    parts = [
        f"# {inline(title)}",
        "",
        f"*{inline(settings['model'])} · {settings['dialect']} · "
        f"{(entry['created_at'] or '')[:10]}*",
        "",
    ]
    if settings["system_prompt"]:
        parts += [
            "<details>",
            f"<summary>{escape_html(_('System prompt'))}</summary>",
            "",
            markdown_text(settings["system_prompt"]),
            "",
            "</details>",
            "",
        ]
    parts += ["---", ""]
    # The conversation as it reads on screen: its active branch.
    parts += [markdown_message(m) for m in active_branch_of(entry)]
    return "\n".join(parts)


def markdown_document(conversations) -> Iterator[str]:
    separator = ""
    for conversation in iter_conversations(conversations):
        yield separator + markdown_conversation(exported_conversation(conversation))
        separator = "\n\n"


def export_filename(conversation: Conversation | None, extension: str) -> str:
    """Return an ASCII-safe file name: chat-<id>-<title words>.<ext>."""
    stamp = timezone.now().strftime("%Y%m%d")
    if conversation is None:
        return f"chat-history-{stamp}.{extension}"
    words = re.sub(r"[^A-Za-z0-9]+", "-", conversation.title).strip("-")[:40]
    name = f"chat-{conversation.pk}" + (f"-{words}" if words else "")
    return f"{name}.{extension}"
