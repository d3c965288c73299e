"""The offline MiniMax: wire-exact responses for every endpoint the site uses.

Use `SimulatorTransport` as an httpx transport (offline mode, tests) or
`make_asgi_app` behind an ASGI server (`manage.py minimax_simulator`). Trigger
phrases such as `[sim:drop]` are listed in docs/simulator.md.
"""

from .asgi import make_asgi_app
from .transport import SimulatorTransport

__all__ = ["SimulatorTransport", "make_asgi_app"]
