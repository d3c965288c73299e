"""Settings for the MiniMax chat site.

This is the one module that reads the environment; every variable is listed in
README.md and .env.example. Defaults give an embedded site (SQLite, in-memory
channel layer, offline MiniMax simulator); production values come from the
environment.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


DEBUG = env_bool("DJANGO_DEBUG")

# Where the site keeps what it writes itself: the generated secret key, media files.
DATA_DIR = Path(os.environ.get("CHAT_DATA_DIR") or BASE_DIR / "var")


def load_or_create_secret_key(path: Path) -> str:
    """Return the key kept in `path`, making a random one (mode 0600) the first time.

    A fresh checkout then runs with no configuration at all, and sessions survive a
    restart; DJANGO_SECRET_KEY, when set, always wins (as Open WebUI does with its
    .webui_secret_key file).
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        # O_EXCL: two processes starting at once agree on the first one's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as key_file:
        key_file.write(key + "\n")
    return key


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or load_or_create_secret_key(
    DATA_DIR / "secret_key"
)

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]"
    ).split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

# Secure by default whenever DEBUG is off. DJANGO_INSECURE_HTTP=1 is the documented
# switch for a plain-HTTP intranet (no HTTPS redirect, no secure cookies, no HSTS).
INSECURE_HTTP = env_bool("DJANGO_INSECURE_HTTP")
HTTPS_ENFORCED = not DEBUG and not INSECURE_HTTP
SECURE_SSL_REDIRECT = HTTPS_ENFORCED
SESSION_COOKIE_SECURE = HTTPS_ENFORCED
CSRF_COOKIE_SECURE = HTTPS_ENFORCED
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS_ENFORCED else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ENFORCED
SECURE_HSTS_PRELOAD = HTTPS_ENFORCED
if env_bool("DJANGO_BEHIND_PROXY"):
    # A TLS-terminating proxy in front of daphne tells us the original scheme.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "accounts",
    "conversations",
    "review",
    "speech",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A strict Content-Security-Policy on every response (chatsite/csp.py).
    "chatsite.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost, so it sees the views' exceptions first: bad input -> 400.
    "conversations.middleware.BadInputMiddleware",
    # Last: turns a locked-out sign-in into django-axes' 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "conversations.context_processors.minimax_mode",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Reused connections: a new PostgreSQL connection per request cost most
        # of its CPU per reply; the health check drops one the server closed.
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_POOL", default=True
):
    # Under ASGI every HTTP request runs in a thread of its own, so a persistent
    # connection (CONN_MAX_AGE) is never reused: each request opened a new one.
    # psycopg's pool (one per process) hands the same few connections around.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE") or 20),
        # A request waits this long for a free connection, then fails.
        "timeout": 20,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several async tasks write at once; wait for the lock instead of failing,
    # and take it up front so a read never has to be upgraded mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis, with frames for a process's own sockets kept out of
            # Redis (conversations/layers.py).
            "BACKEND": "conversations.layers.ProcessFirstRedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py's 5 s default read timeout equals the layer's
                        # blocking pop: under load consumers died with "Timeout
                        # reading"; the pool's default 100 refused 1,000 sockets.
                        "socket_timeout": None,
                        "max_connections": int(
                            os.environ.get("REDIS_MAX_CONNECTIONS", "2000")
                        ),
                    }
                ],
                # channels_redis keeps one inbox per process, shared by all its
                # sockets, and group_send silently drops past capacity. At 2000, two
                # processes 2-3 s behind at 100 streams (~2,400 frames/s) lost
                # frames; at 20000 none (docs/performance.md). A full inbox is a
                # few MB of Redis, and only while a process lags.
                "capacity": int(os.environ.get("CHANNEL_LAYER_CAPACITY", "20000")),
            },
        }
    }
    # Shared by every process: the rate limits count in it (conversations.limits).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "chat",
        }
    }
else:
    # One process: Channels' in-memory layer with a cheaper group_send.
    CHANNEL_LAYERS = {"default": {"BACKEND": "conversations.layers.LocalChannelLayer"}}
    # One process (the in-memory channel layer cannot span more): a per-process
    # cache holds the rate limits' counts.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Off by default: staff add users in the admin. On: anyone may create an account.
OPEN_SIGNUP = env_bool("CHAT_OPEN_SIGNUP")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded and generated files (speech clips). No MEDIA_URL: nothing here is public;
# each file is served by a view that checks its owner.
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- MiniMax -----------------------------------------------------------------
# No key: every call goes to the built-in simulator through an httpx transport.
MINIMAX_API_KEY = os.environ.get("MINIMAX_API_KEY", "")
MINIMAX_BASE_URL = os.environ.get(
    "MINIMAX_BASE_URL", "https://api.minimaxi.com"
).rstrip("/")
MINIMAX_GROUP_ID = os.environ.get("MINIMAX_GROUP_ID", "")
MINIMAX_CONNECT_TIMEOUT = env_float("MINIMAX_CONNECT_TIMEOUT", 10.0)
MINIMAX_FIRST_TOKEN_TIMEOUT = env_float("MINIMAX_FIRST_TOKEN_TIMEOUT", 90.0)
MINIMAX_IDLE_TIMEOUT = env_float("MINIMAX_IDLE_TIMEOUT", 60.0)
MINIMAX_MAX_RETRIES = int(os.environ.get("MINIMAX_MAX_RETRIES", "2"))
# Seconds between simulated chunks in offline mode; tests set 0.
MINIMAX_SIMULATOR_CHUNK_DELAY = env_float("MINIMAX_SIMULATOR_CHUNK_DELAY", 0.03)

# --- Limits --------------------------------------------------------------------
# A reply longer (text + reasoning, in characters) or longer-running than this is
# cut short: finish_reason "length", with an explanation the page shows.
CHAT_REPLY_MAX_CHARS = int(os.environ.get("CHAT_REPLY_MAX_CHARS") or 400_000)
CHAT_REPLY_MAX_SECONDS = env_float("CHAT_REPLY_MAX_SECONDS", 900.0)

# Per-user limits (conversations/limits.py); 0 turns one off.
CHAT_LIMIT_CONCURRENT_REPLIES = int(
    os.environ.get("CHAT_LIMIT_CONCURRENT_REPLIES") or 3
)
CHAT_LIMIT_MESSAGES_PER_MINUTE = int(
    os.environ.get("CHAT_LIMIT_MESSAGES_PER_MINUTE") or 20
)
CHAT_LIMIT_CONVERSATIONS_PER_HOUR = int(
    os.environ.get("CHAT_LIMIT_CONVERSATIONS_PER_HOUR") or 60
)
CHAT_LIMIT_SPEECH_CHARS_PER_DAY = int(
    os.environ.get("CHAT_LIMIT_SPEECH_CHARS_PER_DAY") or 100_000
)
# Failed sign-ins (django-axes): after this many for one username from one address,
# that pair is locked out for CHAT_LIMIT_LOGIN_LOCKOUT_MINUTES (429).
CHAT_LIMIT_LOGIN_FAILURES = int(os.environ.get("CHAT_LIMIT_LOGIN_FAILURES") or 5)
AXES_FAILURE_LIMIT = CHAT_LIMIT_LOGIN_FAILURES
AXES_COOLOFF_TIME = timedelta(
    minutes=env_float("CHAT_LIMIT_LOGIN_LOCKOUT_MINUTES", 15.0)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_MESSAGE = format_lazy(
    _(
        "Too many failed sign-ins for this account from here. Try again in "
        "{minutes} minutes."
    ),
    minutes=f"{AXES_COOLOFF_TIME.total_seconds() / 60:g}",
)
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = AXES_FAILURE_LIMIT > 0
# One line on stdout at every start otherwise, in every management command.
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Masks the API key, in any form, in every log line and traceback.
        "redact_api_key": {
            "()": "conversations.minimax.redact.RedactKeyFilter",
            "key": MINIMAX_API_KEY,
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_api_key"]},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # httpx logs each request line at INFO; the key is in a header, never the URL.
        "httpx": {"level": "WARNING"},
    },
}

# In development, serve static files straight from the app folders (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG
