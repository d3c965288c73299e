"""The websocket's origin check: the page must come from this site's own origin.

Channels' AllowedHostsOriginValidator compares host names only, so a page served
from the same host on another port or scheme (which SameSite=Lax cookies treat as
the same site) could open a signed-in socket. This compares the whole origin,
scheme://host[:port], the way Django's CSRF check does: the Origin header must be
the request's own origin (its Host header, with ws -> http and wss -> https, or the
scheme a trusted proxy forwarded) or one of CSRF_TRUSTED_ORIGINS. A missing or
"null" origin is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": "80", "https": "443"}


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """Return the first value of header `name` (lowercase), or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def request_scheme(scope: dict[str, Any]) -> str:
    """Return http or https: what a page of this socket's own origin uses."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        # "HTTP_X_FORWARDED_PROTO" -> b"x-forwarded-proto", as Django reads META.
        wire_name = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        forwarded = header(scope, wire_name)
        if forwarded is not None:
            first = forwarded.split(",", 1)[0].strip()
            return "https" if first == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def normalized_origin(scheme: str, netloc: str) -> str | None:
    """Return scheme://host[:port] lowercased, without the scheme's default port."""
    host, port = split_domain_port(netloc.lower())
    if not host:
        return None
    if port in ("", DEFAULT_PORTS.get(scheme)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def own_origin(scope: dict[str, Any]) -> str | None:
    """Return the origin of this request (None: no Host, or not an allowed host)."""
    host = header(scope, b"host")
    if not host:
        return None
    domain, _port = split_domain_port(host.lower())
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return normalized_origin(request_scheme(scope), host)


def parsed_origin(origin: str) -> str | None:
    """Return the Origin header normalized, or None if it is not scheme://host."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        return None
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return normalized_origin(parts.scheme, parts.netloc)


def trusted(origin: str) -> bool:
    """Return whether `origin` is in CSRF_TRUSTED_ORIGINS (`*.` subdomains too)."""
    scheme, _, netloc = origin.partition("://")
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wanted = parsed_origin(entry.replace("://*.", "://wildcard."))
        if wanted is None:
            continue
        if "://*." not in entry:
            if wanted == origin:
                return True
            continue
        # https://*.example.com: any subdomain of example.com, that scheme and port.
        wanted_scheme, _, wanted_netloc = wanted.partition("://")
        suffix = wanted_netloc.removeprefix("wildcard")
        if scheme == wanted_scheme and netloc.endswith(suffix):
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Return whether the socket's page comes from this site's origin."""
    raw = header(scope, b"origin")
    if not raw or raw == "null":
        return False
    origin = parsed_origin(raw.strip())
    if origin is None:
        return False
    return origin == own_origin(scope) or trusted(origin)


class SameOriginValidator:
    """ASGI middleware: refuse the handshake (403) of a page from another origin."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
