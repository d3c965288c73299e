"""Turn text into speech with MiniMax, with the site's settings.

    python manage.py minimax_tts --voice ID[:WEIGHT] [--voice ...]
        [--speed S --vol V --pitch P] [--emotion E] [--model M]
        [--endpoint t2a_v2|text_to_speech] --out FILE.mp3 TEXT

Several --voice options mix voices (up to 4, weights 1-100). Without
MINIMAX_API_KEY the offline simulator answers.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from conversations.minimax.errors import MiniMaxError
from conversations.minimax.types import SpeechClip, SpeechRequest, VoiceWeight
from conversations.upstream import build_minimax_client

# The legacy endpoint's models are speech-01 / speech-02 (protocol §3.1).
DEFAULT_MODELS = {"t2a_v2": "speech-02-hd", "text_to_speech": "speech-01"}


def voice_weight(value: str) -> VoiceWeight:
    """Parse `ID` or `ID:WEIGHT`."""
    voice_id, _, weight = value.rpartition(":")
    if not voice_id or not weight.isdigit():
        return VoiceWeight(value)
    return VoiceWeight(voice_id, int(weight))


class Command(BaseCommand):
    help = "Synthesize TEXT with MiniMax text-to-speech and write the audio file."

    def add_arguments(self, parser):
        parser.add_argument("text", help="The text to speak.")
        parser.add_argument(
            "--voice",
            action="append",
            type=voice_weight,
            required=True,
            metavar="ID[:WEIGHT]",
            help="A voice id, with an optional mixing weight (repeat to mix).",
        )
        parser.add_argument("--speed", type=float, default=1.0)
        parser.add_argument("--vol", type=float, default=1.0)
        parser.add_argument("--pitch", type=int, default=0)
        parser.add_argument(
            "--emotion", help="t2a_v2 only: happy, sad, angry, calm, ... (see docs)."
        )
        parser.add_argument("--model", help="Default: speech-02-hd (speech-01 legacy).")
        parser.add_argument(
            "--endpoint", choices=sorted(DEFAULT_MODELS), default="t2a_v2"
        )
        parser.add_argument("--out", type=Path, required=True, help="Audio file.")

    def handle(self, *args, **options):
        if options["verbosity"] < 2:
            # Retry notices would break the one-line error; -v 2 shows them.
            logging.getLogger("conversations.minimax").setLevel(logging.WARNING)
        request = SpeechRequest(
            text=options["text"],
            voices=options["voice"],
            endpoint=options["endpoint"],
            model=options["model"] or DEFAULT_MODELS[options["endpoint"]],
            speed=options["speed"],
            vol=options["vol"],
            pitch=options["pitch"],
            emotion=options["emotion"],
        )
        try:
            clip = asyncio.run(self._speak(request))
        except MiniMaxError as error:
            raise CommandError(" ".join(str(error).split())) from None
        out: Path = options["out"]
        try:
            out.write_bytes(clip.audio)
        except OSError as error:
            raise CommandError(f"Could not write {out}: {error.strerror}") from None
        trace = f" (trace id {clip.trace_id})" if clip.trace_id else ""
        self.stdout.write(
            f"Wrote {len(clip.audio)} bytes of {clip.format} to {out}{trace}"
        )

    async def _speak(self, request: SpeechRequest) -> SpeechClip:
        client = build_minimax_client()
        try:
            return await client.speak(request)
        finally:
            await client.aclose()
