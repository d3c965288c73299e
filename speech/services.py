"""Make a clip: split the text, synthesise the parts, join them, store the MP3.

A clip is made by an asyncio task in the web process (like a chat reply), so the
POST that asks for it answers at once with a pending clip and no worker thread
waits for MiniMax. Parts are synthesised a few at a time; each finished part is
written to a file of its own, so memory holds a few parts, not the whole clip.
The MP3 is put in place only when every part arrived: a failed part fails the
clip, and nothing partial is ever stored or offered.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import shutil
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conversations import upstream
from conversations.error_text import describe_error
from conversations.minimax.errors import MiniMaxError
from conversations.minimax.types import SpeechClip as AudioClip
from conversations.minimax.types import VoiceWeight
from speech import mp3
from speech.catalog import ENDPOINTS
from speech.checks import SpeechSettings
from speech.models import SpeechClip, clip_file_name
from speech.text import sentences, split_text

logger = logging.getLogger(__name__)

# Parts of one clip in flight at once: enough to hide MiniMax's latency, few
# enough to stay under the account's rate limit (20 RPM on paid plans).
PARALLEL_PARTS = 3
# Parts in flight across all clips of this process, so several clips at once do
# not multiply into a burst MiniMax answers with 1002.
PROCESS_PARALLEL_PARTS = 6
HEARTBEAT_SECONDS = 10.0
# A pending clip untouched this long belongs to a dead process...
STALE_AFTER = timedelta(seconds=60)
# ...or, when this is the only process (in-memory channel layer), not running
# here and untouched for a moment.
SINGLE_PROCESS_STALE_AFTER = timedelta(seconds=5)
PREVIEW_CHARS = 160

# Clips being made in this process, by id; holding the tasks keeps them alive.
_running: dict[int, asyncio.Task[None]] = {}
# One process-wide gate per event loop (a semaphore belongs to its loop).
_process_gates: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, asyncio.Semaphore
] = weakref.WeakKeyDictionary()


def _process_gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _process_gates.get(loop)
    if gate is None:
        gate = _process_gates[loop] = asyncio.Semaphore(PROCESS_PARALLEL_PARTS)
    return gate


# What to do, by MiniMaxError.kind, where the client's message speaks of chat.
ADVICE = {
    "sensitive_input": gettext_lazy(
        "MiniMax refused this text as sensitive content. Rephrase it and generate "
        "again."
    ),
    "sensitive_output": gettext_lazy(
        "MiniMax withheld the audio as sensitive content. Rephrase the text and "
        "generate again."
    ),
}


def error_reason(error: MiniMaxError) -> str:
    """Return what the studio shows for a MiniMax error, in the reader's language."""
    advice = ADVICE.get(error.kind)
    return str(advice) if advice else describe_error(error)


# --- writes (database thread) ----------------------------------------------------


def do_create_clip(owner, speech: SpeechSettings) -> SpeechClip:
    """Store a pending clip for speech; it is made once start_clip runs it."""
    parts = plan_parts(speech.text, speech.endpoint)
    return SpeechClip.objects.create(
        owner=owner,
        text=speech.text,
        model=speech.model,
        endpoint=speech.endpoint,
        voices=speech.voices_json(),
        speed=speech.speed,
        vol=speech.vol,
        pitch=speech.pitch,
        emotion=speech.emotion,
        parts_total=len(parts),
    )


def do_delete_clip(clip: SpeechClip) -> None:
    """Delete the clip; its file goes with it (speech.signals)."""
    clip.delete()


def recover_stale_clips() -> int:
    """Mark clips a dead process left pending as failed; return how many."""
    single = settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith(
        "InMemoryChannelLayer"
    )
    before = timezone.now() - (SINGLE_PROCESS_STALE_AFTER if single else STALE_AFTER)
    stale = list(SpeechClip.objects.stale(before, set(_running)))
    for clip in stale:
        _remove_work_files(clip)
    return SpeechClip.objects.filter(pk__in=[c.pk for c in stale]).update(
        status=SpeechClip.Status.ERROR,
        error_kind="interrupted",
        error=_(
            "The server stopped while this clip was being made. Generate it again."
        ),
        finished_at=timezone.now(),
    )


def _save_progress(clip_id: int) -> None:
    SpeechClip.objects.filter(pk=clip_id).update(
        parts_done=F("parts_done") + 1, heartbeat_at=timezone.now()
    )


def _save_heartbeat(clip_id: int) -> None:
    SpeechClip.objects.filter(pk=clip_id).update(heartbeat_at=timezone.now())


def _save_outcome(clip: SpeechClip, fields: list[str]) -> None:
    clip.finished_at = timezone.now()
    clip.save(update_fields=[*fields, "finished_at"])


# --- plan and names ----------------------------------------------------------------


def plan_parts(text: str, endpoint: str) -> list[str]:
    """Return the parts text is sent as: sentences packed under the part size."""
    return split_text(text, ENDPOINTS[endpoint].part_chars)


def preview_text(text: str) -> str:
    """Return the opening sentences of text (about PREVIEW_CHARS), or a sample."""
    opening = ""
    for sentence in sentences(text.strip()):
        if opening and len(opening) + len(sentence) > PREVIEW_CHARS:
            break
        opening += sentence
    opening = opening[:PREVIEW_CHARS].strip()
    return opening or _("Hello! This is how the voice mix sounds. 你好，这是试听。")


def download_name(clip: SpeechClip) -> str:
    """Return the file name a download saves as: the first words and the date."""
    words = re.findall(r"\w+", clip.text)[:6]
    stem = slugify(" ".join(words), allow_unicode=True)[:40].strip("-_") or "speech"
    return f"{stem}-{clip.created_at:%Y-%m-%d}.mp3"


# --- running -------------------------------------------------------------------


def start_clip(clip: SpeechClip) -> asyncio.Task[None]:
    """Start making clip in this process's event loop; return the task.

    The task gets a fresh context: the request's would tie its database calls to
    the request's thread executor, which shuts down when the response is sent.
    Messages stay in the requester's language.
    """
    language = translation.get_language()
    task = asyncio.get_running_loop().create_task(
        make_clip(clip, language), context=contextvars.Context()
    )
    _running[clip.pk] = task
    task.add_done_callback(lambda _task: _running.pop(clip.pk, None))
    return task


def running_clip_ids() -> set[int]:
    return set(_running)


async def wait_for_clips() -> None:
    """Wait until the clips being made in this process are finished (tests)."""
    tasks = list(_running.values())
    if tasks:
        await asyncio.wait(tasks)


async def make_clip(clip: SpeechClip, language: str | None = None) -> None:
    """Synthesise, join and store clip; on any failure store the error, no file."""
    with translation.override(language):
        await _make_clip(clip)


async def _make_clip(clip: SpeechClip) -> None:
    heartbeat = asyncio.create_task(_beat(clip.pk))
    work = WorkFiles.for_clip(clip)
    try:
        parts = plan_parts(clip.text, clip.endpoint)
        results = await synthesise_parts(
            SpeechSettings(
                text=clip.text,
                model=clip.model,
                voices=[_voice(v) for v in clip.voices],
                speed=clip.speed,
                vol=clip.vol,
                pitch=clip.pitch,
                emotion=clip.emotion,
            ),
            parts,
            work.part_paths(len(parts)),
            on_part_done=lambda: database_sync_to_async(_save_progress)(clip.pk),
        )
        size = await asyncio.to_thread(work.join, len(parts))
        # The parts' frames are the file's frames: its playing time is their sum.
        duration = round(sum(r.seconds for r in results) * 1000)
        _record_done(clip, work.name, results, size, duration)
        fields = ["status", "file", "trace_ids", "duration_ms", "size_bytes"]
        await database_sync_to_async(_save_outcome)(
            clip, [*fields, "characters_billed", "parts_done"]
        )
    except PartFailed as failure:
        _record_error(clip, failure.kind, failure.message(clip.parts_total))
        await database_sync_to_async(_save_outcome)(clip, _ERROR_FIELDS)
    except Exception:
        logger.exception("Speech clip %s failed", clip.pk)
        _record_error(clip, "internal", _("The clip could not be made. Try again."))
        await database_sync_to_async(_save_outcome)(clip, _ERROR_FIELDS)
    finally:
        heartbeat.cancel()
        await asyncio.to_thread(work.remove_leftovers, clip)


_ERROR_FIELDS = ["status", "error", "error_kind"]


def _voice(item: dict) -> VoiceWeight:
    return VoiceWeight(item["voice_id"], item["weight"])


def _record_done(
    clip: SpeechClip, name: str, results: list[PartResult], size: int, duration: int
) -> None:
    clip.status = SpeechClip.Status.DONE
    clip.file.name = name
    clip.trace_ids = [r.trace_id for r in results if r.trace_id]
    clip.duration_ms = duration
    clip.size_bytes = size
    billed = [r.usage_characters for r in results]
    clip.characters_billed = None if None in billed else sum(billed)  # type: ignore[arg-type]
    clip.parts_done = len(results)


def _record_error(clip: SpeechClip, kind: str, message: str) -> None:
    clip.status = SpeechClip.Status.ERROR
    clip.error_kind = kind
    clip.error = message


async def _beat(clip_id: int) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await database_sync_to_async(_save_heartbeat)(clip_id)


# --- parts -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartResult:
    trace_id: str | None
    usage_characters: int | None
    seconds: float


class PartFailed(Exception):
    """One part could not be made: the clip fails with this part's reason."""

    def __init__(self, index: int, kind: str, reason: str) -> None:
        self.index, self.kind, self.reason = index, kind, reason
        super().__init__(reason)

    def message(self, total: int) -> str:
        if total == 1:
            return self.reason
        return _("Part %(number)d of %(total)d failed: %(reason)s") % {
            "number": self.index + 1,
            "total": total,
            "reason": self.reason,
        }


async def synthesise_parts(
    speech: SpeechSettings,
    parts: list[str],
    paths: list[Path],
    *,
    on_part_done: Callable[[], Awaitable[None]] | None = None,
    parallel: int = PARALLEL_PARTS,
) -> list[PartResult]:
    """Synthesise each part into its path (bare MPEG frames); return them in order.

    The first failure cancels the parts still running and raises PartFailed.
    """
    client = upstream.get_minimax_client()
    gate = asyncio.Semaphore(parallel)
    process_gate = _process_gate()
    results: list[PartResult | None] = [None] * len(parts)

    async def one(index: int) -> None:
        async with gate, process_gate:
            try:
                audio = await client.speak(speech.request(parts[index]))
            except MiniMaxError as error:
                raise PartFailed(index, error.kind, error_reason(error)) from error
        results[index] = await asyncio.to_thread(
            _write_part, audio, paths[index], index
        )
        if on_part_done is not None:
            await on_part_done()

    tasks = [asyncio.create_task(one(index)) for index in range(len(parts))]
    try:
        for finished in asyncio.as_completed(tasks):
            await finished
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [r for r in results if r is not None]


def _write_part(audio: AudioClip, path: Path, index: int) -> PartResult:
    try:
        frames = mp3.strip_tags(audio.audio)
    except mp3.InvalidMP3 as error:
        raise PartFailed(
            index,
            "protocol",
            _("MiniMax sent audio that is not a whole MP3 (%(detail)s). Try again.")
            % {"detail": error},
        ) from None
    path.write_bytes(frames)
    return PartResult(audio.trace_id, audio.usage_characters, mp3.seconds(frames))


# --- files -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkFiles:
    """Where a clip's parts and its final MP3 live while it is being made."""

    name: str  # the final file's storage name
    folder: Path
    clip_id: int

    @classmethod
    def for_clip(cls, clip: SpeechClip) -> WorkFiles:
        name = clip_file_name(clip, "")
        path = Path(default_storage.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(name, path.parent, clip.pk)

    @property
    def final(self) -> Path:
        return Path(default_storage.path(self.name))

    @property
    def joining(self) -> Path:
        return self.folder / f".clip-{self.clip_id}.joining"

    def part_paths(self, count: int) -> list[Path]:
        return [self.folder / f".clip-{self.clip_id}.part{n}" for n in range(count)]

    def join(self, count: int) -> int:
        """Concatenate the part files into the final file; return its size."""
        with self.joining.open("wb") as out:
            for path in self.part_paths(count):
                with path.open("rb") as part:
                    shutil.copyfileobj(part, out)
        size = self.joining.stat().st_size
        os.replace(self.joining, self.final)  # atomic: never a half-written MP3
        return size

    def remove_leftovers(self, clip: SpeechClip) -> None:
        for path in self.folder.glob(f".clip-{self.clip_id}.*"):
            path.unlink(missing_ok=True)
        if clip.status != SpeechClip.Status.DONE:
            self.final.unlink(missing_ok=True)


def _remove_work_files(clip: SpeechClip) -> None:
    folder = Path(default_storage.path(f"speech/{clip.owner_id}"))
    for path in folder.glob(f".clip-{clip.pk}.*"):
        path.unlink(missing_ok=True)


# --- preview ---------------------------------------------------------------------


async def preview(speech: SpeechSettings) -> bytes:
    """Return a short MP3 of the mix saying the opening of the text."""
    audio = await upstream.get_minimax_client().speak(
        speech.request(preview_text(speech.text))
    )
    return audio.audio
