"""The processes the load bench starts, and how it ends every one of them.

Each child runs in a process group of its own and is ended by that group (TERM,
then KILL), so a daphne and whatever it started go together; PostgreSQL, which
pg_ctl detaches, is stopped with pg_ctl. `Processes` is a context manager: leaving
it (normally, on an error, or on Ctrl-C) ends everything it started.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Variables a developer's shell may carry that would point the site elsewhere.
SCRUBBED = ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS")


def port_ranges() -> tuple[range, range]:
    """Return the (site, upstream) port ranges: CHAT_PORTS="9400-9499" (or
    BENCH_PORTS) splits one range in two halves (for a machine shared by several
    people), else the defaults."""
    spec = os.environ.get("CHAT_PORTS") or os.environ.get("BENCH_PORTS", "")
    if not spec:
        return range(18700, 18800), range(9100, 9200)
    low, high = (int(part) for part in spec.split("-"))
    middle = (low + high + 1) // 2
    return range(middle, high + 1), range(low, middle)


SITE_PORTS, UPSTREAM_PORTS = port_ranges()
USERNAME = "bench"
PASSWORD = "bench-pass-123"


def free_port(ports: range) -> int:
    """Return a port of `ports` that nothing listens on (nor binds) right now."""
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def wait_until(ready, what: str, timeout: float, alive=lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what}: the process exited")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready in {timeout:.0f} s")


def answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError as error:
        # An HTTP error status still means it answers.
        return hasattr(error, "code")


def read_proc(pid: int) -> tuple[float, int]:
    """Return (CPU seconds used, resident bytes) of process pid, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, size: int = 3000) -> str:
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        return data[-size:].decode(errors="replace")


class Processes:
    """Start and, on leaving, stop the bench's children."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.children: list[Child] = []
        self.pg_data: Path | None = None
        self.pg_bin: Path | None = None

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Child:
        log_path = self.work_dir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, popen, log_path)
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            stop_group(child.popen)
        self.children.clear()
        if self.pg_data is not None and self.pg_bin is not None:
            subprocess.run(
                [
                    *as_postgres(),
                    str(self.pg_bin / "pg_ctl"),
                    "-D",
                    str(self.pg_data),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                timeout=30,
            )
            self.pg_data = None

    # --- the services -----------------------------------------------------------

    def start_upstream(
        self, pieces: int, gap_ms: float, unicode: bool = False, filler_file: str = ""
    ) -> tuple[Child, str]:
        port = free_port(UPSTREAM_PORTS)
        args = [sys.executable, "-m", "bench.fake_upstream", "--port", str(port)]
        args += ["--pieces", str(pieces), "--gap-ms", str(gap_ms)]
        if unicode:
            args.append("--unicode")
        if filler_file:
            args += ["--filler-file", filler_file]
        child = self.start("upstream", args, dict(os.environ))
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers_http(url + "/health"), "upstream", 20, child.alive)
        return child, url

    def start_redis(self) -> str:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (make services)")
        port = free_port(SITE_PORTS)
        args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no"]
        child = self.start("redis", args, dict(os.environ))
        wait_until(lambda: answers_ping(port), "redis", 20, child.alive)
        return f"redis://127.0.0.1:{port}/0"

    def start_postgres(self) -> str:
        """Start a throwaway cluster (as scripts/with-postgres does); return its URL."""
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (make services)")
        self.pg_bin = bins[-1].parent
        pg_dir = self.work_dir / "postgres"
        pg_dir.mkdir()
        pg_dir.chmod(0o755)
        password = secrets.token_hex(16)
        (pg_dir / "pwfile").write_text(password + "\n")
        if os.getuid() == 0:
            shutil.chown(pg_dir, "postgres")
            shutil.chown(pg_dir / "pwfile", "postgres")
            # The work dir must be traversable by the postgres user.
            self.work_dir.chmod(0o755)
        data = pg_dir / "data"
        run = [*as_postgres(), str(self.pg_bin / "initdb"), "-D", str(data)]
        run += ["-U", "chat", f"--pwfile={pg_dir / 'pwfile'}", "-A", "scram-sha-256"]
        run += ["-E", "UTF8", "--locale=C.UTF-8"]
        subprocess.run(run, check=True, capture_output=True, timeout=120)
        port = free_port(SITE_PORTS)
        # synchronous_commit=off: like the site's SQLite (WAL, synchronous=NORMAL),
        # a commit does not wait for its fsync; a crash loses the last moments only.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories={pg_dir} -c synchronous_commit=off"
        )
        self.pg_data = data
        subprocess.run(
            [
                *as_postgres(),
                str(self.pg_bin / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(pg_dir / "server.log"),
                "-w",
                "-o",
                options,
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return f"postgres://chat:{password}@127.0.0.1:{port}/postgres"

    def start_daphne(self, name: str, env: dict[str, str]) -> tuple[Child, str]:
        port = free_port(SITE_PORTS)
        args = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port)]
        args.append("chatsite.asgi:application")
        child = self.start(name, args, env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: answers_http(url + "/login/"), name, 60, child.alive)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{child.log_tail()}") from None
        return child, url


def as_postgres() -> list[str]:
    """initdb refuses to run as root: as root, run the cluster as `postgres`."""
    return ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


def stop_group(popen: subprocess.Popen) -> None:
    if popen.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(popen.pid, sig)
        except ProcessLookupError:
            return
        try:
            popen.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def site_env(database_url: str, redis_url: str, upstream_url: str, counts_dir: Path):
    """Return the environment of a daphne process of the site under the bench."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SCRUBBED and not key.startswith("MINIMAX_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        # A throwaway key for a throwaway database.
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="0",
        DJANGO_INSECURE_HTTP="1",
        DATABASE_URL=database_url,
        MINIMAX_API_KEY="bench-fake-key",
        MINIMAX_BASE_URL=upstream_url,
        CHAT_DATA_DIR=str(counts_dir.parent / "data"),
        BENCH_COUNTS_DIR=str(counts_dir),
        PYTHONUNBUFFERED="1",
        # One bench user runs every stream: the per-user limits (counted in Redis
        # with --redis, so across the processes) would refuse most of them.
        CHAT_LIMIT_CONCURRENT_REPLIES="0",
        CHAT_LIMIT_MESSAGES_PER_MINUTE="0",
        CHAT_LIMIT_CONVERSATIONS_PER_HOUR="0",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run a manage.py command with env (chatsite.settings); raise if it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "chatsite.settings"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def prepare_database(env: dict[str, str]) -> None:
    """Migrate, and create the bench's user (a plain user with a password)."""
    manage(env, "migrate", "--noinput", "-v", "0")
    code = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})"
    )
    manage(env, "shell", "-c", code)


def read_counts(counts_dir: Path) -> dict[str, int]:
    """Return the statement counts of every daphne process, summed by verb."""
    total: dict[str, int] = {}
    for path in counts_dir.glob("*.json"):
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for verb, count in counts.items():
            total[verb] = total.get(verb, 0) + count
    return total
