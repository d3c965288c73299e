from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SpeechConfig(AppConfig):
    name = "speech"
    verbose_name = _("Speech")

    def ready(self) -> None:
        from speech import signals  # noqa: F401  (connects the receivers)
