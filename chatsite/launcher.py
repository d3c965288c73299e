"""Serve the site with several daphne processes on one listening socket.

    python -m chatsite.launcher --host 127.0.0.1 --port 8000 --workers 2

`make run` uses it. The socket is bound once, here, and every daphne process
accepts on it (`daphne --fd`), so the kernel spreads the connections over them.
Several processes need a channel layer they share: when REDIS_URL is unset this
starts a local redis-server (a unix socket in $CHAT_DATA_DIR, nothing saved) and
gives its URL to every process; without redis-server it serves with one process
and says so. The processes share the database as on several machines (SQLite in
WAL mode with a busy timeout, or DATABASE_URL).

It runs `manage.py recover_replies` before the first daphne starts, restarts a
daphne that dies, and on Ctrl-C (SIGINT), SIGTERM or SIGHUP stops every process
it started: the daphnes first, then redis. A child also gets SIGTERM if this
process is killed outright (PR_SET_PDEATHSIG), so none is left behind.

Arguments after `--` go to every daphne (e.g. `-- --proxy-headers`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# A daphne that dies this soon after starting, this many times in a row, is not
# restarted again: something is wrong with the code or the settings.
QUICK_DEATH_SECONDS = 5.0
QUICK_DEATHS_ALLOWED = 5
STOP_WAIT_SECONDS = 10.0
# sun_path holds 108 bytes on Linux.
MAX_UNIX_PATH = 100

PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m chatsite.launcher", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", "127.0.0.1"),
        help="an IPv4 address (default: $HOST, else 127.0.0.1)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    workers = os.environ.get("WORKERS", "").strip()
    parser.add_argument(
        "--workers",
        type=int,
        default=int(workers) if workers else default_workers(),
        help="daphne processes (default: $WORKERS, else the number of cores)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args, extra


def log(message: str) -> None:
    print(f"[launcher] {message}", file=sys.stderr, flush=True)


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the launcher dies, whatever kills it."""
    with_libc = ctypes.CDLL(None, use_errno=True)
    with_libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    # A process group of its own: a Ctrl-C in the terminal reaches only the
    # launcher, which stops the children in order (daphnes before redis).
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        process_group=0,
        preexec_fn=die_with_parent if sys.platform == "linux" else None,
        **kwargs,
    )


def listen(host: str, port: int) -> socket.socket:
    # IPv4 only: daphne adopts the socket as AF_INET (twisted's fd endpoint).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def data_dir() -> Path:
    return Path(os.environ.get("CHAT_DATA_DIR") or ROOT / "var")


class Redis:
    """A local redis-server for the channel layer and the cache: nothing saved."""

    def __init__(self, server: str) -> None:
        folder = data_dir() / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.socket_path = folder / "redis.sock"
        if len(str(self.socket_path)) > MAX_UNIX_PATH:
            raise RuntimeError(f"the path {self.socket_path} is too long for a socket")
        self.popen = spawn(
            [
                server,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],
            dict(os.environ),
            stdout=(folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not self.answers():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"redis-server did not start (see {folder}/redis.log)"
                )
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1.0)
                sock.connect(str(self.socket_path))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        stop_processes([self.popen])


def stop_processes(popens: list[subprocess.Popen]) -> None:
    """SIGTERM each (its group), wait, then SIGKILL whatever is left."""
    for popen in popens:
        signal_group(popen, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    for popen in popens:
        try:
            popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(popen, signal.SIGKILL)
            popen.wait(timeout=STOP_WAIT_SECONDS)


def signal_group(popen: subprocess.Popen, sig: signal.Signals) -> None:
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


class Stop(Exception):
    pass


def on_signal(signum, frame) -> None:
    raise Stop(signal.Signals(signum).name)


class Launcher:
    def __init__(self, args: argparse.Namespace, daphne_args: list[str]) -> None:
        self.args = args
        self.daphne_args = daphne_args
        self.env = dict(os.environ)
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.redis: Redis | None = None
        self.sock: socket.socket | None = None
        self.workers: list[subprocess.Popen | None] = []
        self.started_at: list[float] = []
        self.quick_deaths = 0

    def shared_layer(self, workers: int) -> int:
        """Give the processes a shared channel layer; return how many to start."""
        if workers == 1 or self.env.get("REDIS_URL"):
            return workers
        server = shutil.which("redis-server")
        if server is None:
            log(
                f"{workers} processes need a shared channel layer, and redis-server "
                "is not installed (make services installs it) nor REDIS_URL set: "
                "serving with one process."
            )
            return 1
        try:
            self.redis = Redis(server)
        except RuntimeError as error:
            log(f"{error}: serving with one process.")
            return 1
        self.env["REDIS_URL"] = self.redis.url
        log(f"channel layer: a local redis-server at {self.redis.socket_path}")
        return workers

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)
        try:
            try:
                self.sock = listen(self.args.host, self.args.port)
            except OSError as error:
                log(f"cannot listen on {self.args.host}:{self.args.port}: {error}")
                return 1
            count = self.shared_layer(self.args.workers)
            recover = [sys.executable, "manage.py", "recover_replies"]
            if self.redis is not None or not self.env.get("REDIS_URL"):
                # This launcher's processes are the whole site (its own redis, or
                # the in-memory layer): every reply left streaming is dead.
                recover += ["--older-than", "0"]
            recovered = subprocess.run(
                recover,
                cwd=ROOT,
                env=self.env,
            )
            if recovered.returncode != 0:
                return recovered.returncode
            self.workers = [None] * count
            self.started_at = [0.0] * count
            for index in range(count):
                self.start_worker(index)
            log(
                f"serving on http://{self.args.host}:{self.args.port}/ with "
                f"{count} daphne process{'es' if count > 1 else ''} "
                f"(WORKERS={count}); Ctrl-C stops"
            )
            return self.supervise()
        except Stop as stop:
            log(f"{stop}: stopping")
            return 0
        finally:
            # No signal may interrupt the stopping itself.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            self.stop_all()

    def start_worker(self, index: int) -> None:
        args = [str(BIN / "daphne"), "--fd", str(self.sock.fileno())]
        args += [*self.daphne_args, "chatsite.asgi:application"]
        env = {**self.env, "CHAT_WORKER": str(index)}
        self.workers[index] = spawn(args, env, pass_fds=(self.sock.fileno(),))
        self.started_at[index] = time.monotonic()

    def supervise(self) -> int:
        while True:
            time.sleep(0.2)
            if self.redis is not None and self.redis.popen.poll() is not None:
                log("the local redis-server exited: stopping")
                return 1
            for index, popen in enumerate(self.workers):
                code = popen.poll()
                if code is None:
                    continue
                lived = time.monotonic() - self.started_at[index]
                self.quick_deaths = (
                    self.quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
                )
                if self.quick_deaths >= QUICK_DEATHS_ALLOWED:
                    log(
                        f"daphne {index} exited ({code}) {self.quick_deaths} times "
                        "right after starting: stopping"
                    )
                    return 1
                log(f"daphne {index} (pid {popen.pid}) exited ({code}): restarting it")
                if lived < QUICK_DEATH_SECONDS:
                    time.sleep(1.0)
                self.start_worker(index)

    def stop_all(self) -> None:
        stop_processes([popen for popen in self.workers if popen is not None])
        if self.redis is not None:
            self.redis.stop()
        if self.sock is not None:
            self.sock.close()


def main(argv: list[str] | None = None) -> int:
    args, daphne_args = parse_args(argv)
    return Launcher(args, daphne_args).run()


if __name__ == "__main__":
    sys.exit(main())
