"""Time the offline simulator's text-to-speech: how fast it makes real MP3 audio.

`python -m bench.speech_bench` renders the same long text with one voice and with a
four-voice mix, several times each, and prints seconds of audio made per second of
CPU, the size of the MP3, and peak Python memory. The simulator answers every
offline "speak" request this way, so this is the wait a person has for a clip.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from conversations.minimax.simulator.speech import Speech, render

TEXT = (
    "MiniMax speech from the offline simulator. Each syllable is a short voiced "
    "tone; punctuation makes a pause, and the voice mix sets the timbre. "
) * 6 + "你好，欢迎使用离线模拟器。今天的天气很好，我们一起去公园散步吧。" * 4

VOICE_MIXES = {
    "one voice": [("male-qn-qingse", 1)],
    "four-voice mix": [
        ("male-qn-qingse", 1),
        ("female-shaonv", 2),
        ("female-yujie", 3),
        ("audiobook_male_2", 4),
    ],
}


def speech(voices: list[tuple[str, int]], speed: float) -> Speech:
    return Speech(text=TEXT, voices=voices, speed=speed)


def measure(name: str, request: Speech, repeats: int) -> None:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        audio = render(request)
        timings.append(time.perf_counter() - started)
    tracemalloc.start()
    render(request)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seconds = audio.duration_ms / 1000
    median = statistics.median(timings)
    print(
        f"{name:>16} x{request.speed:<4} {seconds:6.1f} s of audio, "
        f"{len(audio.data) / 1024:7.1f} KiB mp3, median {median * 1000:6.1f} ms "
        f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}), "
        f"{seconds / median:6.0f}x real time, peak {peak / 2**20:.2f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"text: {len(TEXT)} characters; {args.repeats} renders each")
    for name, voices in VOICE_MIXES.items():
        for speed in (1.0, 2.0):
            measure(name, speech(voices, speed), args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
