from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = _("Review")

    def ready(self) -> None:
        from conversations.signals import reply_finished
        from review.receivers import queue_flagged_reply

        reply_finished.connect(
            queue_flagged_reply, dispatch_uid="review.queue_flagged_reply"
        )
