"""How long a streamed piece waits for its frame (conversations/replies/pacing.py).

The relay is replayed on a list of arrival times: it looks when the pacer says
(a piece that makes a frame due, or the deadline it gave), as the runner does.
"""

import itertools
import random

import pytest

from conversations.replies.pacing import MAX_HOLD, MIN_INTERVAL, FramePacer

MS = 0.001


def frames_for(
    arrivals: list[float], end: float | None = None
) -> list[tuple[float, list[float]]]:
    """(time sent, arrival times of its pieces) for each frame, the stream ending
    at `end` (by default with its last piece)."""
    pacer = FramePacer()
    frames: list[tuple[float, list[float]]] = []
    waiting: list[float] = []
    deadline: float | None = None

    def flush(now: float) -> None:
        nonlocal deadline
        frames.append((now, list(waiting)))
        waiting.clear()
        pacer.sent(now)
        deadline = None

    def run_deadlines_until(moment: float) -> None:
        nonlocal deadline
        while deadline is not None and deadline < moment:
            due = pacer.due_in(deadline)
            if due == 0:
                flush(deadline)
            else:
                deadline += due

    for arrival in arrivals:
        run_deadlines_until(arrival)
        waiting.append(arrival)
        if pacer.arrived(arrival):
            due = pacer.due_in(arrival)
            if due == 0:
                flush(arrival)
            else:
                deadline = arrival + due
    end = arrivals[-1] if end is None else end
    run_deadlines_until(end)
    if waiting:  # the stream ends: the rest goes at once
        flush(end)
    return frames


def waits(frames: list[tuple[float, list[float]]]) -> list[float]:
    return [sent - arrival for sent, pieces in frames for arrival in pieces]


def test_the_first_piece_goes_at_once():
    frames = frames_for([5.0])
    assert frames == [(5.0, [5.0])]


def test_evenly_spaced_pieces_wait_one_spacing_at_most_two_to_a_frame():
    # 200 pieces 10 ms apart (the benchmark's upstream): a fixed 20 ms clock held
    # a piece for up to 20 ms.
    arrivals = [i * 10 * MS for i in range(200)]
    frames = frames_for(arrivals)
    assert max(waits(frames)) <= 10 * MS + 1e-9
    assert len(frames) <= 101


def test_jittered_pieces_still_wait_about_one_spacing():
    rng = random.Random(7)
    arrivals = sorted(i * 10 * MS + rng.uniform(-3, 3) * MS for i in range(2000))
    frames = frames_for(arrivals)
    piece_waits = sorted(waits(frames))
    assert piece_waits[int(0.95 * len(piece_waits))] <= 14 * MS
    assert max(piece_waits) <= MAX_HOLD + 1e-9
    # Still about two pieces to a frame, not one.
    assert len(frames) < 0.6 * len(arrivals)


def test_a_lone_piece_waits_at_most_the_hold():
    # Pairs of pieces 1 ms apart, 100 ms between pairs: the first of a pair
    # comes after a quiet moment and goes at once; the second waits for company
    # that does not come, then goes alone.
    arrivals = [start + gap for start in (0.0, 0.1, 0.2, 0.3) for gap in (0, MS)]
    frames = frames_for(arrivals, end=1.0)
    assert [len(pieces) for _, pieces in frames] == [1] * 8
    assert waits(frames)[::2] == [0.0] * 4
    assert waits(frames)[1::2] == pytest.approx([MAX_HOLD] * 4)


def test_a_burst_makes_at_most_one_frame_per_min_interval():
    # 1,000 pieces a second for half a second.
    arrivals = [i * MS for i in range(500)]
    frames = frames_for(arrivals)
    times = [sent for sent, _ in frames[:-1]]  # the last goes with the end
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= MIN_INTERVAL - 1e-9
    assert len(frames) <= 0.5 / MIN_INTERVAL + 2
    assert sum(len(pieces) for _, pieces in frames) == 500
