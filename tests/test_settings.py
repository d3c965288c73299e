"""Settings read from the environment: what an operator gets for what they set."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_KEY = "k7#Qm2!vX9pL4@wZ8rT1^yB6nF3&hJ5sD0*gC2eA7uK9oP4iM1lN8bV6cR3tY5xW"


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py with the production settings module and exactly `env` on top."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "MINIMAX_", "DATABASE_", "REDIS_"))
    }
    base["DJANGO_SETTINGS_MODULE"] = "chatsite.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_value(expression: str, **env: str):
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({expression}))"
    )
    result = run_manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_deploy_check_passes_with_only_secret_key_and_allowed_hosts():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=DEPLOY_KEY,
        DJANGO_ALLOWED_HOSTS="chat.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_insecure_http_switch_relaxes_https_for_an_intranet():
    values = settings_value(
        "[settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE,"
        " settings.SECURE_HSTS_SECONDS]",
        DJANGO_SECRET_KEY=DEPLOY_KEY,
        DJANGO_INSECURE_HTTP="1",
    )
    assert values == [False, False, 0]


def test_no_variables_at_all_runs_with_debug_off_and_a_generated_key(tmp_path):
    values = settings_value(
        "[settings.DEBUG, len(settings.SECRET_KEY), settings.SECURE_SSL_REDIRECT]",
        CHAT_DATA_DIR=str(tmp_path),
    )
    assert values == [False, 67, True]
    assert (tmp_path / "secret_key").exists()


def test_redis_url_switches_to_the_redis_channel_layer():
    backend = settings_value(
        "settings.CHANNEL_LAYERS['default']['BACKEND']",
        DJANGO_DEBUG="1",
        REDIS_URL="redis://127.0.0.1:6390/0",
    )
    assert backend == "conversations.layers.ProcessFirstRedisChannelLayer"
    assert (
        settings_value(
            "settings.CHANNEL_LAYERS['default']['BACKEND']", DJANGO_DEBUG="1"
        )
        == "conversations.layers.LocalChannelLayer"
    )


def test_database_url_selects_postgresql():
    database = settings_value(
        "[settings.DATABASES['default'][key] for key in ('ENGINE', 'NAME')]",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://chat:secret@db.internal:5432/chat",
    )
    assert database == ["django.db.backends.postgresql", "chat"]


def test_postgresql_connections_come_from_a_pool_unless_turned_off():
    expression = (
        "[settings.DATABASES['default']['CONN_MAX_AGE'], "
        "settings.DATABASES['default'].get('OPTIONS', {}).get('pool')]"
    )
    url = "postgres://chat:secret@db.internal:5432/chat"
    pooled = settings_value(expression, DJANGO_DEBUG="1", DATABASE_URL=url)
    plain = settings_value(
        expression, DJANGO_DEBUG="1", DATABASE_URL=url, DATABASE_POOL="0"
    )

    # Under ASGI a persistent connection is never reused (a thread per request).
    assert pooled[0] == 0
    assert pooled[1]["max_size"] == 20
    assert plain == [60, None]
