"""Typed MiniMax errors, from `base_resp.status_code`, the HTTP status or the network.

Each error carries a `kind` (a stable slug the app stores and the page keys its
headline and advice on), the vendor `code` when there is one, MiniMax's own
`detail` (its status_msg, untranslated), and whether a retry may help.

Nothing here is translated: the package speaks English to logs and the shell, and
the app translates by `kind` (conversations/error_text.py). `default_message` is
the English headline of each kind; error_text.py holds the same text as its msgid.
No text here ever contains the API key.
"""

from __future__ import annotations


class MiniMaxError(Exception):
    """Base class: something stopped MiniMax from answering."""

    kind = "upstream_error"
    retryable = False
    default_message = "MiniMax could not answer. Try again in a moment."

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str | None = None,
        code: int | None = None,
        http_status: int | None = None,
        trace_id: str | None = None,
    ) -> None:
        # message: one whole English sentence, for logs and the shell.
        # detail: what this failure says beyond its kind's headline (MiniMax's own
        # status_msg, or which check or timer failed); "" when the headline is all.
        self.message = str(message or self.default_message)
        self.detail = str(message or "") if detail is None else detail
        self.code = code
        self.http_status = http_status
        self.trace_id = trace_id
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} (MiniMax {self.code})" if self.code else self.message


class AuthenticationFailed(MiniMaxError):
    kind = "auth"
    default_message = (
        "MiniMax refused the API key. Check MINIMAX_API_KEY (and MINIMAX_GROUP_ID "
        "for legacy endpoints)."
    )


class InsufficientBalance(MiniMaxError):
    kind = "balance"
    default_message = "The MiniMax account has no balance or quota left. Top it up."


class RateLimited(MiniMaxError):
    kind = "rate_limit"
    retryable = True
    default_message = "MiniMax is rate-limiting this account. Wait a moment and retry."


class SensitiveInput(MiniMaxError):
    kind = "sensitive_input"
    default_message = (
        "MiniMax refused the message as sensitive content. Rephrase it and send again."
    )


class SensitiveOutput(MiniMaxError):
    kind = "sensitive_output"
    default_message = (
        "MiniMax withheld the reply as sensitive content. Rephrase your message."
    )


class InvalidRequest(MiniMaxError):
    """The request broke a documented rule (a range, a field); fix and resend."""

    kind = "invalid_request"
    default_message = "MiniMax rejected the request parameters."


class ServerError(MiniMaxError):
    kind = "server"
    retryable = True
    default_message = "MiniMax had an internal error. Retry in a moment."


class UpstreamUnreachable(MiniMaxError):
    kind = "unreachable"
    retryable = True
    default_message = (
        "Could not reach MiniMax. Check the network and MINIMAX_BASE_URL, then retry."
    )


class UpstreamTimeout(MiniMaxError):
    kind = "timeout"
    retryable = True
    default_message = "MiniMax stopped responding. Retry in a moment."


class ProtocolError(MiniMaxError):
    """The upstream sent something that is not the documented wire format."""

    kind = "protocol"
    default_message = "MiniMax sent a malformed response. Retry in a moment."


# base_resp.status_code -> error class (docs/minimax-protocol.md §14).
ERRORS_BY_CODE: dict[int, type[MiniMaxError]] = {
    1000: ServerError,
    1001: UpstreamTimeout,
    1002: RateLimited,
    1004: AuthenticationFailed,
    1008: InsufficientBalance,
    1013: ServerError,
    1024: ServerError,
    1026: SensitiveInput,
    1027: SensitiveOutput,
    1028: InsufficientBalance,
    1030: InsufficientBalance,
    1033: ServerError,
    1039: RateLimited,
    1041: RateLimited,
    1042: InvalidRequest,
    2013: InvalidRequest,
    20132: InvalidRequest,
    2042: InvalidRequest,
    2045: RateLimited,
    2049: AuthenticationFailed,
    2056: RateLimited,
    2061: InvalidRequest,
}


def error_for_code(
    code: int,
    status_msg: str = "",
    *,
    http_status: int | None = None,
    trace_id: str | None = None,
) -> MiniMaxError:
    """Return the typed error for a non-zero `base_resp.status_code`."""
    cls = ERRORS_BY_CODE.get(code, MiniMaxError)
    message = cls.default_message
    if cls in (InvalidRequest, MiniMaxError) and status_msg:
        # The vendor's text names the offending field; keep it in the sentence.
        message = f"{cls.default_message} {status_msg}"
    return cls(
        message,
        detail=status_msg,
        code=code,
        http_status=http_status,
        trace_id=trace_id,
    )


def error_for_http_status(
    status: int, detail: str = "", *, trace_id: str | None = None
) -> MiniMaxError:
    """Return the typed error for an HTTP failure without a usable base_resp."""
    if status in (401, 403):
        cls: type[MiniMaxError] = AuthenticationFailed
    elif status == 402:
        cls = InsufficientBalance
    elif status == 429:
        cls = RateLimited
    elif status in (408, 504):
        cls = UpstreamTimeout
    elif status >= 500:
        cls = ServerError
    elif status >= 400:
        cls = InvalidRequest
    else:
        cls = ProtocolError
    message = (
        f"{cls.default_message} {detail}".strip() if cls is InvalidRequest else None
    )
    return cls(message, detail=detail, http_status=status, trace_id=trace_id)


def error_classes_by_kind() -> dict[str, type[MiniMaxError]]:
    """Return every error class by its `kind` (the slug stored with a failed reply)."""
    return {cls.kind: cls for cls in (MiniMaxError, *MiniMaxError.__subclasses__())}
