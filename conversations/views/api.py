"""The small JSON API behind the chat page: create a conversation, read or change one.

Every view answers JSON, a 401 when nobody is signed in and a 404 for another
user's conversation.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from conversations import frames
from conversations.forms import ConversationSettingsForm
from conversations.models import Conversation


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
            frames.message_json(m)
            for m in conversation.messages.order_by("created_at", "id")
        ]
        return JsonResponse(data)
    payload = read_json(request)
    if payload is None:
        return HttpResponseBadRequest(_("Send a JSON object."))
    form = ConversationSettingsForm.for_update(conversation, payload)
    if not form.is_valid():
        return form_errors(form)
    conversation = form.save()
    return JsonResponse(frames.conversation_json(conversation))
