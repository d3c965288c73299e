"""The small JSON API behind the chat page: create a conversation, read or change one.

Every view answers JSON, a 401 when nobody is signed in and a 404 for another
user's conversation.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from conversations import frames, limits, list_relay
from conversations.forms import ConversationSettingsForm
from conversations.models import Conversation
from conversations.payloads import type_errors


def api_login_required(view):
    """Like login_required, but a JSON 401 instead of a redirect to a login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": _("Sign in first.")}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


def read_json(request: HttpRequest) -> dict[str, Any] | None:
    """Return the body's JSON object; None if it is not one (or nests too deep)."""
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def read_settings(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    """Return the body's settings, or the 400 that says what is wrong with them."""
    payload = read_json(request)
    if payload is None:
        return JsonResponse({"error": _("Send a JSON object.")}, status=400)
    errors = type_errors(payload)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    return payload


def form_errors(form) -> JsonResponse:
    errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
    return JsonResponse({"errors": errors}, status=400)


@api_login_required
@require_http_methods(["POST"])
def api_conversations(request: HttpRequest) -> HttpResponse:
    """Create a conversation from a model and its settings."""
    payload = read_settings(request)
    if isinstance(payload, HttpResponse):
        return payload
    form = ConversationSettingsForm(payload, instance=Conversation(owner=request.user))
    if not form.is_valid():
        return form_errors(form)
    try:
        limits.check_conversation_rate(request.user.pk)
    except limits.RateLimited as refused:
        return limits.too_many_requests(refused)
    with transaction.atomic():
        conversation = form.save()
        list_relay.changed_on_commit(conversation)
    return JsonResponse(frames.conversation_json(conversation), status=201)


@api_login_required
@require_http_methods(["GET", "PATCH"])
def api_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Read a conversation with its messages, or change its settings."""
    conversation = get_object_or_404(
        Conversation.objects.for_user(request.user), pk=conversation_id
    )
    if request.method == "GET":
        data = frames.conversation_json(conversation)
        data["messages"] = [
            frames.message_json(m) for m in conversation.active_branch()
        ]
        return JsonResponse(data)
    payload = read_settings(request)
    if isinstance(payload, HttpResponse):
        return payload
    form = ConversationSettingsForm.for_update(conversation, payload)
    if not form.is_valid():
        return form_errors(form)
    with transaction.atomic():
        conversation = form.save()
        list_relay.changed_on_commit(conversation)
    return JsonResponse(frames.conversation_json(conversation))
