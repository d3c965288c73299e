"""The suite ends every process it starts, even when the test that started it fails."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A test run that starts a server which starts a child of its own, then fails
# without stopping either (as test_crash.py's restarted daphne was left serving).
LEAKY_RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.browser.servers import Process

    process = Process(
        name="leaky",
        args=["sh", "-c", f"sleep 300 & echo $! > {sys.argv[2]}; exec sleep 301"],
        env={"PATH": "/usr/bin:/bin"},
        log_path=Path(sys.argv[1]),
    )
    process.start()
    print(process.popen.pid, flush=True)
    while not Path(sys.argv[2]).exists() or not Path(sys.argv[2]).read_text():
        pass
    raise SystemExit("the test failed")
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_failed_run_leaves_no_process_behind(tmp_path):
    child_pid_file = tmp_path / "child.pid"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LEAKY_RUN,
            str(tmp_path / "leaky.log"),
            str(child_pid_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    pids = [int(result.stdout.split()[0]), int(child_pid_file.read_text())]

    deadline = time.monotonic() + 5
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if alive(pid)]
    for pid in left:  # not for the next run either
        os.kill(pid, 9)
    assert result.returncode != 0
    assert left == []


# A test run that starts a server and is then killed outright (SIGKILL, or the
# SIGTERM of a CI timeout): no fixture, finalizer or atexit runs.
KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from tests.browser.servers import Process

    process = Process(
        name="orphan",
        args=["sleep", "300"],
        env={"PATH": "/usr/bin:/bin"},
        log_path=Path(sys.argv[1]),
    )
    process.start()
    print(process.popen.pid, flush=True)
    os.kill(os.getpid(), int(sys.argv[2]))
    """
)


def running(pid: int) -> bool:
    """Return whether pid runs (a zombie nobody reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["KILL", "TERM"])
def test_a_killed_run_leaves_no_server_behind(tmp_path, sig):
    result = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path / "orphan.log"), str(sig)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    pid = int(result.stdout.split()[0])
    deadline = time.monotonic() + 5
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = running(pid)
    if left:  # not for the next run either
        os.kill(pid, 9)
    assert result.returncode == -sig
    assert not left, "the server outlived the killed test run"
