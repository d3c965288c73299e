"""The history JSON API: the list, rename/pin/archive/delete, search, export, import.

docs/api.md describes every endpoint. Two URLs are shared with the older
views in views/api.py: `conversations_collection` and `conversation_detail` send each
method to the view that handles it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from conversations import exports, frames, history, imports, list_relay, search
from conversations.forms import ConversationSettingsForm
from conversations.models import Conversation, TitleSource
from conversations.payloads import type_errors
from conversations.views import api

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 20
HISTORY_FIELDS = ("title", "pinned", "archived")


class BadParameter(ValueError):
    """A query parameter or a field has the wrong value; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def bad_request(field: str, message: str) -> JsonResponse:
    return JsonResponse({"errors": {field: [message]}}, status=400)


# --- routing shared URLs ------------------------------------------------------


def conversations_collection(request: HttpRequest) -> HttpResponse:
    """/api/conversations/: GET lists (here), POST creates (views/api.py)."""
    if request.method == "GET":
        return conversation_list(request)
    if request.method == "POST":
        return api.api_conversations(request)
    return HttpResponseNotAllowed(["GET", "POST"])


def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """/api/conversations/<id>/: GET (views/api.py), PATCH and DELETE (here)."""
    if request.method == "GET":
        return api.api_conversation(request, conversation_id)
    if request.method == "PATCH":
        return conversation_patch(request, conversation_id)
    if request.method == "DELETE":
        return conversation_delete(request, conversation_id)
    return HttpResponseNotAllowed(["GET", "PATCH", "DELETE"])


# --- parameters ---------------------------------------------------------------


def time_zone(request: HttpRequest) -> ZoneInfo:
    name = request.GET.get("tz") or settings.TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise BadParameter(
            "tz", _("Unknown time zone %(name)r.") % {"name": name}
        ) from error


def page_size(request: HttpRequest, default: int) -> int:
    raw = request.GET.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise BadParameter(
            "limit",
            _("Enter a whole number from 1 to %(max)s.") % {"max": MAX_PAGE_SIZE},
        )
    return int(raw)


def flag(request: HttpRequest, name: str) -> bool | None:
    """Return a 0/1 query parameter as a bool, None when absent."""
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("0", "1", "true", "false"):
        raise BadParameter(name, _("Use 1 or 0."))
    return raw in ("1", "true")


def day(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        raise BadParameter(name, _("Enter a date as YYYY-MM-DD.")) from error


# --- the list -----------------------------------------------------------------


@api.api_login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    """Return one page of the user's conversations, each with its day group."""
    try:
        zone = time_zone(request)
        limit = page_size(request, PAGE_SIZE)
        archived = bool(flag(request, "archived"))
        cursor = request.GET.get("cursor")
        after = history.ListCursor.decode(cursor) if cursor else None
    except BadParameter as error:
        return bad_request(error.field, str(error))
    except history.CursorError:
        return bad_request("cursor", _("This cursor is not one the list gave out."))
    page, next_cursor = history.conversation_page(
        request.user, archived=archived, after=after, limit=limit
    )
    today = timezone.now().astimezone(zone).date()
    return JsonResponse(
        {
            "conversations": [history.list_item(c, today, zone) for c in page],
            "next": next_cursor.encode() if next_cursor else None,
            "tz": str(zone),
        }
    )


# --- rename, pin, archive, delete ---------------------------------------------


def clean_history_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """Return title/pinned/archived from a PATCH, checked strictly."""
    cleaned: dict[str, Any] = {}
    for name in ("pinned", "archived"):
        if name in payload:
            if not isinstance(payload[name], bool):
                raise BadParameter(name, _("Must be true or false."))
            cleaned[name] = payload[name]
    if "title" in payload:
        title = payload["title"]
        if not isinstance(title, str):
            raise BadParameter("title", _("Must be text."))
        title = " ".join(title.split())
        if not title:
            raise BadParameter("title", _("Enter a title."))
        if len(title) > Conversation._meta.get_field("title").max_length:
            raise BadParameter("title", _("At most 200 characters."))
        cleaned["title"] = title
    return cleaned


@api.api_login_required
def conversation_patch(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Rename, pin or archive (here), and/or change settings (the settings form)."""
    conversation = get_object_or_404(
        Conversation.objects.for_user(request.user), pk=conversation_id
    )
    payload = api.read_json(request)
    if payload is None:
        return bad_request("__all__", _("Send a JSON object."))
    try:
        changes = clean_history_fields(payload)
    except BadParameter as error:
        return bad_request(error.field, str(error))
    rest = {k: v for k, v in payload.items() if k not in HISTORY_FIELDS}
    errors = type_errors(rest)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    with transaction.atomic():
        if rest:
            form = ConversationSettingsForm.for_update(conversation, rest)
            if not form.is_valid():
                return api.form_errors(form)
            conversation = form.save()
        if changes:
            for name, value in changes.items():
                setattr(conversation, name, value)
            fields = list(changes)
            if "title" in changes:
                conversation.title_source = TitleSource.USER
                fields.append("title_source")
            # Not updated_at: pinning or renaming is not activity, and must not
            # move the conversation to the top of the list.
            conversation.save(update_fields=fields)
        if rest or changes:
            list_relay.changed_on_commit(conversation)
    data = frames.conversation_json(conversation)
    data["title_source"] = conversation.title_source
    return JsonResponse(data)


@api.api_login_required
def conversation_delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Delete the conversation and its messages (the search index follows)."""
    conversation = get_object_or_404(
        Conversation.objects.for_user(request.user), pk=conversation_id
    )
    with transaction.atomic():
        owner_id, pk = conversation.owner_id, conversation.pk
        conversation.delete()
        list_relay.removed_on_commit(owner_id, pk)
    return HttpResponse(status=204)


# --- search -------------------------------------------------------------------


def search_filters(request: HttpRequest) -> search.Filters:
    zone = time_zone(request)
    since, until = day(request, "from"), day(request, "to")
    return search.Filters(
        owner_id=request.user.pk,
        model=request.GET.get("model", ""),
        since=history.day_start(since, zone) if since else None,
        until=history.day_after(until, zone) if until else None,
        flagged=bool(flag(request, "flagged")),
        archived=flag(request, "archived"),
        reasoning=bool(flag(request, "reasoning")),
    )


def search_cursor(request: HttpRequest) -> int | None:
    raw = request.GET.get("cursor")
    if not raw:
        return None
    if not raw.isdigit():
        raise BadParameter("cursor", _("This cursor is not one the search gave out."))
    return int(raw)


@api.api_login_required
@require_http_methods(["GET"])
def search_view(request: HttpRequest) -> HttpResponse:
    """Return the newest messages (and titles) that contain every word of q."""
    try:
        terms = search.parse_terms(request.GET.get("q", ""))
    except search.QueryError as error:
        return bad_request("q", _("Cannot search for this: %(why)s.") % {"why": error})
    try:
        filters = search_filters(request)
        before = search_cursor(request)
        limit = page_size(request, SEARCH_PAGE_SIZE)
    except BadParameter as error:
        return bad_request(error.field, str(error))
    return JsonResponse(history.run_search(terms, filters, before=before, limit=limit))


# --- export and import --------------------------------------------------------

EXPORT_TYPES = {
    "json": "application/json; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}


def export_format(request: HttpRequest) -> str:
    name = request.GET.get("format", "json")
    if name not in EXPORT_TYPES:
        raise BadParameter("format", _("Use json or md."))
    return name


async def _async_chunks(chunks: Iterator[str]) -> AsyncIterator[bytes]:
    # Each next() reads the database: run it in Django's sync thread.
    next_chunk = sync_to_async(next, thread_sensitive=True)
    while (chunk := await next_chunk(chunks, None)) is not None:
        yield chunk.encode()


def attachment(
    request: HttpRequest, chunks: Iterator[str], kind: str, filename: str
) -> StreamingHttpResponse:
    """Return the export as a download, streamed: memory stays flat.

    Under ASGI (daphne) a synchronous iterator would be read whole into memory
    before the first byte is sent, so there it is wrapped in an async one.
    """
    if isinstance(request, ASGIRequest):
        content = _async_chunks(chunks)
    else:
        content = (chunk.encode() for chunk in chunks)
    response = StreamingHttpResponse(content, content_type=EXPORT_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def document(rows, kind: str):
    return (
        exports.json_document(rows)
        if kind == "json"
        else exports.markdown_document(rows)
    )


@api.api_login_required
@require_http_methods(["GET"])
def export_one(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Download one conversation as Markdown or JSON."""
    conversation = get_object_or_404(
        Conversation.objects.for_user(request.user), pk=conversation_id
    )
    try:
        kind = export_format(request)
    except BadParameter as error:
        return bad_request(error.field, str(error))
    rows = Conversation.objects.filter(pk=conversation.pk)
    return attachment(
        request, document(rows, kind), kind, exports.export_filename(conversation, kind)
    )


@api.api_login_required
@require_http_methods(["GET"])
def export_all(request: HttpRequest) -> HttpResponse:
    """Download every conversation of the user (archived ones too)."""
    try:
        kind = export_format(request)
    except BadParameter as error:
        return bad_request(error.field, str(error))
    rows = Conversation.objects.for_user(request.user)
    return attachment(
        request, document(rows, kind), kind, exports.export_filename(None, kind)
    )


@api.api_login_required
@require_http_methods(["POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    """Import a JSON export sent as the multipart field `file`: all of it or none."""
    upload = request.FILES.get("file")
    if upload is None:
        return bad_request("file", _("Send the export as the multipart field file."))
    if upload.size > imports.IMPORT_MAX_BYTES:
        return JsonResponse(
            {
                "errors": {
                    "file": [
                        _("The file is larger than %(mb)s MB.")
                        % {"mb": imports.IMPORT_MAX_BYTES // (1024 * 1024)}
                    ]
                }
            },
            status=413,
        )
    try:
        parsed = imports.parse_upload(upload.read())
        result = imports.import_document(request.user, parsed)
    except imports.ImportRefused as error:
        return bad_request("file", str(error))
    return JsonResponse(result, status=201 if result["imported"] else 200)
