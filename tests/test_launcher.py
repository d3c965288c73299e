"""`make run`'s launcher (chatsite/launcher.py): several daphne processes on one
socket, a local redis-server they share, a dead one restarted, nothing left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.browser.servers import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "daphne").exists(), reason="needs daphne"
)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def command_of(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(check, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not in {timeout} s: {what}")


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2.0)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture
def site_env(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "WORKERS")
        and not key.startswith("MINIMAX_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CHAT_DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    return env


def shell(env, code: str) -> str:
    return (
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        .stdout.strip()
        .splitlines()[-1]
    )


LEFT_STREAMING = (
    "from django.contrib.auth import get_user_model; "
    "from conversations.models import Conversation, Message; "
    "user = get_user_model().objects.create_user('ada', password='x-Pa55word-1'); "
    "c = Conversation.objects.create(owner=user, model='MiniMax-Text-01'); "
    "m = Message.objects.create(conversation=c, role='assistant', "
    "status='streaming', content='half'); print(m.pk)"
)


def start_launcher(env, tmp_path, workers: int):
    port = free_port()
    log = (tmp_path / "launcher.log").open("wb")
    popen = subprocess.Popen(
        [sys.executable, "-m", "chatsite.launcher", "--port", str(port)],
        cwd=ROOT,
        env={**env, "WORKERS": str(workers)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return popen, f"http://127.0.0.1:{port}", tmp_path / "launcher.log"


def daphnes(pid: int) -> list[int]:
    return [child for child in children_of(pid) if b"daphne" in command_of(child)]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_two_processes_share_a_local_redis_and_stop_together(site_env, tmp_path):
    # A reply the last run left streaming (it crashed a moment ago).
    left = shell(site_env, LEFT_STREAMING)
    popen, url, log_path = start_launcher(site_env, tmp_path, workers=2)
    try:
        wait_for(lambda: answers(url + "/login/"), what="the site answers")
        wait_for(lambda: len(daphnes(popen.pid)) == 2, what="two daphne processes")
        # Its own redis: no other process can be running it, so it is dead now.
        status = shell(
            site_env,
            "from conversations.models import Message; "
            f"print(Message.objects.get(pk={left}).status)",
        )
        assert status == "interrupted"
        children = children_of(popen.pid)
        redis = [c for c in children if b"redis-server" in command_of(c)]
        assert len(redis) == 1
        # Every process is given that redis as its channel layer.
        for pid in daphnes(popen.pid):
            environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
            assert b"REDIS_URL=unix://" + str(tmp_path).encode() in b" ".join(environ)

        # A daphne that dies is replaced; the site keeps answering.
        first = daphnes(popen.pid)
        os.kill(first[0], signal.SIGKILL)
        wait_for(
            lambda: len(daphnes(popen.pid)) == 2 and first[0] not in daphnes(popen.pid),
            what="the dead daphne replaced",
        )
        wait_for(lambda: answers(url + "/login/"), what="the site answers again")
        # The launcher may write its line after the new process is up.
        wait_for(
            lambda: b"restarting it" in log_path.read_bytes(), what="the restart logged"
        )

        # Ctrl-C: every process it started ends, and so does the launcher.
        everyone = children_of(popen.pid)
        os.kill(popen.pid, signal.SIGINT)
        assert popen.wait(timeout=30) == 0
        wait_for(lambda: not any(alive(pid) for pid in everyone), what="no orphans")
        assert not answers(url + "/login/")
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)


def test_without_redis_it_serves_with_one_process_and_says_why(site_env, tmp_path):
    # A PATH without redis-server (the venv's and the system's basics only).
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {**site_env, "PATH": f"{bare}:/usr/bin/nonexistent"}
    popen, url, log_path = start_launcher(env, tmp_path, workers=2)
    try:
        wait_for(lambda: answers(url + "/login/"), what="the site answers")
        assert len(daphnes(popen.pid)) == 1
        log = log_path.read_text()
        assert "redis-server is not installed" in log
        assert "with 1 daphne process " in log
    finally:
        os.kill(popen.pid, signal.SIGTERM)
        popen.wait(timeout=30)


def test_killed_launcher_takes_its_processes_with_it(site_env, tmp_path):
    popen, url, _ = start_launcher(site_env, tmp_path, workers=1)
    try:
        wait_for(lambda: answers(url + "/login/"), what="the site answers")
        everyone = children_of(popen.pid)
        assert everyone
        os.kill(popen.pid, signal.SIGKILL)
        popen.wait(timeout=10)
        wait_for(lambda: not any(alive(pid) for pid in everyone), what="no orphans")
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
