"""minimax_chat and minimax_tts, run as a user would: subprocesses of manage.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def manage(
    *args: str, base_url: str, api_key: str = "some-key"
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "MINIMAX_API_KEY": api_key,
        "MINIMAX_BASE_URL": base_url,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_one_line_error(run: subprocess.CompletedProcess, words: str) -> None:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert words in lines[0]


def looks_like_mp3(audio: bytes) -> bool:
    return audio[:3] == b"ID3" or (audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0)


@pytest.mark.parametrize(
    "args",
    [
        ["--api", "v2", "--model", "abab6.5s-chat"],
        ["--api", "pro", "--model", "abab6.5s-chat", "--no-stream"],
        ["--api", "chat", "--model", "MiniMax-M2.7", "--system", "Be brief."],
    ],
)
def test_chat_prints_the_reply(simulator_url, args):
    run = manage("minimax_chat", *args, "What is a closure?", base_url=simulator_url)
    assert run.returncode == 0, run.stderr
    assert "What is a closure?" in run.stdout
    assert "<think>" not in run.stdout


def test_chat_reasoning_goes_to_stderr(simulator_url):
    run = manage(
        "minimax_chat", "--model", "MiniMax-M1", "Why?", base_url=simulator_url
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip()  # the reasoning
    assert run.stderr.strip() not in run.stdout


def test_chat_offline_uses_the_simulator_without_network():
    run = manage("minimax_chat", "Hello", base_url="http://127.0.0.1:9", api_key="")
    assert run.returncode == 0, run.stderr
    assert "Hello" in run.stdout


def test_chat_with_an_invalid_key_fails_in_one_line(simulator_url):
    run = manage(
        "minimax_chat", "Hi", base_url=simulator_url, api_key="sk-invalid-123456"
    )
    assert_one_line_error(run, "API key")
    assert "sk-invalid-123456" not in run.stderr + run.stdout


def test_chat_at_a_closed_port_fails_in_one_line(closed_port_url):
    run = manage("minimax_chat", "Hi", base_url=closed_port_url)
    assert_one_line_error(run, "Could not reach MiniMax")


def test_chat_refusal_from_the_api(simulator_url):
    run = manage("minimax_chat", "Hi [sim:error=1008]", base_url=simulator_url)
    assert_one_line_error(run, "balance")
    # The headline, then MiniMax's own words and its code.
    assert "(insufficient balance) [MiniMax 1008]" in run.stderr


@pytest.mark.parametrize("endpoint", ["t2a_v2", "text_to_speech"])
def test_tts_writes_an_mp3(simulator_url, tmp_path, endpoint):
    out = tmp_path / "hello.mp3"
    run = manage(
        "minimax_tts",
        "--voice",
        "female-shaonv:70",
        "--voice",
        "male-qn-qingse:30",
        "--speed",
        "1.2",
        "--pitch",
        "-2",
        "--endpoint",
        endpoint,
        "--out",
        str(out),
        "你好，世界",
        base_url=simulator_url,
    )
    assert run.returncode == 0, run.stderr
    audio = out.read_bytes()
    assert looks_like_mp3(audio) and len(audio) > 1000
    assert str(out) in run.stdout


@pytest.mark.parametrize(
    ("where", "key", "words"),
    [("closed", "some-key", "Could not reach MiniMax"), ("sim", "invalid", "API key")],
)
def test_tts_failure_is_one_line_and_no_file(
    simulator_url, closed_port_url, tmp_path, where, key, words
):
    out = tmp_path / "x.mp3"
    url = closed_port_url if where == "closed" else simulator_url
    run = manage(
        "minimax_tts",
        "--voice",
        "female-shaonv",
        "--out",
        str(out),
        "Hi",
        base_url=url,
        api_key=key,
    )
    assert_one_line_error(run, words)
    assert not out.exists()


def test_tts_out_of_range_value_is_refused(simulator_url, tmp_path):
    out = tmp_path / "x.mp3"
    run = manage(
        "minimax_tts",
        "--voice",
        "female-shaonv",
        "--speed",
        "3",
        "--out",
        str(out),
        "Hi",
        base_url=simulator_url,
    )
    assert_one_line_error(run, "speed")
    assert not out.exists()


def test_chat_piped_into_a_reader_that_stops_early_exits_quietly(simulator_url):
    """`minimax_chat ... | head -1`: no traceback when the pipe closes."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "MINIMAX_API_KEY": "some-key",
        "MINIMAX_BASE_URL": simulator_url,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "minimax_chat", "[sim:long] tell me more"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)

    assert b"Traceback" not in stderr, stderr.decode()
    assert process.returncode == 0
