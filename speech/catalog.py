"""The speech models and system voices the studio offers, with the vendor's ranges.

Sources are in docs/minimax-protocol-tts.md: the models and limits from §2, the
voices from §5 (the classic system list, valid on both endpoints, and a few of
the language-prefixed ids that only t2a_v2 knows).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from conversations.minimax.dialects.speech import emotions_for


@dataclass(frozen=True, slots=True)
class SpeechModel:
    id: str
    label: str
    endpoint: str  # "t2a_v2" or "text_to_speech"


@dataclass(frozen=True, slots=True)
class Endpoint:
    # The vendor's limit for one request's text.
    request_limit: int
    # What one part of a long clip holds: below the limit, so each request stays
    # short (t2a_v2 advises streaming above 3,000) and progress moves often.
    part_chars: int


ENDPOINTS = {
    "t2a_v2": Endpoint(request_limit=10_000, part_chars=3_000),
    # The legacy limit is a client docstring's "< 500" (protocol doc: uncertain).
    "text_to_speech": Endpoint(request_limit=500, part_chars=480),
}
MODELS = (
    SpeechModel("speech-2.8-hd", "Speech 2.8 HD", "t2a_v2"),
    SpeechModel("speech-2.8-turbo", "Speech 2.8 Turbo", "t2a_v2"),
    SpeechModel("speech-2.6-hd", "Speech 2.6 HD", "t2a_v2"),
    SpeechModel("speech-2.6-turbo", "Speech 2.6 Turbo", "t2a_v2"),
    SpeechModel("speech-02-hd", "Speech 02 HD", "t2a_v2"),
    SpeechModel("speech-02-turbo", "Speech 02 Turbo", "t2a_v2"),
    SpeechModel("speech-01-hd", "Speech 01 HD", "t2a_v2"),
    SpeechModel("speech-01-turbo", "Speech 01 Turbo", "t2a_v2"),
    SpeechModel("speech-02", "speech-02 (legacy text_to_speech)", "text_to_speech"),
    SpeechModel("speech-01", "speech-01 (legacy text_to_speech)", "text_to_speech"),
)
MODELS_BY_ID = {model.id: model for model in MODELS}
DEFAULT_MODEL = "speech-02-hd"
# The longest text one clip takes: it is split into parts of part_chars.
MAX_CLIP_CHARS = 100_000
MAX_VOICES = 4

# name: (low, high, step, default); vol's low end is open: (0, 10].
RANGES = {
    "speed": (0.5, 2.0, 0.05, 1.0),
    "vol": (0.1, 10.0, 0.1, 1.0),
    "pitch": (-12, 12, 1, 0),
}


@dataclass(frozen=True, slots=True)
class Voice:
    id: str
    name: str
    language: str
    gender: str  # "male" or "female"
    legacy: bool = True  # also valid on the legacy text_to_speech endpoint


LANGUAGES = {
    "zh": _("Chinese (Mandarin)"),
    "yue": _("Cantonese"),
    "en": _("English"),
    "ja": _("Japanese"),
    "ko": _("Korean"),
}
GENDERS = {"male": _("male"), "female": _("female")}

_CLASSIC = (
    ("male-qn-qingse", "Qingse · young man 青涩青年", "male"),
    ("male-qn-jingying", "Jingying · elite young man 精英青年", "male"),
    ("male-qn-badao", "Badao · domineering young man 霸道青年", "male"),
    ("male-qn-daxuesheng", "Daxuesheng · college student 青年大学生", "male"),
    ("female-shaonv", "Shaonv · young girl 少女", "female"),
    ("female-yujie", "Yujie · mature lady 御姐", "female"),
    ("female-chengshu", "Chengshu · grown woman 成熟女性", "female"),
    ("female-tianmei", "Tianmei · sweet woman 甜美女性", "female"),
    ("presenter_male", "Presenter (male) 男性主持人", "male"),
    ("presenter_female", "Presenter (female) 女性主持人", "female"),
    ("audiobook_male_1", "Audiobook (male) 1 男性有声书1", "male"),
    ("audiobook_male_2", "Audiobook (male) 2 男性有声书2", "male"),
    ("audiobook_female_1", "Audiobook (female) 1 女性有声书1", "female"),
    ("audiobook_female_2", "Audiobook (female) 2 女性有声书2", "female"),
    ("male-qn-qingse-jingpin", "Qingse premium 青涩青年-beta", "male"),
    ("female-shaonv-jingpin", "Shaonv premium 少女-beta", "female"),
    ("clever_boy", "Clever boy 聪明男童", "male"),
    ("cute_boy", "Cute boy 可爱男童", "male"),
    ("lovely_girl", "Lovely girl 萌萌女童", "female"),
    ("junlang_nanyou", "Handsome boyfriend 俊朗男友", "male"),
    ("chunzhen_xuedi", "Innocent junior 纯真学弟", "male"),
    ("lengdan_xiongzhang", "Aloof senior 冷淡学长", "male"),
    ("badao_shaoye", "Bossy young master 霸道少爷", "male"),
    ("tianxin_xiaoling", "Sweetheart Xiaoling 甜心小玲", "female"),
    ("qiaopi_mengmei", "Playful girl 俏皮萌妹", "female"),
    ("wumei_yujie", "Charming lady 妩媚御姐", "female"),
    ("danya_xuejie", "Elegant senior 淡雅学姐", "female"),
)
_ENGLISH = (
    ("Santa_Claus", "Santa Claus", "male"),
    ("Grinch", "Grinch", "male"),
    ("Arnold", "Arnold", "male"),
    ("Charming_Santa", "Charming Santa", "male"),
    ("Charming_Lady", "Charming Lady", "female"),
    ("Sweet_Girl", "Sweet Girl", "female"),
    ("Attractive_Girl", "Attractive Girl", "female"),
    ("Serene_Woman", "Serene Woman", "female"),
)
_T2A_ONLY = (
    ("English_Graceful_Lady", "Graceful Lady", "en", "female"),
    ("English_expressive_narrator", "Expressive Narrator", "en", "male"),
    ("Chinese (Mandarin)_Lyrical_Voice", "Lyrical Voice 抒情男声", "zh", "male"),
    ("Cantonese_GentleLady", "Gentle Lady 温柔女声", "yue", "female"),
    ("Japanese_Whisper_Belle", "Whisper Belle", "ja", "female"),
    ("Korean_SweetGirl", "Sweet Girl", "ko", "female"),
)
VOICES = (
    *(Voice(id, name, "zh", gender) for id, name, gender in _CLASSIC),
    *(Voice(id, name, "en", gender) for id, name, gender in _ENGLISH),
    *(
        Voice(id, name, lang, gender, legacy=False)
        for id, name, lang, gender in _T2A_ONLY
    ),
)
VOICES_BY_ID = {voice.id: voice for voice in VOICES}


def voice_name(voice_id: str) -> str:
    voice = VOICES_BY_ID.get(voice_id)
    return voice.name if voice else voice_id


def studio_catalog() -> dict[str, Any]:
    """Return what the studio page needs to build its pickers (for |json_script)."""
    return {
        "models": [
            {
                **asdict(model),
                "request_limit": ENDPOINTS[model.endpoint].request_limit,
                "part_chars": ENDPOINTS[model.endpoint].part_chars,
                "emotions": (
                    list(emotions_for(model.id)) if model.endpoint == "t2a_v2" else []
                ),
            }
            for model in MODELS
        ],
        "voices": [
            {
                **asdict(voice),
                "language_name": str(LANGUAGES[voice.language]),
                "gender_name": str(GENDERS[voice.gender]),
            }
            for voice in VOICES
        ],
        "languages": {code: str(name) for code, name in LANGUAGES.items()},
        "ranges": RANGES,
        "default_model": DEFAULT_MODEL,
        "max_voices": MAX_VOICES,
        "max_clip_chars": MAX_CLIP_CHARS,
    }
