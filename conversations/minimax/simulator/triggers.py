"""Trigger phrases: `[sim:...]` markers in a prompt that steer the simulator.

The table lives in docs/simulator.md; every part of the app's tests may rely on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .failures import SimError, SimHttpError

TRIGGER_RE = re.compile(r"\[sim:([a-z-]+)(?:=(\d+))?\]")

# Faults change how the body is delivered, not what it says.
FAULTS = ("stall-first", "stall-mid", "drop", "malformed", "huge-line")
FLAGS = (
    *FAULTS,
    "flag-input",
    "flag-output",
    "long",
    "length",
    "done",
    "tool",
    "odd-numbers",
    "repeat",
    "echo",
)
HTTP_ERROR_STATUSES = range(400, 600)


@dataclass(frozen=True, slots=True)
class Triggers:
    flags: frozenset[str] = frozenset()
    error_code: int | None = None
    http_status: int | None = None  # [sim:http=502]: an HTML error page

    def __contains__(self, flag: str) -> bool:
        return flag in self.flags

    @property
    def fault(self) -> str | None:
        return next((f for f in FAULTS if f in self.flags), None)

    def raise_error(self) -> None:
        """Raise the `[sim:http=STATUS]` or `[sim:error=CODE]` asked for, if any."""
        if self.http_status is not None:
            raise SimHttpError(self.http_status)
        if self.error_code is not None:
            raise SimError(self.error_code)


def parse_triggers(text: str) -> Triggers:
    """Return the trigger phrases found in `text` (unknown names are ignored)."""
    flags: set[str] = set()
    error_code = http_status = None
    for name, value in TRIGGER_RE.findall(text or ""):
        if name == "error" and value:
            error_code = int(value)
        elif name == "http" and value and int(value) in HTTP_ERROR_STATUSES:
            http_status = int(value)
        elif name in FLAGS:
            flags.add(name)
    return Triggers(frozenset(flags), error_code, http_status)


def echo_text(text: str) -> str:
    """Return `text` without its trigger phrases, every other character kept."""
    return TRIGGER_RE.sub("", text or "").strip()


def strip_triggers(text: str) -> str:
    """Return `text` without its trigger phrases, for quoting or speaking it."""
    return re.sub(r"\s{2,}", " ", TRIGGER_RE.sub("", text or "")).strip()
