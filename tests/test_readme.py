"""Every manage.py example in README works as written in a bare shell.

A newcomer copies these into a new terminal with nothing set: no DJANGO_* or
MINIMAX_* variables, no key file yet. Each ```sh block that runs manage.py is run
by bash with only PATH and HOME, from the checkout, and must succeed.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)
# Blocks that need another machine (a PostgreSQL host named "db") are tested in
# their own setting; everything else that runs manage.py is tried here.
RUNNABLE = [b for b in BLOCKS if "manage.py" in b and "postgres://" not in b]
PYTHON = ROOT / ".venv" / "bin" / "python"


def run_block(block: str, home: Path) -> subprocess.CompletedProcess[str]:
    # Background jobs the block starts (the simulator) end with the script.
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    return subprocess.run(
        ["bash", "-c", script + block],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_shows_each_command_a_newcomer_needs():
    text = "\n".join(RUNNABLE)
    for command in ("minimax_chat", "minimax_tts", "minimax_simulator", "check"):
        assert f"manage.py {command}" in text


@pytest.mark.skipif(not PYTHON.exists(), reason="needs the checkout's .venv")
@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.split("\n")[0][:60])
def test_readme_block_runs_in_a_bare_shell(block, tmp_path):
    outputs = set(re.findall(r"--out (\S+)", block))
    try:
        result = run_block(block, tmp_path)
    finally:
        for name in outputs:
            (ROOT / name).unlink(missing_ok=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "ImproperlyConfigured" not in result.stderr


def test_generated_secret_key_is_private_and_reused(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    env["CHAT_DATA_DIR"] = str(tmp_path / "data")
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    keys = [
        subprocess.run(
            [str(PYTHON), "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()[-1]
        for _ in range(2)
    ]
    key_file = tmp_path / "data" / "secret_key"
    assert keys[0] == keys[1] == key_file.read_text().strip()
    assert len(keys[0]) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600
    env["DJANGO_SECRET_KEY"] = "x" * 60
    result = subprocess.run(
        [str(PYTHON), "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split()[-1] == "x" * 60
