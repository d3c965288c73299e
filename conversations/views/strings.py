"""The translated interface text the chat page's script needs (json_script data)."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from conversations.minimax.errors import error_classes_by_kind


def page_strings() -> dict[str, Any]:
    """Return the translated interface text the script needs (placeholders in {})."""
    return {
        "you": _("You"),
        "assistant": _("Assistant"),
        "reasoning": _("Reasoning"),
        "copy": _("Copy"),
        "copied": _("Copied"),
        "retry": _("Retry"),
        "regenerate": _("Regenerate"),
        "pin": _("Pin"),
        "unpin": _("Unpin"),
        "stopped": _("Stopped"),
        "interrupted": _("Interrupted"),
        "sending": _("Sending…"),
        "usage": _("Tokens: {prompt} prompt · {completion} completion · {total} total"),
        "first_token": _("First token after {ms} ms"),
        "duration": _("Total {seconds} s"),
        "json_valid": _("Matches the schema"),
        "json_invalid": _("Does not match the schema"),
        "input_flagged": _("MiniMax flagged this message as sensitive."),
        "output_flagged": _("MiniMax flagged this reply as sensitive."),
        "length": _("The reply reached the token limit and was cut short."),
        "connecting": _("Connecting…"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "invalid_json": _("This is not valid JSON."),
        "range_unit": _("Enter a number greater than 0 and at most 1."),
        "range_tokens": _("Enter a whole number from 1 to {max}."),
        "saved": _("Settings saved."),
        "save_failed": _("The settings were not saved. Check the fields marked."),
        "create_failed": _("Could not start the conversation. Try again."),
        "system_prompt": _("System prompt"),
        "bot_setting": _("Bot setting (who the bot is)"),
        "default_value": _("default {value}"),
        "frame_errors": {
            "busy": _("Wait for the current reply to finish (or stop it) first."),
            "empty": _("Type a message first."),
            "too_long": _("The message is too long."),
            "bad_frame": _("The server did not understand the request. Reload."),
            "nothing_to_regenerate": _("There is no reply to regenerate."),
        },
        "advice": {
            "auth": _(
                "Check MINIMAX_API_KEY (and MINIMAX_GROUP_ID for the legacy "
                "endpoints) in the server's environment, then retry."
            ),
            "balance": _("Top up the MiniMax account, then retry."),
            "rate_limit": _("Wait a moment, then retry."),
            "sensitive_input": _("Rephrase your message and send it again."),
            "sensitive_output": _("Rephrase your message and send it again."),
            "invalid_request": _(
                "Check this conversation's settings (model, ranges, schema), then "
                "retry."
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
        },
        "context_trimmed": _(
            "{count} older turns were left out so the conversation fits the "
            "model's context window."
        ),
        "error_fallback": _("The reply failed."),
        # A failed reply stores the message in the language of the process that ran
        # it; the page heads the error with its kind's text in the reader's language
        # and shows the stored message only when it says more than that text.
        "error_titles": error_titles(),
        "error_titles_en": error_titles("en"),
    }


def error_titles(language: str | None = None) -> dict[str, str]:
    """Return each error kind's generic message, in `language` or the active one."""
    with translation.override(language or translation.get_language()):
        return {
            kind: str(cls.default_message)
            for kind, cls in error_classes_by_kind().items()
        }
