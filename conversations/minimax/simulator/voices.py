"""Voice ids the simulator knows, and the timbre each one sounds like.

A timbre is a base frequency and a harmonic profile, both derived from a hash of
the voice id (higher for ids that name a woman or a child), so every voice sounds
different and always the same. A timber_weights mix blends them by weight.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

# The first eight classic voices; each also has a "-jingpin" (premium) variant.
_BASE_VOICES = (
    "male-qn-qingse",
    "male-qn-jingying",
    "male-qn-badao",
    "male-qn-daxuesheng",
    "female-shaonv",
    "female-yujie",
    "female-chengshu",
    "female-tianmei",
)

# The classic system voices (minimax-protocol §3.5), valid on every speech endpoint.
SYSTEM_VOICES: tuple[str, ...] = (
    *_BASE_VOICES,
    "presenter_male",
    "presenter_female",
    "audiobook_male_1",
    "audiobook_male_2",
    "audiobook_female_1",
    "audiobook_female_2",
    *(f"{voice}-jingpin" for voice in _BASE_VOICES),
    "clever_boy",
    "cute_boy",
    "lovely_girl",
    "cartoon_pig",
    "bingjiao_didi",
    "junlang_nanyou",
    "chunzhen_xuedi",
    "lengdan_xiongzhang",
    "badao_shaoye",
    "tianxin_xiaoling",
    "qiaopi_mengmei",
    "wumei_yujie",
    "diadia_xuemei",
    "danya_xuejie",
    "Santa_Claus",
    "Grinch",
    "Rudolph",
    "Arnold",
    "Charming_Santa",
    "Charming_Lady",
    "Sweet_Girl",
    "Cute_Elf",
    "Attractive_Girl",
    "Serene_Woman",
)
# Newer ids carry a language prefix ("English_Graceful_Lady", "Chinese (Mandarin)_
# Lyrical_Voice"); cloned voices are "moss_audio_<uuid>". We accept those shapes.
PREFIXED_VOICE_RE = re.compile(r"^[A-Z][A-Za-z]+(?: \([A-Za-z]+\))?_[A-Za-z0-9_]+$")
CLONED_VOICE_RE = re.compile(r"^moss_audio_[0-9a-f-]+$")
HIGH_VOICE_RE = re.compile(
    r"female|girl|lady|woman|shaonv|yujie|mei|xiaoling|elf|belle", re.I
)
HARMONICS = 6


def is_known_voice(voice_id: str) -> bool:
    return (
        voice_id in SYSTEM_VOICES
        or bool(PREFIXED_VOICE_RE.match(voice_id))
        or bool(CLONED_VOICE_RE.match(voice_id))
    )


@dataclass(frozen=True, slots=True)
class Timbre:
    base_hz: float
    harmonics: tuple[float, ...]  # relative amplitudes, summing to 1


def timbre_for(voice_id: str) -> Timbre:
    """Return the timbre of one voice id (stable across runs)."""
    digest = hashlib.sha256(voice_id.encode()).digest()
    low, high = (180.0, 270.0) if HIGH_VOICE_RE.search(voice_id) else (95.0, 160.0)
    base_hz = low + (high - low) * digest[0] / 255
    # Falling harmonic amplitudes, each shaded by the hash: a darker or brighter voice.
    raw = [(0.35 + 0.65 * digest[1 + k] / 255) / (k + 1) for k in range(HARMONICS)]
    total = sum(raw)
    return Timbre(base_hz, tuple(a / total for a in raw))


def blend(weighted: list[tuple[str, int]]) -> Timbre:
    """Return the timbre of a voice mix: weights pull pitch and colour their way."""
    total = sum(weight for _, weight in weighted)
    timbres = [(timbre_for(voice_id), weight / total) for voice_id, weight in weighted]
    # Pitch blends on a log scale, as the ear hears it.
    base_hz = math.exp(sum(math.log(t.base_hz) * share for t, share in timbres))
    harmonics = tuple(
        sum(t.harmonics[k] * share for t, share in timbres) for k in range(HARMONICS)
    )
    return Timbre(base_hz, harmonics)
