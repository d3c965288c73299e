"""Checks on request fields, failing with the vendor's 2013 "invalid params" text.

Each check names the field, as the vendor does, so a user can see what to fix.
"""

from __future__ import annotations

import re
from typing import Any

from .failures import InvalidParams

# The vendor's `^\w+$`, at most 64: read as ASCII letters, digits and underscore,
# as the client's check (conversations/minimax/schema.py) reads it too.
SCHEMA_NAME_RE = re.compile(r"^\w{1,64}$", re.ASCII)


def require_str(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidParams(f"{name} is required and must be a non-empty string")
    return value


def require_list(payload: dict[str, Any], name: str, *, empty_ok: bool = False) -> list:
    value = payload.get(name)
    if not isinstance(value, list) or (not value and not empty_ok):
        raise InvalidParams(f"{name} is required and must be a non-empty array")
    return value


def optional_bool(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidParams(f"{name} must be a boolean")
    return value


def unit_interval(payload: dict[str, Any], name: str) -> None:
    """Check a temperature / top_p style field: a number in (0, 1]."""
    value = payload.get(name)
    if value is None:
        return
    if not _is_number(value) or not 0 < value <= 1:
        raise InvalidParams(f"{name} must be in (0,1]")


def positive_int(
    payload: dict[str, Any], name: str, *, maximum: int | None = None
) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidParams(f"{name} must be an integer >= 1")
    if maximum is not None and value > maximum:
        raise InvalidParams(f"{name} must be less than or equal to {maximum}")
    return value


def number_range(
    value: Any, name: str, low: float, high: float, *, low_open: bool = False
) -> float:
    inside = (
        _is_number(value)
        and (low < value if low_open else low <= value)
        and value <= high
    )
    if not inside:
        bracket = "(" if low_open else "["
        raise InvalidParams(f"{name} must be in {bracket}{low:g},{high:g}]")
    return float(value)


def int_range(value: Any, name: str, low: int, high: int) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise InvalidParams(f"{name} must be an integer in [{low},{high}]")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
