"""Settings for daphne under the load bench: the site's own, plus a write counter.

    DJANGO_SETTINGS_MODULE=bench.settings BENCH_COUNTS_DIR=/tmp/x daphne ...

Every database connection the process opens gets an execute wrapper (Django's
"database instrumentation") that counts statements by verb. A daemon thread writes
the counts to $BENCH_COUNTS_DIR/<pid>.json twice a second, where bench.stream_load
reads them: writes per reply are counted inside the server, on any database
engine, without touching the site's code. The one other difference from
chatsite.settings: static files are served from the app folders (no collectstatic
manifest to build first), as in tests.settings; the bench loads no page but /login/.

BENCH_LAYER_OPTIONS (JSON, e.g. '{"socket_timeout": null, "capacity": 1000}') goes
into the Redis channel layer's config (capacity, expiry...) or its host (any other
key), over the site's own values: a way to try a layer setting before the site
adopts it (bench.stream_load --layer-options). Unset, the layer is the site's own.
"""

import json
import os
import threading
import time
import warnings
from collections import Counter
from pathlib import Path

from chatsite.settings import *  # noqa: F403
from chatsite.settings import CHANNEL_LAYERS, REDIS_URL, STORAGES

STORAGES["staticfiles"]["BACKEND"] = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
)
WHITENOISE_USE_FINDERS = True
# Whitenoise looks for a collected static folder the bench does not build.
warnings.filterwarnings("ignore", message="No directory at")

# The layer's own options; any other key is the Redis connection's (host) option.
LAYER_CONFIG_KEYS = ("capacity", "expiry", "group_expiry", "channel_capacity")
LAYER_OPTIONS = json.loads(os.environ.get("BENCH_LAYER_OPTIONS") or "{}")
if REDIS_URL and LAYER_OPTIONS:
    config = CHANNEL_LAYERS["default"]["CONFIG"]
    # Start from the site's own host options: a key not given keeps its value.
    host = dict(config["hosts"][0])
    for key, value in LAYER_OPTIONS.items():
        if key in LAYER_CONFIG_KEYS:
            config[key] = value
        else:
            host[key] = value
    config["hosts"] = [host]

COUNTS_DIR = os.environ.get("BENCH_COUNTS_DIR", "")
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
FLUSH_INTERVAL = 0.5


class StatementCounter:
    """Count SQL statements by their first word, over every thread's connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        verb = sql.lstrip().split(None, 1)[0].upper() if sql else ""
        with self.lock:
            self.counts[verb] += 1
        return execute(sql, params, many, context)

    def attach(self, sender=None, connection=None, **kwargs) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL)
            with self.lock:
                counts = dict(self.counts)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(counts))
            temporary.replace(self.path)


if COUNTS_DIR:
    from django.db.backends.signals import connection_created

    COUNTER = StatementCounter(Path(COUNTS_DIR) / f"{os.getpid()}.json")
    connection_created.connect(COUNTER.attach, weak=False)
    threading.Thread(target=COUNTER.flush_forever, daemon=True).start()

# One bench user runs every stream: the per-user limits stay on (their checks cost
# what they cost on every message.send) but far above the bench's load.
CHAT_LIMIT_CONCURRENT_REPLIES = 100_000
CHAT_LIMIT_MESSAGES_PER_MINUTE = 100_000
CHAT_LIMIT_CONVERSATIONS_PER_HOUR = 100_000
