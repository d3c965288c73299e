"""The vendor's error codes and texts, and how each endpoint family renders them.

Native endpoints (v2, pro, t2a_v2, text_to_speech) answer HTTP 200 with a non-zero
`base_resp`; /v1/chat/completions answers a real HTTP status with an OpenAI-style
`error` object (docs/minimax-protocol.md §14-§15, and the `[sim:error=CODE]` row
of docs/simulator.md).
"""

from __future__ import annotations

# The vendor's status_msg for each code (docs/minimax-protocol.md §14).
STATUS_MESSAGES: dict[int, str] = {
    1000: "unknown error",
    1001: "request timeout",
    1002: "rate limit exceeded(RPM)",
    1004: "token not match group",
    1008: "insufficient balance",
    1013: "internal server error",
    1024: "internal error",
    1026: "input new_sensitive",
    1027: "output new_sensitive",
    1028: "quota exhausted",
    1030: "quota exhausted",
    1033: "system error",
    1039: "rate limit exceeded(TPM)",
    1041: "conn limit",
    1042: "invisible character ratio limit",
    2013: "invalid params, invalid chat setting",
    20132: "invalid samples or voice_id",
    2042: "no access to this voice_id",
    2045: "rate growth limit",
    2049: "invalid api key",
    2056: "usage limit exceeded",
    2061: "model not available on current plan",
}

LOGIN_FAIL = (
    "login fail: Please carry the API secret key in the 'Authorization' field of "
    "the request header"
)

# /v1/chat/completions: HTTP status and error type per code (the brief's table).
_COMPAT_STATUS: dict[int, tuple[int, str]] = {
    **dict.fromkeys((1004, 2049), (401, "authentication_error")),
    **dict.fromkeys((1002, 1039, 1041, 2045, 2056), (429, "rate_limit_error")),
    **dict.fromkeys((1008, 1028, 1030), (429, "insufficient_balance_error")),
    **dict.fromkeys(
        (2013, 1026, 1027, 1042, 20132, 2042, 2061), (400, "bad_request_error")
    ),
    1001: (408, "timeout_error"),
}
_COMPAT_DEFAULT = (500, "api_error")


class SimError(Exception):
    """A request the simulated MiniMax answers with a non-zero status code."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message or STATUS_MESSAGES.get(code, "simulated error")
        super().__init__(f"{self.message} ({code})")


class InvalidParams(SimError):
    """Status 2013, with the vendor's "invalid params, <detail>" text."""

    def __init__(self, detail: str) -> None:
        super().__init__(2013, f"invalid params, {detail}")


class SimHttpError(Exception):
    """A request answered by what sits in front of MiniMax: a proxy's HTML page."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"HTTP {status}")


HTTP_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def html_error_page(status: int) -> bytes:
    """Return the HTML page a gateway (nginx, a load balancer) answers with."""
    title = f"{status} {HTTP_REASONS.get(status, 'Error')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def base_resp(code: int = 0, message: str = "") -> dict[str, object]:
    return {"status_code": code, "status_msg": message}


def compat_status(code: int) -> tuple[int, str]:
    """Return the HTTP status and error type /v1/chat/completions uses for `code`."""
    return _COMPAT_STATUS.get(code, _COMPAT_DEFAULT)


def compat_error_body(
    error: SimError, request_id: str
) -> tuple[int, dict[str, object]]:
    """Return (HTTP status, body) of a /v1/chat/completions error."""
    status, error_type = compat_status(error.code)
    body = {
        "type": "error",
        "error": {
            "type": error_type,
            "message": f"{error.message} ({error.code})",
            "http_code": str(status),
        },
        "request_id": request_id,
        "base_resp": base_resp(error.code, error.message),
    }
    return status, body
