"""The rules for a structured-output (json_schema) request and its reply.

One definition, used by the settings form, the request check and the reply check.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

# The vendor pages: a name of letters, digits and underscores, at most 64 long
# (docs/minimax-protocol.md §8). ASCII: the simulator reads the rule the same way.
SCHEMA_NAME = re.compile(r"^\w{1,64}$", re.ASCII)


def schema_name_is_valid(name: object) -> bool:
    """Return whether `name` is a json_schema name MiniMax accepts (protocol §8)."""
    return isinstance(name, str) and SCHEMA_NAME.match(name) is not None


def reply_matches_schema(text: str, json_schema: dict[str, Any] | None) -> bool:
    """Return whether `text` is JSON that validates against json_schema["schema"]."""
    try:
        instance = json.loads(text)
        jsonschema.validate(instance, (json_schema or {}).get("schema") or {})
    except (ValueError, jsonschema.ValidationError, jsonschema.SchemaError):
        return False
    return True
