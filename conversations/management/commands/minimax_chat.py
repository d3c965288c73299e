"""Ask MiniMax one question from the shell, with the site's settings.

    python manage.py minimax_chat [--model M] [--api v2|chat|pro] [--no-stream]
                                  [--system TEXT] PROMPT

The reply goes to stdout as it streams, reasoning to stderr. Without
MINIMAX_API_KEY the offline simulator answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from contextlib import aclosing

from django.core.management.base import BaseCommand, CommandError

from conversations.error_text import describe_error
from conversations.minimax.catalog import DEFAULT_MODEL, Dialect
from conversations.minimax.events import (
    Finish,
    ReasoningDelta,
    Sensitivity,
    StreamError,
    TextDelta,
    ToolCallDelta,
)
from conversations.minimax.prompting import (
    ConversationSettings,
    Turn,
    build_chat_request,
)
from conversations.minimax.types import ChatRequest
from conversations.upstream import build_minimax_client


class Command(BaseCommand):
    help = "Send one prompt to MiniMax and print the reply as it streams."

    def add_arguments(self, parser):
        parser.add_argument("prompt", help="The question to ask.")
        parser.add_argument("--model", default=DEFAULT_MODEL)
        parser.add_argument(
            "--api",
            choices=[d.value for d in Dialect],
            help="The endpoint dialect (default: the model's own).",
        )
        parser.add_argument(
            "--no-stream",
            action="store_true",
            help="Ask for one whole response instead of a stream.",
        )
        parser.add_argument("--system", default="", help="A system prompt.")

    def handle(self, *args, **options):
        if options["verbosity"] < 2:
            # Retry notices would break the one-line error; -v 2 shows them.
            logging.getLogger("conversations.minimax").setLevel(logging.WARNING)
        # The site's own path from settings to request: pro gets its bot_setting
        # and sender names, the others a system message.
        settings = ConversationSettings(
            model=options["model"],
            dialect=options["api"],
            system_prompt=options["system"],
        )
        request = build_chat_request(
            settings, [Turn("user", options["prompt"])], stream=not options["no_stream"]
        )
        try:
            asyncio.run(self._chat(request))
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as cat does. Point
            # stdout at /dev/null so the interpreter's final flush cannot fail too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    async def _chat(self, request: ChatRequest) -> None:
        self._reasoning_open = self._text_open = False
        client = build_minimax_client()
        try:
            async with aclosing(client.stream(request)) as events:
                async for event in events:
                    self._show(event)
        finally:
            await client.aclose()

    def _show(self, event) -> None:
        if self._reasoning_open and not isinstance(event, ReasoningDelta):
            self.stderr.write("")  # end the reasoning's line before anything else
            self._reasoning_open = False
        if isinstance(event, TextDelta):
            self.stdout.write(event.text, ending="")
            self.stdout.flush()
            self._text_open = True
        elif isinstance(event, ReasoningDelta):
            self.stderr.write(event.text, ending="")
            self.stderr.flush()
            self._reasoning_open = True
        elif isinstance(event, ToolCallDelta) and event.name:
            self.stderr.write(f"[tool call: {event.name}]")
        elif isinstance(event, Sensitivity) and event.flagged:
            self.stderr.write(
                f"[MiniMax flagged this exchange: input type {event.input_type}, "
                f"output type {event.output_type}]"
            )
        elif isinstance(event, Finish):
            self._end_text_line()
            if event.reason != "stop":
                self.stderr.write(f"[finished: {event.reason}]")
        elif isinstance(event, StreamError):
            self._end_text_line()
            raise CommandError(describe_error(event.error))

    def _end_text_line(self) -> None:
        if self._text_open:
            self.stdout.write("")
            self._text_open = False
