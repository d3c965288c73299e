"""Import a JSON export (conversations.exports) back: all of a file or none of it.

The whole file is validated before anything is written (JSON Schema, timestamps,
the settings the site accepts), then written in one transaction. A conversation
imported before is skipped: each imported one keeps the sha256 of its exported
form (ids aside) in `import_fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from itertools import pairwise
from typing import Any

import jsonschema
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from conversations.exports import FORMAT, VERSION
from conversations.forms import ConversationSettingsForm
from conversations.models import Conversation, Message, TitleSource

IMPORT_MAX_BYTES = 20 * 1024 * 1024

_NULLABLE_INT = {"type": ["integer", "null"], "minimum": 0}
_TIMESTAMP = {"type": "string", "maxLength": 40}
_NULLABLE_TIMESTAMP = {"type": ["string", "null"], "maxLength": 40}

MESSAGE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role", "content", "created_at"],
    "properties": {
        "id": {"type": ["integer", "null"]},
        "parent_id": {"type": ["integer", "null"]},
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
        "active_leaf_id": {"type": ["integer", "null"]},
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
    _check_tree(where, entry)


def _check_tree(where: str, entry: dict[str, Any]) -> None:
    """Check the parent links: each names an earlier message (so no loop)."""
    earlier: set[int] = set()
    for number, message in enumerate(entry["messages"]):
        parent = message.get("parent_id")
        if parent is not None and parent not in earlier:
            raise ImportRefused(
                _("%(where)s: no earlier message has the id %(id)s.")
                % {"where": f"{where}.messages[{number}].parent_id", "id": parent}
            )
        if message.get("id") is not None:
            if message["id"] in earlier:
                raise ImportRefused(
                    _("%(where)s: the id %(id)s is used twice.")
                    % {"where": f"{where}.messages[{number}].id", "id": message["id"]}
                )
            earlier.add(message["id"])
    leaf = entry.get("active_leaf_id")
    if leaf is not None and leaf not in earlier:
        raise ImportRefused(
            _("%(where)s: no message has the id %(id)s.")
            % {"where": f"{where}.active_leaf_id", "id": leaf}
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
    """Return the sha256 of an exported conversation, ids left out.

    Parent links and the active leaf count as positions in the message list, so
    an imported conversation exported again has the fingerprint of the original.
    """
    position = {
        m["id"]: index for index, m in enumerate(entry["messages"]) if "id" in m
    }

    def local(value: Any) -> Any:
        return position.get(value) if value is not None else None

    content = {key: value for key, value in entry.items() if key != "id"}
    if "active_leaf_id" in content:
        content["active_leaf_id"] = local(content["active_leaf_id"])
    content["messages"] = []
    for m in entry["messages"]:
        message = {key: value for key, value in m.items() if key != "id"}
        if "parent_id" in message:
            message["parent_id"] = local(message["parent_id"])
        content["messages"].append(message)
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
    messages = Message.objects.bulk_create(
        [_new_message(conversation, m) for m in entry["messages"]]
    )
    leaf = _link_tree(entry, messages)
    # auto_now / auto_now_add would stamp the import's time: keep the export's.
    times = {
        name: _parse_time(entry[name])
        for name in ("created_at", "updated_at")
        if entry.get(name)
    }
    Conversation.objects.filter(pk=conversation.pk).update(active_leaf=leaf, **times)
    return conversation


def _link_tree(entry: dict[str, Any], messages: list[Message]) -> Message | None:
    """Give the imported messages their parents; return the active leaf.

    A file without parent links (an older export) is one branch, oldest first.
    """
    if not messages:
        return None
    exported = entry["messages"]
    if not any("parent_id" in m for m in exported):
        for previous, message in pairwise(messages):
            message.parent = previous
        Message.objects.bulk_update(messages[1:], ["parent"], batch_size=500)
        return messages[-1]
    by_export_id = {
        data["id"]: message
        for data, message in zip(exported, messages, strict=True)
        if data.get("id") is not None
    }
    linked = []
    for data, message in zip(exported, messages, strict=True):
        if data.get("parent_id") is not None:
            message.parent = by_export_id[data["parent_id"]]
            linked.append(message)
    Message.objects.bulk_update(linked, ["parent"], batch_size=500)
    return by_export_id.get(entry.get("active_leaf_id"), messages[-1])


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
