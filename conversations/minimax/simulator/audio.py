"""A voice-like signal for a text, encoded as MP3 (or WAV / PCM), without numpy.

Each spoken unit (a CJK character, or a syllable of a word) is a short harmonic
tone with an attack and a release; punctuation is silence. Duration follows the
text and the speed, pitch follows `pitch` (semitones), loudness follows `vol`, and
the timbre comes from the voice mix. To stay cheap, one period of each tone is
computed once and tiled: a 10 s clip takes a few tens of milliseconds.
"""

from __future__ import annotations

import array
import hashlib
import io
import math
import re
import wave
from collections.abc import Iterator
from dataclasses import dataclass

import lameenc

from .voices import Timbre

SYLLABLE_SECONDS = 0.2  # one CJK character, at speed 1
WORD_GAP_SECONDS = 0.04
SHORT_PAUSE_SECONDS = 0.22  # , ; :
LONG_PAUSE_SECONDS = 0.45  # . ! ? and new lines
BASE_AMPLITUDE = 0.14  # at vol 1; vol scales it up to just under full scale
SEGMENT_SECONDS = 0.5  # stream pieces are about this long
LEVELS = 32  # envelope steps

CJK = r"\u2e80-\u9fff\uac00-\ud7af"
UNIT_RE = re.compile(
    rf"(?P<cjk>[{CJK}])|(?P<word>[^\W_]+)|(?P<long>[.!?。！？\n]+)|(?P<short>[,;:，；：、]+)"
)
VOWEL_GROUP_RE = re.compile(r"[aeiouy]+", re.I)


@dataclass(frozen=True, slots=True)
class Voicing:
    """How to say a text: the timbre and the user's speed, volume and pitch."""

    timbre: Timbre
    speed: float = 1.0
    vol: float = 1.0
    pitch: int = 0
    sample_rate: int = 32000


def units(text: str) -> Iterator[tuple[str, float]]:
    """Yield (key, seconds) per unit of `text` at speed 1; key "" is a pause.

    The key names the syllable, so the same syllable always gets the same bend.
    """
    for match in UNIT_RE.finditer(text):
        kind = match.lastgroup
        piece = match.group()
        if kind == "cjk":
            yield piece, SYLLABLE_SECONDS
        elif kind == "word":
            syllables = max(1, len(VOWEL_GROUP_RE.findall(piece)), len(piece) // 4)
            for index in range(syllables):
                yield f"{piece}{index}", SYLLABLE_SECONDS * 0.8
            yield "", WORD_GAP_SECONDS
        else:
            yield "", LONG_PAUSE_SECONDS if kind == "long" else SHORT_PAUSE_SECONDS


def word_count(text: str) -> int:
    return sum(1 for m in UNIT_RE.finditer(text) if m.lastgroup in ("cjk", "word"))


def synthesize(text: str, voicing: Voicing) -> Iterator[array.array]:
    """Yield 16-bit mono PCM for `text`, in segments of about SEGMENT_SECONDS."""
    rate = voicing.sample_rate
    amplitude = min(0.95, BASE_AMPLITUDE * voicing.vol) * 32767
    base_hz = voicing.timbre.base_hz * 2 ** (voicing.pitch / 12)
    tones: dict[int, list[array.array]] = {}
    segment = array.array("h")
    emitted = False
    for key, seconds in units(text):
        count = int(rate * seconds / voicing.speed)
        if not key:
            segment.extend(array.array("h", bytes(2 * count)))
        else:
            hz = base_hz * _intonation(key)
            length = max(2, round(rate / hz))
            if length not in tones:
                tones[length] = _period_levels(length, voicing.timbre, amplitude)
            segment.extend(_tone(tones[length], count))
        if len(segment) >= rate * SEGMENT_SECONDS:
            yield segment
            segment, emitted = array.array("h"), True
    if segment or not emitted:
        # Text with nothing to say still gets a tenth of a second of silence.
        yield segment or array.array("h", bytes(2 * (rate // 10)))


def _intonation(key: str) -> float:
    """Return a small pitch bend per syllable (within ±8%), so speech is not a drone."""
    return 1 + 0.02 * (hashlib.md5(key.encode()).digest()[0] % 9 - 4)


def _period_levels(length: int, timbre: Timbre, amplitude: float) -> list[array.array]:
    """Return one period of the tone at each envelope level, 0 to full amplitude."""
    step = 2 * math.pi / length
    period = [
        sum(a * math.sin(step * (k + 1) * i) for k, a in enumerate(timbre.harmonics))
        for i in range(length)
    ]
    return [
        array.array("h", [int(s * amplitude * level / LEVELS) for s in period])
        for level in range(LEVELS + 1)
    ]


def _tone(levels: list[array.array], count: int) -> array.array:
    """Return about `count` samples: whole periods under an attack/release envelope.

    The envelope steps once per period, so building a tone only joins arrays.
    """
    periods = max(1, count // len(levels[0]))
    attack, release = max(1, periods // 8), max(1, periods // 3)
    tone = array.array("h")
    for index in range(periods):
        gain = min(1.0, index / attack, (periods - index) / release)
        tone.extend(levels[round(gain * LEVELS)])
    return tone


def encode_mp3(
    segments: Iterator[array.array], sample_rate: int, bitrate: int, channels: int
) -> list[bytes]:
    """Return MP3 pieces: each holds whole frames for about one segment of audio."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate // 1000)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_out_sample_rate(sample_rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)  # fast; quality is not the point here
    pieces = [bytes(encoder.encode(_channels(s, channels).tobytes())) for s in segments]
    pieces.append(bytes(encoder.flush()))
    return [piece for piece in pieces if piece]


def encode_wav(pcm: array.array, sample_rate: int, channels: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(_channels(pcm, channels).tobytes())
    return buffer.getvalue()


def _channels(pcm: array.array, channels: int) -> array.array:
    if channels == 1:
        return pcm
    stereo = array.array("h", bytes(4 * len(pcm)))
    stereo[0::2] = pcm
    stereo[1::2] = pcm
    return stereo
