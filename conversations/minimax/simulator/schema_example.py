"""Build a JSON value that validates against a JSON schema (the json_schema subset).

MiniMax's response_format supports string, number, integer, boolean, array, object
and enum, with every property required (docs/minimax-protocol.md §8). Enums take their
last value: in the vendor's content-analysis example that is the benign one
("正常", "low").
"""

from __future__ import annotations

from typing import Any


def example_for_schema(
    schema: dict[str, Any], topic: str = "", key: str = "value"
) -> Any:
    """Return a value for `schema`; strings mention `topic` to read sensibly."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][-1]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return example_for_schema(schema[combinator][0], topic, key)
    kind = _type_of(schema)
    builder = _BUILDERS.get(kind, _string)
    return builder(schema, topic, key)


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind:
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _object(schema: dict[str, Any], topic: str, key: str) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    value = {
        name: example_for_schema(sub, topic, name) for name, sub in properties.items()
    }
    for name in schema.get("required", []):
        value.setdefault(name, f"{name}")
    return value


def _array(schema: dict[str, Any], topic: str, key: str) -> list[Any]:
    items = schema.get("items", {"type": "string"})
    if isinstance(items, list):  # draft-4 tuple form
        items = items[0] if items else {"type": "string"}
    count = max(schema.get("minItems", 0), min(schema.get("maxItems", 2), 2))
    return [example_for_schema(items, topic, f"{key} {i + 1}") for i in range(count)]


def _string(schema: dict[str, Any], topic: str, key: str) -> str:
    special = {
        "date-time": "2025-01-01T00:00:00Z",
        "date": "2025-01-01",
        "email": "user@example.com",
        "uri": "https://example.com/",
    }.get(schema.get("format", ""))
    if special:
        return special
    text = f"{key}: {topic}" if topic else key
    text = text[: schema.get("maxLength", 120)]
    return text.ljust(schema.get("minLength", 0), ".")


def _number(schema: dict[str, Any], topic: str, key: str) -> float:
    low, high = _bounds(schema, 0.0, 1.0)
    return round(low + (high - low) * 0.87, 2)


def _integer(schema: dict[str, Any], topic: str, key: str) -> int:
    low, high = _bounds(schema, 0, 10)
    value = int(low + (high - low) * 0.3)
    return min(max(value, _int_floor(schema)), _int_ceiling(schema))


def _bounds(schema: dict[str, Any], low: float, high: float) -> tuple[float, float]:
    low = schema.get("minimum", schema.get("exclusiveMinimum", low))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(high, low + 1)))
    return low, high


def _int_floor(schema: dict[str, Any]) -> int:
    if "exclusiveMinimum" in schema:
        return int(schema["exclusiveMinimum"]) + 1
    return int(schema.get("minimum", -(2**31)))


def _int_ceiling(schema: dict[str, Any]) -> int:
    if "exclusiveMaximum" in schema:
        return int(schema["exclusiveMaximum"]) - 1
    return int(schema.get("maximum", 2**31))


_BUILDERS = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": lambda schema, topic, key: True,
    "null": lambda schema, topic, key: None,
}
