"""The speech studio page, its JSON API (docs/api.md) and the owner-only downloads."""

from __future__ import annotations

import json
import re
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from conversations import limits
from conversations.minimax.errors import MiniMaxError
from conversations.models import Message
from speech import services
from speech.catalog import studio_catalog
from speech.checks import InvalidInput, check_blend_name, check_speech_settings
from speech.models import SpeechClip, VoiceBlend

LIST_LIMIT = 100
RANGE_RE = re.compile(r"bytes=(?P<start>\d*)-(?P<end>\d*)")


# --- helpers -----------------------------------------------------------------


def _read_json(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None


def _invalid(error: InvalidInput) -> JsonResponse:
    return JsonResponse({"error": str(error), "errors": error.errors}, status=400)


def _not_allowed(allowed: list[str]) -> JsonResponse:
    response = JsonResponse({"error": _("Method not allowed.")}, status=405)
    response["Allow"] = ", ".join(allowed)
    return response


def _signed_in_required(view):
    """JSON 401 for a visitor who is not signed in (sync views)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": _("Sign in first.")}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


def _own_clip(request: HttpRequest, clip_id: int) -> SpeechClip:
    return get_object_or_404(SpeechClip.objects.owned_by(request.user), pk=clip_id)


# --- the page ----------------------------------------------------------------


@login_required
@require_GET
def studio(request: HttpRequest) -> HttpResponse:
    """Show the studio; ?message=<id> fills the text with one of your replies."""
    services.recover_stale_clips()
    text = ""
    message_id = request.GET.get("message")
    if message_id is not None:
        if not message_id.isdigit():
            raise Http404
        message = get_object_or_404(
            Message.objects.filter(
                conversation__owner=request.user, role=Message.Role.ASSISTANT
            ),
            pk=int(message_id),
        )
        text = message.content
    clips = SpeechClip.objects.owned_by(request.user)[:LIST_LIMIT]
    blends = VoiceBlend.objects.filter(owner=request.user)
    return render(
        request,
        "speech/studio.html",
        {
            "initial_text": text,
            "catalog_data": studio_catalog(),
            "clips_data": [clip.as_json() for clip in clips],
            "blends_data": [blend.as_json() for blend in blends],
            "strings_data": page_strings(),
            "slider_labels": [
                ("speed", _("Speed")),
                ("vol", _("Volume")),
                ("pitch", _("Pitch")),
            ],
        },
    )


def page_strings() -> dict[str, str]:
    """Return the studio script's words, in the reader's language."""
    return {
        "chars": _("%(count)s characters"),
        "limit": _("%(limit)s per request"),
        "parts": _("sent as %(parts)s parts, joined into one MP3"),
        "too_long": _("Too long: a clip takes at most %(max)s characters."),
        "starting": _("Starting…"),
        "part_of": _("Part %(done)s of %(total)s"),
        "joining": _("Joining the parts…"),
        "pending": _("Making…"),
        "failed": _("Failed"),
        "play": _("Play"),
        "download": _("Download"),
        "reuse": _("Reuse settings"),
        "delete": _("Delete"),
        "confirm_delete": _("Delete this clip and its file?"),
        "remove_voice": _("Remove this voice"),
        "voice_n": _("Voice %(n)s"),
        "weight": _("Weight"),
        "share": _("%(share)s%% of the mix"),
        "auto_emotion": _("Automatic (from the text)"),
        "choose_blend": _("Choose a saved blend…"),
        "no_blends": _("No saved blends yet"),
        "blend_saved": _("Saved “%(name)s”."),
        "blend_deleted": _("Deleted the blend."),
        "blend_used": _("Using “%(name)s”."),
        "previewing": _("Making a short preview…"),
        "endpoint_t2a_v2": _("Sent to /v1/t2a_v2 (JSON, hex audio)."),
        "endpoint_text_to_speech": _(
            "Sent to the legacy /v1/text_to_speech (raw audio, no emotion)."
        ),
        "max_voices": _("Up to %(max)s voices; weights 1–100."),
        "current_only": _("current models only"),
        "reused": _("Settings copied from the clip."),
        "network": _("Could not reach the site. Check your connection and retry."),
        "seconds": _("%(s)s s"),
        "minutes": _("%(m)s min %(s)s s"),
        "no_emotion": _("No emotion on this model"),
    }


# --- clips -------------------------------------------------------------------


async def api_clips(request: HttpRequest) -> HttpResponse:
    """GET: your clips, newest first. POST: start a clip; answers it, pending.

    Async, so the task that makes the clip runs in the server's event loop and the
    POST returns at once (a sync view's loop would end with the request).
    """
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": _("Sign in first.")}, status=401)
    if request.method == "GET":
        clips = await sync_to_async(_list_clips)(user)
        return JsonResponse({"clips": clips})
    if request.method != "POST":
        return _not_allowed(["GET", "POST"])
    try:
        speech = check_speech_settings(_read_json(request))
    except InvalidInput as error:
        return _invalid(error)
    try:
        await sync_to_async(limits.check_speech_quota)(user, len(speech.text))
    except limits.RateLimited as refused:
        return limits.too_many_requests(refused)
    clip = await sync_to_async(services.do_create_clip)(user, speech)
    services.start_clip(clip)
    return JsonResponse(clip.as_json(full_text=True), status=201)


def _list_clips(user) -> list[dict[str, Any]]:
    services.recover_stale_clips()
    return [clip.as_json() for clip in SpeechClip.objects.owned_by(user)[:LIST_LIMIT]]


@_signed_in_required
def api_clip(request: HttpRequest, clip_id: int) -> HttpResponse:
    """GET: one of your clips (poll it for progress). DELETE: it and its file."""
    if request.method == "GET":
        services.recover_stale_clips()
        return JsonResponse(_own_clip(request, clip_id).as_json(full_text=True))
    if request.method == "DELETE":
        clip = _own_clip(request, clip_id)
        if clip.status == SpeechClip.Status.PENDING:
            return JsonResponse(
                {"error": _("The clip is still being made; delete it once it ends.")},
                status=409,
            )
        services.do_delete_clip(clip)
        return HttpResponse(status=204)
    return _not_allowed(["GET", "DELETE"])


async def api_preview(request: HttpRequest) -> HttpResponse:
    """POST settings: answer a short MP3 of the mix saying the text's opening."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": _("Sign in first.")}, status=401)
    if request.method != "POST":
        return _not_allowed(["POST"])
    try:
        speech = check_speech_settings(_read_json(request), text_required=False)
    except InvalidInput as error:
        return _invalid(error)
    try:
        audio = await services.preview(speech)
    except MiniMaxError as error:
        return JsonResponse(
            {"error": services.error_reason(error), "kind": error.kind}, status=502
        )
    return HttpResponse(audio, content_type="audio/mpeg")


@login_required
@require_GET
def download(request: HttpRequest, clip_id: int) -> FileResponse:
    """Send your clip's MP3 as an attachment named from its first words and date."""
    return _clip_file(request, clip_id, attachment=True)


@login_required
@require_GET
def audio(request: HttpRequest, clip_id: int) -> HttpResponse:
    """Send your clip's MP3 inline, for the page's audio player.

    A `Range: bytes=a-b` request gets that slice (206), so the player can seek in a
    long clip without fetching all of it first.
    """
    wanted = RANGE_RE.fullmatch(request.headers.get("Range", "").strip())
    if wanted is None:
        return _clip_file(request, clip_id, attachment=False)
    clip = _done_clip(request, clip_id)
    size = clip.file.size
    start = int(wanted["start"]) if wanted["start"] else None
    end = int(wanted["end"]) if wanted["end"] else None
    if start is None:  # "bytes=-N": the last N bytes
        start, end = max(0, size - (end or 0)), size - 1
    end = size - 1 if end is None else min(end, size - 1)
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    with clip.file.open("rb") as handle:
        handle.seek(start)
        data = handle.read(end - start + 1)
    response = HttpResponse(data, status=206, content_type="audio/mpeg")
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _done_clip(request: HttpRequest, clip_id: int) -> SpeechClip:
    clip = _own_clip(request, clip_id)
    if clip.status != SpeechClip.Status.DONE or not clip.file:
        raise Http404
    return clip


def _clip_file(request: HttpRequest, clip_id: int, *, attachment: bool) -> FileResponse:
    clip = _done_clip(request, clip_id)
    try:
        handle = clip.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=attachment,
        filename=services.download_name(clip),
        content_type="audio/mpeg",
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["Accept-Ranges"] = "bytes"
    return response


# --- voice blends --------------------------------------------------------------


@_signed_in_required
def api_blends(request: HttpRequest) -> HttpResponse:
    """GET: your saved blends. POST: save the settings under a name."""
    if request.method == "GET":
        blends = VoiceBlend.objects.filter(owner=request.user)
        return JsonResponse({"blends": [blend.as_json() for blend in blends]})
    if request.method != "POST":
        return _not_allowed(["GET", "POST"])
    payload = _read_json(request)
    try:
        speech = check_speech_settings(payload, text_required=False)
        name = check_blend_name(payload.get("name"))
    except InvalidInput as error:
        return _invalid(error)
    try:
        blend, _created = VoiceBlend.objects.update_or_create(
            owner=request.user,
            name=name,
            defaults={
                "model": speech.model,
                "voices": speech.voices_json(),
                "speed": speech.speed,
                "vol": speech.vol,
                "pitch": speech.pitch,
                "emotion": speech.emotion,
            },
        )
    except IntegrityError:
        return JsonResponse({"error": _("Try saving the blend again.")}, status=409)
    return JsonResponse(blend.as_json(), status=201)


@_signed_in_required
def api_blend(request: HttpRequest, blend_id: int) -> HttpResponse:
    if request.method != "DELETE":
        return _not_allowed(["DELETE"])
    get_object_or_404(VoiceBlend, owner=request.user, pk=blend_id).delete()
    return HttpResponse(status=204)
