"""Export conversations as Markdown or JSON, and import the JSON back.

`exported_message()` is the one place that decides what a message's exported
content is (and whether it is exported at all): every format goes through it.

Import validates the whole file before writing anything, writes it in one
transaction, and skips a conversation it imported before: each imported one keeps
the sha256 of its exported form (ids aside) in `import_fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import jsonschema
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.forms import ConversationSettingsForm
from conversations.models import Conversation, Message, TitleSource

FORMAT = "minimax-chat-export"
VERSION = 1
IMPORT_MAX_BYTES = 20 * 1024 * 1024
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


def exported_message(message: Message) -> dict[str, Any] | None:
    """Return what an export holds of a message, or None to leave it out.

    Every format is built from this: a rule about what must never leave the site
    (a hidden message, say) belongs here and applies to Markdown and JSON alike.
    """
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
    """Return a conversation with its settings and exported messages, oldest first."""
    messages = [exported_message(m) for m in conversation.messages.all()]
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "title_source": conversation.title_source,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "settings": {name: getattr(conversation, name) for name in SETTINGS_FIELDS},
        "messages": [m for m in messages if m is not None],
    }


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
    parts += [markdown_message(m) for m in entry["messages"]]
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


# --- import -------------------------------------------------------------------

_NULLABLE_INT = {"type": ["integer", "null"], "minimum": 0}
_TIMESTAMP = {"type": "string", "maxLength": 40}
_NULLABLE_TIMESTAMP = {"type": ["string", "null"], "maxLength": 40}

MESSAGE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role", "content", "created_at"],
    "properties": {
        "id": {"type": ["integer", "null"]},
        "role": {"enum": list(Message.Role.values)},
        "sender_name": {"type": "string", "maxLength": 64},
        "content": {"type": "string"},
        "reasoning": {"type": "string"},
        "status": {"enum": list(Message.Status.values)},
        "finish_reason": {"type": "string", "maxLength": 32},
        "error": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "kind": {"type": "string", "maxLength": 32},
                "code": {"type": ["integer", "null"]},
                "message": {"type": "string"},
            },
        },
        "usage": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "prompt_tokens": _NULLABLE_INT,
                "completion_tokens": _NULLABLE_INT,
                "total_tokens": _NULLABLE_INT,
            },
        },
        "flags": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "input_sensitive": {"type": "boolean"},
                "input_sensitive_type": {"type": "integer", "minimum": 0},
                "output_sensitive": {"type": "boolean"},
                "output_sensitive_type": {"type": "integer", "minimum": 0},
            },
        },
        "timings": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "first_token_ms": _NULLABLE_INT,
                "duration_ms": _NULLABLE_INT,
                "checkpoint_at": _NULLABLE_TIMESTAMP,
                "finished_at": _NULLABLE_TIMESTAMP,
            },
        },
        "json_valid": {"type": ["boolean", "null"]},
        "tool_calls": {"type": ["array", "null"]},
        "response_id": {"type": "string", "maxLength": 128},
        "created_at": _TIMESTAMP,
    },
}

CONVERSATION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["settings", "messages"],
    "properties": {
        "id": {"type": ["integer", "null"]},
        "title": {"type": "string", "maxLength": 200},
        "title_source": {"enum": list(TitleSource.values)},
        "pinned": {"type": "boolean"},
        "archived": {"type": "boolean"},
        "created_at": _TIMESTAMP,
        "updated_at": _TIMESTAMP,
        "settings": {
            "type": "object",
            "additionalProperties": False,
            "required": ["model"],
            "properties": {
                "model": {"type": "string"},
                "dialect": {"type": "string"},
                "system_prompt": {"type": "string"},
                "bot_name": {"type": "string"},
                "user_name": {"type": "string"},
                "temperature": {"type": ["number", "null"]},
                "top_p": {"type": ["number", "null"]},
                "max_tokens": {"type": ["integer", "null"]},
                "json_schema": {"type": ["object", "null"]},
            },
        },
        "messages": {"type": "array", "items": MESSAGE_SCHEMA},
    },
}

DOCUMENT_SCHEMA = {
    "type": "object",
    "required": ["format", "version", "conversations"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "exported_at": _NULLABLE_TIMESTAMP,
        "conversations": {"type": "array", "items": CONVERSATION_SCHEMA},
    },
}


class ImportRefused(ValueError):
    """The file cannot be imported; the message says why, and where."""


def _path(error: jsonschema.ValidationError) -> str:
    path = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path
    )
    return path.lstrip(".") or _("the document")


def parse_upload(raw: bytes) -> dict[str, Any]:
    """Return the validated export document in `raw`, or raise ImportRefused."""
    if len(raw) > IMPORT_MAX_BYTES:
        raise ImportRefused(
            _("The file is larger than %(mb)s MB.")
            % {"mb": IMPORT_MAX_BYTES // (1024 * 1024)}
        )
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ImportRefused(_("The file is not a JSON export of this site.")) from error
    validator = jsonschema.Draft202012Validator(DOCUMENT_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise ImportRefused(
            _("%(where)s: %(problem)s")
            % {"where": _path(error), "problem": error.message}
        )
    for index, entry in enumerate(document["conversations"]):
        _check_entry(index, entry)
    return document


def _check_entry(index: int, entry: dict[str, Any]) -> None:
    """Check what a schema cannot: timestamps, and settings the site accepts."""
    where = f"conversations[{index}]"
    form = ConversationSettingsForm(dict(entry["settings"]))
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise ImportRefused(f"{where}.settings.{field}: {errors[0]}")
    stamps = [
        ("created_at", entry.get("created_at")),
        ("updated_at", entry.get("updated_at")),
    ]
    for number, message in enumerate(entry["messages"]):
        stamps.append((f"messages[{number}].created_at", message["created_at"]))
        for name, value in message.get("timings", {}).items():
            if name.endswith("_at"):
                stamps.append((f"messages[{number}].timings.{name}", value))
    for name, value in stamps:
        if value is not None and _parse_time(value) is None:
            raise ImportRefused(
                _("%(where)s: %(value)r is not a date and time.")
                % {"where": f"{where}.{name}", "value": value}
            )


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def fingerprint(entry: dict[str, Any]) -> str:
    """Return the sha256 of an exported conversation, ids left out."""
    content = {key: value for key, value in entry.items() if key != "id"}
    content["messages"] = [
        {key: value for key, value in m.items() if key != "id"}
        for m in entry["messages"]
    ]
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def import_document(owner, document: dict[str, Any]) -> dict[str, Any]:
    """Create the document's conversations for `owner`; return what was done.

    One transaction: the file is imported whole or not at all.
    """
    known = set(
        Conversation.objects.for_user(owner)
        .exclude(import_fingerprint="")
        .values_list("import_fingerprint", flat=True)
    )
    created: list[int] = []
    skipped = 0
    try:
        with transaction.atomic():
            for entry in document["conversations"]:
                mark = fingerprint(entry)
                if mark in known:
                    skipped += 1
                    continue
                known.add(mark)
                created.append(_create_conversation(owner, entry, mark).pk)
    except IntegrityError as error:
        # The same file imported twice at once: the other import has it.
        raise ImportRefused(_("This file is being imported already.")) from error
    return {"imported": created, "skipped": skipped}


def _create_conversation(owner, entry: dict[str, Any], mark: str) -> Conversation:
    form = ConversationSettingsForm(
        dict(entry["settings"]),
        instance=Conversation(
            owner=owner,
            title=entry.get("title", ""),
            title_source=entry.get("title_source", TitleSource.AUTO),
            pinned=entry.get("pinned", False),
            archived=entry.get("archived", False),
            import_fingerprint=mark,
        ),
    )
    form.is_valid()  # checked in parse_upload already
    conversation = form.save(commit=False)
    # The form fills these blanks with defaults (a blank dialect is the model's
    # own); blank is valid, so keep the file's value: a round trip is exact.
    for name in ("dialect", "bot_name", "user_name"):
        if name in entry["settings"]:
            setattr(conversation, name, entry["settings"][name])
    conversation.title = entry.get("title", "")
    conversation.pinned = entry.get("pinned", False)
    conversation.archived = entry.get("archived", False)
    conversation.save()
    Message.objects.bulk_create(
        [_new_message(conversation, m) for m in entry["messages"]]
    )
    # auto_now / auto_now_add would stamp the import's time: keep the export's.
    times = {
        name: _parse_time(entry[name])
        for name in ("created_at", "updated_at")
        if entry.get(name)
    }
    if times:
        Conversation.objects.filter(pk=conversation.pk).update(**times)
    return conversation


def _new_message(conversation: Conversation, data: dict[str, Any]) -> Message:
    error = data.get("error") or {}
    usage = data.get("usage") or {}
    flags = data.get("flags") or {}
    timings = data.get("timings") or {}
    return Message(
        conversation=conversation,
        role=data["role"],
        sender_name=data.get("sender_name", ""),
        content=data["content"],
        reasoning=data.get("reasoning", ""),
        status=data.get("status", Message.Status.COMPLETE),
        finish_reason=data.get("finish_reason", ""),
        error_kind=error.get("kind", ""),
        error_code=error.get("code"),
        error_message=error.get("message", ""),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        total_tokens=usage.get("total_tokens"),
        input_sensitive=flags.get("input_sensitive", False),
        input_sensitive_type=flags.get("input_sensitive_type", 0),
        output_sensitive=flags.get("output_sensitive", False),
        output_sensitive_type=flags.get("output_sensitive_type", 0),
        first_token_ms=timings.get("first_token_ms"),
        duration_ms=timings.get("duration_ms"),
        checkpoint_at=_parse_time(timings.get("checkpoint_at")),
        finished_at=_parse_time(timings.get("finished_at")),
        json_valid=data.get("json_valid"),
        tool_calls=data.get("tool_calls"),
        response_id=data.get("response_id", ""),
        created_at=_parse_time(data["created_at"]),
    )


def conversations_to_export(owner, ids: Iterable[int] | None = None):
    rows = Conversation.objects.for_user(owner)
    return rows.filter(pk__in=ids) if ids is not None else rows
