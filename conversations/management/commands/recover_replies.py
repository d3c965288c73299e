"""Mark replies a dead server process left streaming as interrupted.

`make run` calls this before daphne starts. With the in-memory channel layer the
site is one process, so before it starts every streaming reply is dead. With a shared
layer (Redis) several daphne processes serve, and one starting up must not end
another's live reply: only replies whose last checkpoint is older than --older-than
seconds are touched (live ones checkpoint every second).
"""

from datetime import timedelta

from django.core.management.base import BaseCommand

from conversations.models import Message
from conversations.replies import runner


class Command(BaseCommand):
    help = "Mark replies left streaming by a stopped server as interrupted."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help=(
                "Seconds since a reply's last checkpoint (default: 0 with the "
                f"in-memory channel layer, {runner.STALE_AFTER.seconds} with Redis)."
            ),
        )

    def handle(self, *args, older_than: float | None, **options):
        if older_than is None:
            older_than = (
                0 if runner.single_process() else runner.STALE_AFTER.total_seconds()
            )
        count = Message.objects.stale_streaming(
            timedelta(seconds=older_than)
        ).mark_interrupted()
        if count or options["verbosity"] > 1:
            self.stdout.write(
                f"Marked {count} interrupted repl{'y' if count == 1 else 'ies'}."
            )
