"""The MiniMax wire formats: what each endpoint takes, and what its replies mean."""

from .replies import ReplyParser, new_parser, raise_for_base_resp
from .requests import build_body, check_request, resolve_dialect
from .speech import check_speech, legacy_clip, speech_body, speech_path, t2a_v2_clip

__all__ = [
    "ReplyParser",
    "build_body",
    "check_request",
    "check_speech",
    "legacy_clip",
    "new_parser",
    "raise_for_base_resp",
    "resolve_dialect",
    "speech_body",
    "speech_path",
    "t2a_v2_clip",
]
