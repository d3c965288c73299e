"""A speech clip (one generated MP3 and how it was made) and saved voice blends."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

EXCERPT_CHARS = 140


def clip_file_name(clip: SpeechClip, filename: str) -> str:
    # Random names in a per-user folder: never guessable, never served directly
    # (MEDIA_ROOT has no URL; the download view checks the owner).
    return f"speech/{clip.owner_id}/{uuid.uuid4().hex}.mp3"


class SpeechClipQuerySet(models.QuerySet):
    def owned_by(self, user) -> SpeechClipQuerySet:
        return self.filter(owner=user)

    def pending(self) -> SpeechClipQuerySet:
        return self.filter(status=SpeechClip.Status.PENDING)

    def stale(self, before: datetime, running: set[int]) -> SpeechClipQuerySet:
        """Return pending clips no live task has touched since `before`."""
        return self.pending().filter(heartbeat_at__lt=before).exclude(pk__in=running)


class SpeechClip(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        ERROR = "error", _("error")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="speech_clips",
        verbose_name=_("owner"),
    )
    # What the user asked for, as they sent it.
    text = models.TextField(_("text"))
    model = models.CharField(_("model"), max_length=64)
    # Which vendor endpoint the model is sent to: "t2a_v2" or "text_to_speech".
    endpoint = models.CharField(_("endpoint"), max_length=32)
    # [{"voice_id": str, "weight": int}], one to four.
    voices = models.JSONField(_("voice mix"))
    speed = models.FloatField(_("speed"), default=1.0)
    vol = models.FloatField(_("volume"), default=1.0)
    pitch = models.SmallIntegerField(_("pitch"), default=0)
    # Empty: the model chooses (t2a_v2 only).
    emotion = models.CharField(_("emotion"), max_length=16, blank=True)

    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.PENDING
    )
    # For people: what went wrong and what to do. error_kind is MiniMaxError.kind.
    error = models.TextField(_("error"), blank=True)
    error_kind = models.CharField(_("error kind"), max_length=32, blank=True)
    # Set only once the whole MP3 is written: a clip never points at a partial file.
    file = models.FileField(_("file"), upload_to=clip_file_name, blank=True)
    # The vendor's Trace-Id of each part, in order (quote them to MiniMax support).
    trace_ids = models.JSONField(_("trace ids"), default=list, blank=True)
    # From the joined file's frames (the real playing time), and its size in bytes.
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"), null=True, blank=True)
    # Sum of the parts' extra_info.usage_characters (t2a_v2; the legacy endpoint
    # does not say, so it stays empty there).
    characters_billed = models.PositiveIntegerField(
        _("characters billed"), null=True, blank=True
    )
    parts_total = models.PositiveSmallIntegerField(_("parts"), default=1)
    parts_done = models.PositiveSmallIntegerField(_("parts done"), default=0)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Touched by the running task while it works: a pending clip whose heartbeat
    # is old belongs to a process that died.
    heartbeat_at = models.DateTimeField(_("last progress"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = SpeechClipQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="clip_owner_recent"),
            models.Index(fields=["status", "heartbeat_at"], name="clip_status_beat"),
        ]
        verbose_name = _("speech clip")
        verbose_name_plural = _("speech clips")

    def __str__(self) -> str:
        return Truncator(self.text).chars(40)

    def get_absolute_url(self) -> str:
        return reverse("speech-download", args=[self.pk])

    @property
    def elapsed_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.created_at).total_seconds() * 1000)

    def as_json(self, *, full_text: bool = False) -> dict[str, Any]:
        """Return the clip as the JSON API shows it (docs/api.md)."""
        done = self.status == self.Status.DONE
        return {
            "id": self.pk,
            "status": self.status,
            "error": self.error,
            "error_kind": self.error_kind,
            "text": self.text if full_text else None,
            "excerpt": Truncator(self.text).chars(EXCERPT_CHARS),
            "characters": len(self.text),
            "model": self.model,
            "endpoint": self.endpoint,
            "voices": self.voices,
            "speed": self.speed,
            "vol": self.vol,
            "pitch": self.pitch,
            "emotion": self.emotion or None,
            "parts_done": self.parts_done,
            "parts_total": self.parts_total,
            "duration_ms": self.duration_ms,
            "size_bytes": self.size_bytes,
            "characters_billed": self.characters_billed,
            "trace_id": self.trace_ids[0] if self.trace_ids else None,
            "trace_ids": self.trace_ids,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "elapsed_ms": self.elapsed_ms,
            "download_url": self.get_absolute_url() if done else None,
            "audio_url": reverse("speech-audio", args=[self.pk]) if done else None,
        }


class VoiceBlend(models.Model):
    """A named voice mix with its settings, to reuse from a list."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="voice_blends",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=80)
    model = models.CharField(_("model"), max_length=64)
    voices = models.JSONField(_("voice mix"))
    speed = models.FloatField(_("speed"), default=1.0)
    vol = models.FloatField(_("volume"), default=1.0)
    pitch = models.SmallIntegerField(_("pitch"), default=0)
    emotion = models.CharField(_("emotion"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="blend_owner_name")
        ]
        verbose_name = _("voice blend")
        verbose_name_plural = _("voice blends")

    def __str__(self) -> str:
        return self.name

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "name": self.name,
            "model": self.model,
            "voices": self.voices,
            "speed": self.speed,
            "vol": self.vol,
            "pitch": self.pitch,
            "emotion": self.emotion or None,
        }
