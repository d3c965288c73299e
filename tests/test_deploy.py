"""docs/deploy.md's recipe, run: the launcher with two daphne processes on
PostgreSQL + Redis, behind nginx configured with the page's own nginx block."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from bench.processes import Processes, answers_http, prepare_database
from bench.wsclient import HandshakeRefused, WebSocket
from tests.browser.servers import free_port
from tests.page_model import checked_done

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
NGINX = shutil.which("nginx") or (
    "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
)
USERNAME, PASSWORD = "bench", "bench-pass-123"

pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed"),
    pytest.mark.skipif(
        shutil.which("redis-server") is None
        or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        reason="needs redis-server and PostgreSQL (make services)",
    ),
]


def site_block(site_port: int, proxy_port: int) -> str:
    """The page's first nginx block, on loopback without TLS (docs/deploy.md)."""
    block = re.search(r"```nginx\n(.*?)```", DEPLOY, re.S).group(1)
    block = block.replace("server 127.0.0.1:8001;", f"server 127.0.0.1:{site_port};")
    block = block.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{proxy_port};")
    block = block.replace("server_name chat.example.com;", "server_name 127.0.0.1;")
    lines = [line for line in block.splitlines() if "ssl_" not in line]
    assert f"listen 127.0.0.1:{proxy_port};" in lines[lines.index("server {") + 2]
    return "\n".join(lines)


def nginx_conf(work: Path, site_port: int, proxy_port: int) -> str:
    user = "user root;\n" if os.getuid() == 0 else ""
    temp = "\n".join(
        f"    {name}_temp_path {work / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\npid {work / 'nginx.pid'};\n"
        f"error_log {work / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    access_log {work / 'access.log'};\n{temp}\n"
        f"{site_block(site_port, proxy_port)}\n}}\n"
    )


def wait_for(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not in {timeout} s: {what}")


@pytest.fixture
def deployed():
    """PostgreSQL, Redis, the launcher (2 processes) and nginx; yields nginx's URL."""
    started: list[subprocess.Popen] = []
    # Not under pytest's tmp_path: the postgres user must reach the cluster's folder.
    with (
        tempfile.TemporaryDirectory(prefix="chat-deploy-") as tmp,
        Processes(Path(tmp)) as procs,
    ):
        work = Path(tmp)
        database_url = procs.start_postgres()
        redis_url = procs.start_redis()
        site_port = free_port()
        proxy_port = free_port()
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "MINIMAX_", "DATABASE_", "REDIS_"))
        }
        env.update(
            # The site's settings, static files from the app folders (no
            # collectstatic manifest to build), nothing counted (no BENCH_COUNTS_DIR).
            DJANGO_SETTINGS_MODULE="bench.settings",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_DEBUG="0",
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_CSRF_TRUSTED_ORIGINS=proxy_url,
            DJANGO_BEHIND_PROXY="1",
            # No certificate here: plain HTTP through the proxy.
            DJANGO_INSECURE_HTTP="1",
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            CHAT_DATA_DIR=str(work / "data"),
            MINIMAX_SIMULATOR_CHUNK_DELAY="0.01",
            PYTHONUNBUFFERED="1",
        )
        prepare_database(env)
        launcher_log = (work / "launcher.log").open("wb")
        launcher = subprocess.Popen(
            [
                *(sys.executable, "-m", "chatsite.launcher", "--host", "127.0.0.1"),
                *("--port", str(site_port), "--workers", "2", "--", "--proxy-headers"),
            ],
            cwd=ROOT,
            env=env,
            stdout=launcher_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(launcher)
        conf = work / "nginx.conf"
        conf.write_text(nginx_conf(work, site_port, proxy_port))
        nginx = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(work), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(work / "nginx.out").open("wb"),
            start_new_session=True,
        )
        started.append(nginx)
        try:
            wait_for(
                lambda: answers_http(f"http://127.0.0.1:{site_port}/login/"),
                "the launcher answers",
            )
            wait_for(lambda: answers_http(f"{proxy_url}/login/"), "nginx answers")
            yield proxy_url
        finally:
            for popen in reversed(started):
                if popen.poll() is None:
                    popen.send_signal(signal.SIGTERM)
                    try:
                        popen.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        os.killpg(popen.pid, signal.SIGKILL)
                        popen.wait(timeout=10)
            print((work / "launcher.log").read_text(errors="replace")[-3000:])


async def through_the_proxy(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await http.get("/login/")
        response = await http.post(
            "/login/",
            data={
                "username": USERNAME,
                "password": PASSWORD,
                "csrfmiddlewaretoken": http.cookies["csrftoken"],
            },
        )
        assert response.status_code == 302, response.text[:500]
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        response = await http.post(
            "/api/conversations/",
            json={"model": "MiniMax-Text-01"},
            headers={"X-CSRFToken": http.cookies["csrftoken"]},
        )
        assert response.status_code == 201, response.text[:500]
        conversation_id = response.json()["id"]
    path = f"/ws/conversations/{conversation_id}/"

    with pytest.raises(HandshakeRefused):
        await WebSocket.connect(
            "127.0.0.1", port, path, {"Origin": "http://evil.example", "Cookie": cookie}
        )
    sockets = [
        await WebSocket.connect(
            "127.0.0.1", port, path, {"Origin": url, "Cookie": cookie}
        )
        for _ in range(6)
    ]
    await asyncio.sleep(0.5)  # every socket has joined the conversation's group
    await sockets[0].send_json(
        {"type": "message.send", "content": "Hello through nginx", "client_id": "c"}
    )

    async def read_reply(socket: WebSocket) -> tuple[str, dict]:
        text = ""
        while True:
            frame = await socket.receive_json()
            if frame["type"] == "reply.delta":
                offset = frame["text_offset"]
                assert offset <= len(text), "a frame was lost"
                text += frame["text"][len(text) - offset :]
            elif frame["type"] == "reply.done":
                return text, frame["message"]

    replies = await asyncio.wait_for(
        asyncio.gather(*(read_reply(socket) for socket in sockets)), timeout=60
    )
    for socket in sockets:
        await socket.close()
    texts = {text for text, _ in replies}
    assert len(texts) == 1
    assert all(done["status"] == "complete" for _, done in replies)
    for text, done in replies:
        # A long reply's reply.done has a check of the text, not the text.
        shown = checked_done({"id": done["id"], "content": text}, done)
        assert shown is not None and shown["content"] == text
    assert len(replies[0][0]) > 20


def test_the_recipe_serves_pages_and_websockets_through_nginx(deployed):
    asyncio.run(through_the_proxy(deployed))
