"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os
import sys

from django.core.asgi import get_asgi_application

from chatsite import eager_write, ws_compression

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# The event loop and the one database thread take turns on the GIL: a thread
# that wants it back waits up to this long for the other to let go (CPython's
# default is 5 ms, which queued every send's queries behind the streams).
sys.setswitchinterval(0.0005)
# Daphne serves over Twisted: websocket frames go to the socket at once.
eager_write.install()
# ...compressed when the browser offers permessage-deflate, as every browser does.
ws_compression.install()
# Set up Django (apps, models) before importing anything that uses the ORM.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from conversations.origin import SameOriginValidator  # noqa: E402
from conversations.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
