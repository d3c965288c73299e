"""The site's MiniMax client, built once per event loop from settings.

An httpx.AsyncClient's connection pool belongs to the event loop that opened it,
so each running loop (daphne's, a test's, a management command's) gets its own
client; it is dropped with its loop. With no MINIMAX_API_KEY the site runs offline
against the simulator's in-process transport: no socket, same bytes.
"""

from __future__ import annotations

import asyncio
import weakref

from django.conf import settings

from conversations.minimax.client import MiniMaxClient, Timeouts

OFFLINE_API_KEY = "offline-simulator"
OFFLINE_BASE_URL = "https://simulator.invalid"

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MiniMaxClient] = (
    weakref.WeakKeyDictionary()
)


def is_offline() -> bool:
    """Return True when no MiniMax API key is set: replies come from the simulator."""
    return not settings.MINIMAX_API_KEY


def get_minimax_client() -> MiniMaxClient:
    """Return the running loop's shared client, building it on first use."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = build_minimax_client()
    return client


def build_minimax_client() -> MiniMaxClient:
    """Return a new client configured from settings (the simulator when offline)."""
    timeouts = Timeouts(
        connect=settings.MINIMAX_CONNECT_TIMEOUT,
        first_token=settings.MINIMAX_FIRST_TOKEN_TIMEOUT,
        idle=settings.MINIMAX_IDLE_TIMEOUT,
    )
    if is_offline():
        # Imported here: the simulator is only needed, and only loaded, offline.
        from conversations.minimax.simulator import SimulatorTransport

        return MiniMaxClient(
            api_key=OFFLINE_API_KEY,
            base_url=OFFLINE_BASE_URL,
            transport=SimulatorTransport(
                chunk_delay=settings.MINIMAX_SIMULATOR_CHUNK_DELAY
            ),
            timeouts=timeouts,
            max_retries=settings.MINIMAX_MAX_RETRIES,
        )
    return MiniMaxClient(
        api_key=settings.MINIMAX_API_KEY,
        base_url=settings.MINIMAX_BASE_URL,
        group_id=settings.MINIMAX_GROUP_ID,
        timeouts=timeouts,
        max_retries=settings.MINIMAX_MAX_RETRIES,
    )
