"""MiniMax's content-safety vocabulary: sensitive types by name, refusal codes.

The values are the vendor's (input_sensitive_type / output_sensitive_type in the
chat responses, base_resp.status_code for a refusal); only the names are ours, and
they are translated.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SensitiveType(models.IntegerChoices):
    # 0 is "none" on the wire: a message with it is not flagged, so not listed.
    SEVERE = 1, _("severe violation")
    PORNOGRAPHY = 2, _("pornography")
    ADVERTISING = 3, _("advertising")
    PROHIBITED = 4, _("prohibited")
    ABUSE = 5, _("abuse")
    VIOLENCE = 6, _("violence or terrorism")
    OTHER = 7, _("other")


# base_resp.status_code when MiniMax refuses outright (errors.SensitiveInput/Output).
INPUT_REFUSED = 1026
OUTPUT_REFUSED = 1027
REFUSAL_CODES = (INPUT_REFUSED, OUTPUT_REFUSED)


def type_name(value: int | None) -> str:
    """Return the translated name of a sensitive type ("" for none or unknown)."""
    if not value:
        return ""
    try:
        return str(SensitiveType(value).label)
    except ValueError:
        return str(_("unknown type %(value)s")) % {"value": value}
