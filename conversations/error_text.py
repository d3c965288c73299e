"""What a MiniMax failure reads like to a person, in the reader's language.

The vendor package speaks English and does not translate: its errors carry a
`kind`, the vendor `code` and MiniMax's own `detail`. The page and the commands
turn the kind into a translated headline and advice here. Each headline's msgid is
the English `default_message` of the error class of that kind, so the catalogue's
existing translations keep working (tests/test_error_text.py holds them together).
"""

from __future__ import annotations

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from conversations.minimax.errors import MiniMaxError

# kind -> what happened, and in the words of the error classes' default_message.
HEADLINES: dict[str, Promise] = {
    "upstream_error": _("MiniMax could not answer. Try again in a moment."),
    "auth": _(
        "MiniMax refused the API key. Check MINIMAX_API_KEY (and MINIMAX_GROUP_ID "
        "for legacy endpoints)."
    ),
    "balance": _("The MiniMax account has no balance or quota left. Top it up."),
    "rate_limit": _("MiniMax is rate-limiting this account. Wait a moment and retry."),
    "sensitive_input": _(
        "MiniMax refused the message as sensitive content. Rephrase it and send again."
    ),
    "sensitive_output": _(
        "MiniMax withheld the reply as sensitive content. Rephrase your message."
    ),
    "invalid_request": _("MiniMax rejected the request parameters."),
    "server": _("MiniMax had an internal error. Retry in a moment."),
    "unreachable": _(
        "Could not reach MiniMax. Check the network and MINIMAX_BASE_URL, then retry."
    ),
    "timeout": _("MiniMax stopped responding. Retry in a moment."),
    "protocol": _("MiniMax sent a malformed response. Retry in a moment."),
}

# kind -> what the reader can do about it. "interrupted" is not an error kind: a
# reply the server's restart cut short gets the same kind of advice.
ADVICE: dict[str, Promise] = {
    "auth": _(
        "Check MINIMAX_API_KEY (and MINIMAX_GROUP_ID for the legacy "
        "endpoints) in the server's environment, then retry."
    ),
    "balance": _("Top up the MiniMax account, then retry."),
    "rate_limit": _("Wait a moment, then retry."),
    "sensitive_input": _("Rephrase your message and send it again."),
    "sensitive_output": _("Rephrase your message and send it again."),
    "invalid_request": _(
        "Check this conversation's settings (model, ranges, schema), then retry."
    ),
    "server": _("This is on MiniMax's side. Retry in a moment."),
    "unreachable": _("Check the network, then retry."),
    "timeout": _("MiniMax took too long to answer. Retry."),
    "protocol": _("The answer was garbled on the way. Retry."),
    "upstream_error": _("Retry in a moment."),
    "interrupted": _("The server restarted while answering. Retry."),
    "reply_limit": _(
        "The reply reached this site's size or time limit and was cut short."
    ),
}


def error_headline(kind: str) -> str:
    """Return the translated headline of an error kind (unknown kinds: the generic
    one, so a kind stored by a newer version still reads sensibly)."""
    return str(HEADLINES.get(kind, HEADLINES["upstream_error"]))


def error_advice(kind: str) -> str:
    """Return the translated advice for an error kind, or "" when there is none."""
    advice = ADVICE.get(kind)
    return str(advice) if advice is not None else ""


def error_titles(language: str | None = None) -> dict[str, str]:
    """Return kind -> headline, in `language` or the active one."""
    with translation.override(language or translation.get_language()):
        return {kind: str(text) for kind, text in HEADLINES.items()}


def advice_texts(language: str | None = None) -> dict[str, str]:
    """Return kind -> advice, in `language` or the active one."""
    with translation.override(language or translation.get_language()):
        return {kind: str(text) for kind, text in ADVICE.items()}


def describe_error(error: MiniMaxError) -> str:
    """Return one line for a person: the translated headline, then MiniMax's own
    detail (untranslated, as MiniMax or the client wrote it) and the code."""
    line = error_headline(error.kind)
    if error.detail:
        line = f"{line} ({error.detail})"
    line = " ".join(line.split())  # one line, whatever the vendor's text holds
    return f"{line} [MiniMax {error.code}]" if error.code else line
