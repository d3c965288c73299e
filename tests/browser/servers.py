"""Real server processes for the browser tests: daphne, redis, manage.py commands.

The browser tests drive the site the way a visitor does, so the site runs as its own
daphne process with its own SQLite file, never inside pytest's test database.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Variables a developer's shell may carry that would point the site elsewhere.
SCRUBBED = ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS")
SCRUBBED_PREFIX = "MINIMAX_"
USER_PASSWORD = "browser-test-Pa55word"


def port_range() -> range | None:
    """CHAT_PORTS=9500-9599: take the ports from this range (a shared machine)."""
    spec = os.environ.get("CHAT_PORTS", "")
    if not spec:
        return None
    low, _, high = spec.partition("-")
    return range(int(low), int(high or low) + 1)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    ports = port_range()
    if ports is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    # Round-robin through the range, so a port just handed out is not given twice.
    global _next_port
    for _ in ports:
        port = ports[_next_port % len(ports)]
        _next_port += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in CHAT_PORTS={os.environ['CHAT_PORTS']}")


_next_port = 0


def site_env(db_path: Path, **overrides: str) -> dict[str, str]:
    """Return the environment of a site process using the SQLite file at db_path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SCRUBBED and not key.startswith(SCRUBBED_PREFIX)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"sqlite:///{db_path}",
        PYTHONUNBUFFERED="1",
        # The browser tests share a few users across many quick conversations; the
        # per-user limits have tests of their own (tests/test_ratelimit.py).
        CHAT_LIMIT_MESSAGES_PER_MINUTE="10000",
        CHAT_LIMIT_CONVERSATIONS_PER_HOUR="10000",
        CHAT_LIMIT_CONCURRENT_REPLIES="100",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run a manage.py command with env and return its output; raise if it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def create_user(env: dict[str, str], username: str) -> None:
    """Create an ordinary (non-staff) user on the site whose environment is env."""
    code = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, "
        f"password={USER_PASSWORD!r})"
    )
    manage(env, "shell", "-c", code)


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def ended_with_this_process():
    """Return a preexec_fn that has the kernel SIGKILL the child when the process
    starting it dies, however it dies (SIGKILL, SIGTERM from a CI timeout, a crash):
    atexit and fixtures never run then, and a child in a session of its own gets
    no signal from the terminal either. Linux only; elsewhere None."""
    # The kernel ties the signal to the thread that forks: a worker thread that
    # ends would take the server with it, so only the main thread asks for it.
    if _LIBC is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def preexec() -> None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # it died before prctl took effect
            os._exit(1)

    return preexec


# Every process the tests started, oldest first: whatever is still running when the
# session ends is ended (tests/browser/conftest.py, and atexit below as a backstop).
STARTED: list[Process] = []


@dataclass
class Process:
    """A long-running child process whose output goes to a log file.

    It leads a process group of its own, so stopping it also ends anything it
    started, and a Ctrl-C in the terminal does not reach it half-way. It dies with
    the test process even when that is killed outright (ended_with_this_process).
    """

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None
    _log_file: object = field(default=None, repr=False)

    def start(self) -> None:
        self._log_file = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=ended_with_this_process(),
        )
        STARTED.append(self)

    def log(self, since: int = 0) -> str:
        """Return what the process has printed, from byte offset since."""
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def exited(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    def stop(self) -> None:
        """End the process and its group: SIGTERM, then SIGKILL after 10 s."""
        if self.popen is not None:
            if self.popen.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    self.popen.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.popen.wait(timeout=10)
            # Whatever it started and left behind, even if it died itself.
            self._signal_group(signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)


def stop_all() -> None:
    """End every process the tests started that is still running, newest first."""
    for process in reversed(STARTED):
        process.stop()
    STARTED.clear()


atexit.register(stop_all)


@dataclass
class SiteServer:
    """A daphne process serving chatsite.asgi, and the environment it runs with."""

    url: str
    env: dict[str, str]
    process: Process
    users: set[str] = field(default_factory=set)

    def ensure_user(self, username: str) -> str:
        """Create username once on this server's database; return it."""
        if username not in self.users:
            create_user(self.env, username)
            self.users.add(username)
        return username


def wait_until(ready, process: Process, what: str, timeout: float = 30.0) -> None:
    """Poll ready() until true; fail with the process log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.exited():
            raise RuntimeError(f"{process.name} exited early:\n{process.log()}")
        if ready():
            return
        time.sleep(0.1)
    process.stop()
    raise RuntimeError(f"{process.name} did not {what} in {timeout}s:\n{process.log()}")


def answers_http(url: str) -> bool:
    try:
        httpx.get(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


def start_daphne(name: str, env: dict[str, str], log_dir: Path) -> SiteServer:
    """Start daphne on a free port with env; return once it answers HTTP."""
    port = free_port()
    process = Process(
        name=name,
        args=[
            str(BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "chatsite.asgi:application",
        ],
        env=env,
        log_path=log_dir / f"{name}.log",
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers_http(f"{url}/login/"), process, "answer HTTP")
    return SiteServer(url=url, env=env, process=process)


def start_simulator(
    log_dir: Path, chunk_delay: float, name: str = "simulator"
) -> tuple[Process, str]:
    """Start `manage.py minimax_simulator` on a free port; return it and its URL."""
    port = free_port()
    process = Process(
        name=name,
        args=[
            sys.executable,
            "manage.py",
            "minimax_simulator",
            "--port",
            str(port),
            "--chunk-delay",
            str(chunk_delay),
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        log_path=log_dir / f"{name}.log",
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers_http(url), process, "answer HTTP")
    return process, url


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(log_dir: Path) -> tuple[Process, int]:
    """Start a throwaway redis-server (no persistence) on a free port."""
    port = free_port()
    process = Process(
        name="redis",
        args=[
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        env=dict(os.environ),
        log_path=log_dir / "redis.log",
    )
    process.start()
    wait_until(lambda: answers_ping(port), process, "answer PING")
    return process, port
