"""Mark replies a dead server process left streaming as interrupted.

`make run` calls this before daphne starts. A reply is only touched when its last
checkpoint is older than --older-than seconds: with several daphne processes, one
starting up must not end another's live reply (those checkpoint every second).
"""

from datetime import timedelta

from django.core.management.base import BaseCommand

from conversations import services
from conversations.models import Message


class Command(BaseCommand):
    help = "Mark replies left streaming by a stopped server as interrupted."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=services.STALE_AFTER.total_seconds(),
            help="Seconds since a reply's last checkpoint (default: %(default)s).",
        )

    def handle(self, *args, older_than: float, **options):
        count = Message.objects.stale_streaming(
            timedelta(seconds=older_than)
        ).mark_interrupted()
        if count or options["verbosity"] > 1:
            self.stdout.write(
                f"Marked {count} interrupted repl{'y' if count == 1 else 'ies'}."
            )
