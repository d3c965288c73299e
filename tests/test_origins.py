"""The websocket refuses pages of any other origin (scheme, host and port)."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "127.0.0.1:8000"


async def handshake(user, conversation, origin, *, host=HOST, scheme="ws", extra=()):
    """Return whether the socket opened for a page of `origin` (None: no header)."""
    from chatsite.asgi import application

    client = Client()
    await database_sync_to_async(client.force_login)(user)
    headers = [
        (b"host", host.encode()),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        *extra,
    ]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    socket = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation.pk}/", headers=headers
    )
    socket.scope["scheme"] = scheme
    connected, _ = await socket.connect()
    await socket.disconnect()
    return connected


async def test_the_sites_own_origin_opens_the_socket(user, conversation, channel_layer):
    assert await handshake(user, conversation, f"http://{HOST}") is True


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",  # another host
        "http://127.0.0.1:8001",  # the same host on another port
        "https://127.0.0.1:8000",  # another scheme
        "http://127.0.0.1",  # the default port is another port
        "null",  # a sandboxed iframe, a file:// page
        None,  # no Origin header at all
        "",
        "http://127.0.0.1:8000.evil.example",
    ],
)
async def test_another_origin_is_refused(origin, user, conversation, channel_layer):
    assert await handshake(user, conversation, origin) is False


async def test_a_host_outside_allowed_hosts_is_refused(
    user, conversation, channel_layer
):
    assert (
        await handshake(user, conversation, "http://evil.example", host="evil.example")
        is False
    )


async def test_wss_pages_are_https_origins(user, conversation, channel_layer):
    assert await handshake(user, conversation, f"https://{HOST}", scheme="wss") is True
    assert await handshake(user, conversation, f"http://{HOST}", scheme="wss") is False


async def test_default_ports_are_the_same_origin(user, conversation, channel_layer):
    assert (
        await handshake(
            user, conversation, "https://localhost", host="localhost:443", scheme="wss"
        )
        is True
    )


async def test_trusted_origins_are_let_in(user, conversation, channel_layer, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.corp.test"]
    assert await handshake(user, conversation, "https://chat.example.com") is True
    assert await handshake(user, conversation, "https://app.corp.test") is True
    assert await handshake(user, conversation, "http://chat.example.com") is False


async def test_behind_a_proxy_the_forwarded_scheme_counts(
    user, conversation, channel_layer, settings
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = ((b"x-forwarded-proto", b"https"),)
    assert (
        await handshake(user, conversation, f"https://{HOST}", extra=forwarded) is True
    )
    assert (
        await handshake(user, conversation, f"http://{HOST}", extra=forwarded) is False
    )
