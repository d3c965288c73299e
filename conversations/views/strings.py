"""The translated interface text the chat page's script needs (json_script data)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from conversations import error_text


def page_strings() -> dict[str, Any]:
    """Return the translated interface text the script needs (placeholders in {})."""
    return {
        "you": _("You"),
        "assistant": _("Assistant"),
        "reasoning": _("Reasoning"),
        "site_name": _("MiniMax Chat"),
        "copy": _("Copy"),
        "copied": _("Copied"),
        "copy_message": _("Copy message (Markdown)"),
        "speak": _("Speak"),
        "message_actions": _("Message actions"),
        "thinking": _("Thinking… {seconds} s"),
        "model_api": _("API"),
        "model_context": _("Context"),
        "model_context_value": _("{size} tokens"),
        "model_output": _("Longest reply"),
        "model_supports": _("Supports"),
        "model_supports_none": _("plain chat"),
        "retry": _("Retry"),
        "regenerate": _("Regenerate"),
        "edit": _("Edit"),
        "edit_label": _("Edit your message"),
        "edit_save": _("Save and send"),
        "edit_cancel": _("Cancel"),
        "edit_hint": _("Ctrl+Enter to save, Esc to cancel"),
        "versions": _("Versions"),
        "version_prev": _("Previous version"),
        "version_next": _("Next version"),
        "pin": _("Pin"),
        "unpin": _("Unpin"),
        "stopped": _("Stopped"),
        "interrupted": _("Interrupted"),
        "sending": _("Sending…"),
        "usage": _("Tokens: {prompt} prompt · {completion} completion · {total} total"),
        "usage_total": _("Tokens: {total} total"),
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
            "no_such_message": _("That message is no longer in this conversation."),
            "not_editable": _("Only your own messages can be edited."),
        },
        "advice": error_text.advice_texts(),
        # What happened, without the advice (the error box says that once, below).
        "error_what": {
            "upstream_error": _("MiniMax could not answer."),
            "auth": _("MiniMax refused the API key."),
            "balance": _("The MiniMax account has no balance or quota left."),
            "rate_limit": _("MiniMax is rate-limiting this account."),
            "sensitive_input": _("MiniMax refused the message as sensitive content."),
            "sensitive_output": _("MiniMax withheld the reply as sensitive content."),
            "invalid_request": _("MiniMax rejected the request parameters."),
            "server": _("MiniMax had an internal error."),
            "unreachable": _("Could not reach MiniMax."),
            "timeout": _("MiniMax stopped responding."),
            "protocol": _("MiniMax sent a malformed response."),
        },
        "context_trimmed": _(
            "{count} older turns were left out so the conversation fits the "
            "model's context window."
        ),
        "error_fallback": _("The reply failed."),
        # A failed reply stores the message in the language of the process that ran
        # it; the page heads the error with its kind's text in the reader's language
        # and shows the stored message only when it says more than that text.
        "error_titles": error_text.error_titles(),
        "error_titles_en": error_text.error_titles("en"),
        "history": history_strings(),
    }


def history_group_names() -> dict[str, str]:
    """Return the headings of the list's day groups (months are formatted)."""
    return {
        "pinned": _("Pinned"),
        "today": _("Today"),
        "yesterday": _("Yesterday"),
        "previous_7_days": _("Previous 7 days"),
        "previous_30_days": _("Previous 30 days"),
    }


def history_strings() -> dict[str, Any]:
    """Return the text of the conversation list, search, export and import."""
    return {
        "groups": history_group_names(),
        "untitled": _("Untitled conversation"),
        "empty": _("No conversations yet."),
        "empty_archived": _("No archived conversations."),
        "loading": _("Loading…"),
        "load_failed": _("The list could not be loaded. Scroll to try again."),
        "actions_for": _("Actions for {title}"),
        "rename": _("Rename"),
        "rename_label": _("New title"),
        "pin": _("Pin"),
        "unpin": _("Unpin"),
        "archive": _("Archive"),
        "restore": _("Restore"),
        "delete": _("Delete"),
        "export_md": _("Export as Markdown"),
        "export_json": _("Export as JSON"),
        "select": _("Select"),
        "selected": _("{count} selected"),
        "archive_selected": _("Archive selected"),
        "delete_selected": _("Delete selected"),
        "cancel": _("Cancel"),
        "confirm_delete_one": _("Delete “{title}”? Its messages are deleted too."),
        "confirm_delete_many": _(
            "Delete {count} conversations? Their messages are deleted too."
        ),
        "deleted_one": _("Conversation deleted."),
        "deleted_many": _("{count} conversations deleted."),
        "undo": _("Undo"),
        "action_failed": _("That did not work: {reason}"),
        "search_results": _("Search results"),
        "search_titles": _("Conversations"),
        "search_messages": _("Messages"),
        "no_results": _("Nothing found."),
        "searching": _("Searching…"),
        "search_failed": _("The search failed: {reason}"),
        "in_reasoning": _("in the reasoning"),
        "you": _("You"),
        "assistant": _("Assistant"),
        "import_done": _("Imported {count} conversations ({skipped} already here)."),
        "import_failed": _("Nothing was imported: {reason}"),
        "importing": _("Importing…"),
    }
