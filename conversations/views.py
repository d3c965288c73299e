"""The pages (chat, accounts) and the small JSON API behind the chat page."""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from conversations import error_text
from conversations.forms import ConversationSettingsForm, FirstUserForm, SignupForm
from conversations.minimax.catalog import DEFAULT_MODEL, MODELS, Dialect
from conversations.models import Conversation


def site_has_users() -> bool:
    return get_user_model().objects.exists()


def setup_first(view):
    """Send visitors of a site with no account yet to /setup/."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        # A signed-in visitor proves an account exists: no query for them.
        if not request.user.is_authenticated and not site_has_users():
            return redirect("setup")
        return view(request, *args, **kwargs)

    return wrapper


# --- accounts -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Create the first account (staff and superuser) and sign it in."""
    if site_has_users():
        raise Http404
    form = FirstUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Two people racing through setup: only the first one wins.
            if site_has_users():
                raise Http404
            user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("chat")
    return render(request, "registration/setup.html", {"form": form})


class SiteLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        if not site_has_users():
            return redirect("setup")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(open_signup=settings.OPEN_SIGNUP, **kwargs)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Let anyone create an account, only when the site is configured to."""
    if not settings.OPEN_SIGNUP:
        raise Http404
    if not site_has_users():
        return redirect("setup")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("chat")
    return render(request, "registration/signup.html", {"form": form})


# --- the chat page ------------------------------------------------------------


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
        messages = [
            m.as_dict() for m in conversation.messages.order_by("created_at", "id")
        ]
    sidebar = (
        Conversation.objects.for_user(request.user)
        .filter(archived=False)
        .order_by("-pinned", "-updated_at", "-id")
        .only("id", "title", "model", "pinned", "updated_at")
    )
    context = {
        "conversation": conversation,
        "sidebar": sidebar,
        "messages_data": messages,
        "conversation_data": conversation_dict(conversation) if conversation else None,
        "models_data": catalog_for_page(),
        "groups": model_groups(),
        "current_model": MODELS.get(
            conversation.model if conversation else DEFAULT_MODEL
        ),
        "strings_data": page_strings(),
        "default_model": DEFAULT_MODEL,
    }
    return render(request, "conversations/chat.html", context)


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


def model_groups() -> list[dict[str, Any]]:
    """Return the models grouped by the API they speak by default, for the picker."""
    groups = []
    for dialect in (Dialect.CHAT, Dialect.V2, Dialect.PRO):
        models = [s for s in MODELS.values() if s.default_dialect == dialect]
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
        }
        for spec in MODELS.values()
    ]


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
        },
        "error_fallback": _("The reply failed."),
        # A failed reply stores the message in the language of the process that ran
        # it; the page heads the error with its kind's text in the reader's language
        # and shows the stored message only when it says more than that text.
        "error_titles": error_titles(),
        "error_titles_en": error_titles("en"),
    }


def error_titles(language: str | None = None) -> dict[str, str]:
    """Return each error kind's headline, in `language` or the active one."""
    # The vendor package no longer translates: the headlines live in error_text.
    return error_text.error_titles(language)


# --- the JSON API -------------------------------------------------------------


def conversation_dict(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "url": conversation.get_absolute_url(),
        "title": conversation.title,
        "model": conversation.model,
        "dialect": conversation.dialect,
        "system_prompt": conversation.system_prompt,
        "bot_name": conversation.bot_name,
        "user_name": conversation.user_name,
        "temperature": conversation.temperature,
        "top_p": conversation.top_p,
        "max_tokens": conversation.max_tokens,
        "json_schema": conversation.json_schema,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
    }


def api_login_required(view):
    """Like login_required, but a JSON 401 instead of a redirect to a login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": _("Sign in first.")}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


def read_json(request: HttpRequest) -> dict[str, Any] | None:
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def form_errors(form) -> JsonResponse:
    errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
    return JsonResponse({"errors": errors}, status=400)


@api_login_required
@require_http_methods(["POST"])
def api_conversations(request: HttpRequest) -> HttpResponse:
    """Create a conversation from a model and its settings."""
    payload = read_json(request)
    if payload is None:
        return HttpResponseBadRequest(_("Send a JSON object."))
    form = ConversationSettingsForm(payload, instance=Conversation(owner=request.user))
    if not form.is_valid():
        return form_errors(form)
    conversation = form.save()
    return JsonResponse(conversation_dict(conversation), status=201)


@api_login_required
@require_http_methods(["GET", "PATCH"])
def api_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Read a conversation with its messages, or change its settings."""
    conversation = get_object_or_404(
        Conversation.objects.for_user(request.user), pk=conversation_id
    )
    if request.method == "GET":
        data = conversation_dict(conversation)
        data["messages"] = [
            m.as_dict() for m in conversation.messages.order_by("created_at", "id")
        ]
        return JsonResponse(data)
    payload = read_json(request)
    if payload is None:
        return HttpResponseBadRequest(_("Send a JSON object."))
    form = ConversationSettingsForm.for_update(conversation, payload)
    if not form.is_valid():
        return form_errors(form)
    conversation = form.save()
    return JsonResponse(conversation_dict(conversation))
