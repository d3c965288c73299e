"""Time text-to-speech: the simulator's renders, and whole studio clips.

`python -m bench.speech_bench` first renders the same long text with one voice and
with a four-voice mix, several times each, and prints seconds of audio made per
second of CPU, the size of the MP3, and peak Python memory. The simulator answers
every offline "speak" request this way.

Then it makes whole clips of 10,000 and 50,000 characters the way the studio does
(speech.services.make_clip: split at sentence ends, parts synthesised three at a
time by the real client against the simulator, joined into one MP3 on disk), in a
throwaway SQLite database and media folder, and prints the time, the parts, the
audio made, and peak memory (Python allocations, and the process's resident set).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import statistics
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

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


def render_figures(repeats: int) -> None:
    print(f"text: {len(TEXT)} characters; {repeats} renders each")
    for name, voices in VOICE_MIXES.items():
        for speed in (1.0, 2.0):
            measure(name, speech(voices, speed), repeats)


# --- whole clips -------------------------------------------------------------

CLIP_SENTENCES = (
    "The river ran quietly past the old mill, and nobody in the village noticed. ",
    "她推开窗户，看见远处的山上已经下了第一场雪。",
    "By morning the bridge was gone; only the stones remained. ",
    "我们决定沿着河岸一直走下去，直到找到新的渡口为止。",
)


def clip_text(characters: int) -> str:
    """Return about `characters` characters of English and Chinese sentences."""
    text = ""
    while len(text) < characters:
        text += CLIP_SENTENCES[len(text) % len(CLIP_SENTENCES)]
    return text[:characters]


def configure_django(folder: Path) -> None:
    """Point the settings at a fresh SQLite file, a temp media folder, offline."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="0",
        DJANGO_INSECURE_HTTP="1",
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
        MINIMAX_API_KEY="",
        MINIMAX_SIMULATOR_CHUNK_DELAY="0",
    )
    os.environ.pop("REDIS_URL", None)
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.MEDIA_ROOT = folder / "media"
    call_command("migrate", verbosity=0)


def make_one_clip(characters: int, owner, *, trace_memory: bool) -> dict:
    from speech import services
    from speech.checks import check_speech_settings
    from speech.models import SpeechClip

    speech_settings = check_speech_settings(
        {
            "text": clip_text(characters),
            "model": "speech-02-hd",
            "voices": [
                {"voice_id": "female-shaonv", "weight": 60},
                {"voice_id": "male-qn-qingse", "weight": 40},
            ],
        }
    )
    clip = services.do_create_clip(owner, speech_settings)
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    asyncio.run(services.make_clip(clip))
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace_memory else None
    if trace_memory:
        tracemalloc.stop()
    clip = SpeechClip.objects.get(pk=clip.pk)
    assert clip.status == "done", clip.error
    return {"clip": clip, "seconds": seconds, "peak": peak}


def clip_figures(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="speech-bench-") as tmp:
        configure_django(Path(tmp))
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.create_user("bench")
        print()
        print("whole clips (split, 3 parts at a time, join), two-voice mix:")
        for size in sizes:
            timed = make_one_clip(size, owner, trace_memory=False)
            traced = make_one_clip(size, owner, trace_memory=True)
            clip = timed["clip"]
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{size:>7,} chars: {timed['seconds']:6.2f} s, "
                f"{clip.parts_total} parts, "
                f"{clip.duration_ms / 60000:5.1f} min of audio, "
                f"{clip.size_bytes / 2**20:5.1f} MiB mp3, "
                f"peak Python memory {traced['peak'] / 2**20:5.1f} MiB "
                f"(process max RSS so far {rss:.0f} MiB)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--clip-sizes",
        default="10000,50000",
        help="Comma-separated clip lengths in characters (empty: no clips).",
    )
    parser.add_argument("--no-renders", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_renders:
        render_figures(args.repeats)
    sizes = [int(size) for size in args.clip_sizes.split(",") if size.strip()]
    if sizes:
        clip_figures(sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
