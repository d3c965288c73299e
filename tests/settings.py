"""Settings for the test suite: the real settings, with a test environment.

The environment is set before chatsite.settings is imported, because that module is
the one place that reads it.
"""

import os

os.environ.setdefault(
    "DJANGO_SECRET_KEY", "test-only-secret-key-not-for-any-deployment"
)
os.environ.setdefault("DJANGO_INSECURE_HTTP", "1")
os.environ.setdefault("MINIMAX_SIMULATOR_CHUNK_DELAY", "0")

from chatsite.settings import *  # noqa: F403
from chatsite.settings import STORAGES

# Templates resolve {% static %} without a collectstatic manifest.
STORAGES["staticfiles"]["BACKEND"] = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
)
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# CHAT_TEST_DROP_FRAMES=K: a channel layer that drops every K-th reply.delta and
# every reply.done fanned out to the pages (tests/lossy_layer.py; one process).
if os.environ.get("CHAT_TEST_DROP_FRAMES"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tests.lossy_layer.LossyInMemoryChannelLayer",
            "CONFIG": {"drop_every": int(os.environ["CHAT_TEST_DROP_FRAMES"])},
        }
    }
