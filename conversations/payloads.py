"""Strict JSON types for the conversation API, checked before the settings form.

A Django form takes strings from an HTML form and coerces: `true` would become 1.0,
a list its Python repr, "maybe" True. A JSON client says what it means, so each
field must arrive as its own JSON type (null allowed where the field is optional);
anything else is refused naming the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.utils.translation import gettext as _

# Fields and the JSON types they take; the form checks values and ranges after.
TEXT_FIELDS = ("model", "dialect", "system_prompt", "bot_name", "user_name", "title")
NUMBER_FIELDS = ("temperature", "top_p")
WHOLE_NUMBER_FIELDS = ("max_tokens",)
BOOLEAN_FIELDS = ("pinned", "archived")
OBJECT_FIELDS = ("json_schema",)
# Deeper than this a JSON schema is not a schema a person wrote.
MAX_SCHEMA_DEPTH = 32


def type_errors(payload: dict[str, Any]) -> dict[str, list[str]]:
    """Return {field: [message]} for every field sent with the wrong JSON type."""
    errors: dict[str, list[str]] = {}
    for name, value in payload.items():
        message = field_type_error(name, value)
        if message is None and has_lone_surrogate(value):
            message = _("The text holds an invalid character (a lone surrogate).")
        if message is not None:
            errors[name] = [message]
    return errors


def field_type_error(name: str, value: Any) -> str | None:
    """Return why `value` is the wrong type for field `name`, or None."""
    if name == "model" and not isinstance(value, str):
        return _("Send the model's id as a string.")
    if name in TEXT_FIELDS:
        return None if value is None or isinstance(value, str) else _("Send text.")
    if name in NUMBER_FIELDS:
        if value is None:
            return None
        if not is_number(value) or not math.isfinite(value):
            return _("Send a number (or null for the model's default).")
    if name in WHOLE_NUMBER_FIELDS and value is not None and not is_whole(value):
        return _("Send a whole number (or null for the model's default).")
    if name in BOOLEAN_FIELDS and not isinstance(value, bool):
        return _("Send true or false.")
    if name in OBJECT_FIELDS:
        if value is not None and not isinstance(value, dict):
            return _('Send an object: {"name": ..., "schema": ...} (or null).')
        if value is not None and nesting_depth(value) > MAX_SCHEMA_DEPTH:
            return _("The JSON schema is nested too deeply.")
    return None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def has_lone_surrogate(value: Any) -> bool:
    """Return whether any string in `value` holds a lone surrogate (no valid UTF-8)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def nesting_depth(value: Any, limit: int = MAX_SCHEMA_DEPTH + 1) -> int:
    """Return how deeply lists and objects nest in `value` (counting stops at limit)."""
    depth = 0
    level = [value]
    while depth <= limit:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            break
        depth += 1
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return depth
