"""The chat page: empty, or with one of the signed-in user's conversations."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.views import setup_first
from conversations import frames, history
from conversations.minimax.catalog import DEFAULT_MODEL, MODELS, Dialect, ModelSpec
from conversations.models import Conversation
from conversations.views.strings import history_group_names, page_strings

SIDEBAR_PAGE_SIZE = 40


@setup_first
@login_required
def chat(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    """Show the chat page, empty or with one of the user's conversations."""
    conversation = None
    messages: list[dict[str, Any]] = []
    if conversation_id is not None:
        conversation = get_object_or_404(
            Conversation.objects.for_user(request.user), pk=conversation_id
        )
        messages = [frames.message_json(m) for m in conversation.active_branch()]
    context = {
        "conversation": conversation,
        **sidebar_context(request.user),
        "messages_data": messages,
        "conversation_data": (
            frames.conversation_json(conversation) if conversation else None
        ),
        "models_data": catalog_for_page(),
        "groups": model_groups(),
        "current_model": MODELS.get(
            conversation.model if conversation else DEFAULT_MODEL
        ),
        "strings_data": page_strings(),
        "default_model": DEFAULT_MODEL,
    }
    return render(request, "conversations/chat.html", context)


def sidebar_context(user) -> dict[str, Any]:
    """Return the list's first page: drawn by the template, then kept by the script.

    One page, not every conversation: the script loads the next ones as the list is
    scrolled (GET /api/conversations/?cursor=...).
    """
    zone = timezone.get_current_timezone()
    today = timezone.now().astimezone(zone).date()
    page, next_cursor = history.conversation_page(
        user, archived=False, after=None, limit=SIDEBAR_PAGE_SIZE
    )
    items = [history.list_item(c, today, zone) for c in page]
    groups: list[dict[str, Any]] = []
    for item in items:
        if not groups or groups[-1]["key"] != item["group"]:
            groups.append(
                {"key": item["group"], "label": group_label(item["group"]), "items": []}
            )
        groups[-1]["items"].append(item)
    return {
        "sidebar_groups": groups,
        "history_data": {
            "conversations": items,
            "next": next_cursor.encode() if next_cursor else None,
            "page_size": SIDEBAR_PAGE_SIZE,
        },
    }


def group_label(key: str) -> str:
    """Return the heading of a list group (strings.history_strings has the same)."""
    names = history_group_names()
    if key in names:
        return names[key]
    year, month = (int(part) for part in key.split("-"))
    return date_format(date(year, month, 1), "YEAR_MONTH_FORMAT")


DIALECT_LABELS = {
    Dialect.CHAT: "chat/completions",
    Dialect.V2: "chatcompletion_v2",
    Dialect.PRO: "chatcompletion_pro",
}


def dialect_group_label(dialect: Dialect) -> str:
    labels = {
        Dialect.CHAT: _("OpenAI-compatible API (chat/completions)"),
        Dialect.V2: _("ChatCompletion v2 API"),
        Dialect.PRO: _("ChatCompletion Pro API (legacy, bot settings)"),
    }
    return labels[dialect]


def context_label(tokens: int) -> str:
    """Return a context size the way model cards write it: "200K", "1M"."""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.0f}M"
    return f"{round(tokens / 1024)}K"


def model_features(spec: ModelSpec) -> list[str]:
    """Return what the model supports beyond plain chat, in the reader's language."""
    features = []
    if spec.reasoning:
        features.append(_("reasoning"))
    if spec.supports_json_schema:
        features.append(_("JSON schema"))
    if spec.supports_tools:
        features.append(_("tools"))
    return features


def option_label(spec: ModelSpec) -> str:
    """The picker's line for a model: its name, context size and features."""
    context = _("%(size)s context") % {"size": context_label(spec.context_tokens)}
    return " · ".join([spec.label, context, *model_features(spec)])


def model_groups() -> list[dict[str, Any]]:
    """Return the models grouped by the API they speak by default, for the picker."""
    groups = []
    for dialect in (Dialect.CHAT, Dialect.V2, Dialect.PRO):
        models = [
            {"id": s.id, "option_label": option_label(s)}
            for s in MODELS.values()
            if s.default_dialect == dialect
        ]
        if models:
            groups.append({"label": dialect_group_label(dialect), "models": models})
    return groups


def catalog_for_page() -> list[dict[str, Any]]:
    """Return what the page needs to know about each model (limits, defaults)."""
    return [
        {
            "id": spec.id,
            "label": spec.label,
            "dialects": [d.value for d in spec.dialects],
            "dialect_labels": {d.value: DIALECT_LABELS[d] for d in spec.dialects},
            "default_dialect": spec.default_dialect.value,
            "max_output_tokens": spec.max_output_tokens,
            "default_max_tokens": spec.default_max_tokens,
            "default_temperature": spec.default_temperature,
            "default_top_p": spec.default_top_p,
            "reasoning": spec.reasoning,
            "supports_json_schema": spec.supports_json_schema,
            "supports_tools": spec.supports_tools,
            "context_tokens": spec.context_tokens,
            "context_label": context_label(spec.context_tokens),
            "features": model_features(spec),
        }
        for spec in MODELS.values()
    ]
