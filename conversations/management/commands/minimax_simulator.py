"""Serve the offline MiniMax simulator over real HTTP, with daphne."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Run the offline MiniMax simulator as an HTTP server (point MINIMAX_BASE_URL "
        "at it). Trigger phrases are listed in docs/simulator.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--chunk-delay",
            type=float,
            default=None,
            help="Seconds between chunks (default: MINIMAX_SIMULATOR_CHUNK_DELAY).",
        )

    def handle(self, *args, **options) -> None:
        # daphne.server installs Twisted's asyncio reactor on import, so import it
        # here, not at module level where every management command would pay for it.
        from daphne.server import Server

        from conversations.minimax.simulator import make_asgi_app

        # daphne logs its start-up chatter at INFO; our one line says where we are.
        logging.getLogger("daphne").setLevel(logging.WARNING)
        delay = options["chunk_delay"]
        if delay is None:
            delay = settings.MINIMAX_SIMULATOR_CHUNK_DELAY
        host, port = options["host"], options["port"]
        # Twisted endpoint syntax escapes ":" in IPv6 addresses.
        interface = host.replace(":", r"\:")

        def announce() -> None:
            self.stdout.write(
                f"MiniMax simulator listening on http://{host}:{port}/ "
                f"(chunk delay {delay}s); Ctrl-C to stop."
            )
            self.stdout.flush()

        server = Server(
            application=make_asgi_app(chunk_delay=delay),
            endpoints=[f"tcp:port={port}:interface={interface}"],
            signal_handlers=True,  # SIGINT/SIGTERM stop the reactor cleanly
            application_close_timeout=2,
            ready_callable=announce,
            verbosity=0,
        )
        server.run()
