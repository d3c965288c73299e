"""When a streaming reply's next `reply.delta` frame goes out.

Every frame costs the server about as much as the pieces in it (a broadcast, a
consumer turn, a websocket write per page), so pieces are coalesced; but a piece
held back is a piece late. A fixed clock (one frame per interval) holds a piece
for anything up to the whole interval, depending on where it lands against the
clock. The pacer instead sends as soon as a second piece is waiting, so with
pieces evenly spaced each frame carries two of them and the first of the two
waits one spacing, not a frame interval:

- the reply's first piece goes at once, and so does one that comes after a
  quiet moment (nothing sent for MAX_INTERVAL before it);
- two or more waiting pieces go once MIN_INTERVAL has passed since the last
  frame (so a burst makes at most one frame per MIN_INTERVAL);
- a lone piece waits at most MAX_HOLD for company.

The pacer only keeps time; the relay asks it and sleeps. Times are the event
loop's clock, in seconds.
"""

from __future__ import annotations

MIN_INTERVAL = 0.01
MAX_HOLD = 0.015
MAX_INTERVAL = 0.02


class FramePacer:
    def __init__(self) -> None:
        self.waiting = 0
        self._oldest = 0.0
        self._last_sent: float | None = None

    def arrived(self, now: float) -> bool:
        """Count a piece; return whether the relay should look now (the first
        piece waiting, or a frame due)."""
        self.waiting += 1
        if self.waiting == 1:
            self._oldest = now
            return True
        return self.due_in(now) == 0

    def due_in(self, now: float) -> float | None:
        """Seconds until the next frame is due (0: now); None with nothing waiting."""
        if not self.waiting:
            return None
        if self._last_sent is None:
            return 0.0
        # Deadlines follow the pieces, not a clock, so a frame tends to go as
        # its second piece arrives rather than just before it.
        due = self._oldest + MAX_HOLD
        if self.waiting > 1:
            due = min(due, self._last_sent + MIN_INTERVAL)
        elif self._oldest - self._last_sent >= MAX_INTERVAL:
            return 0.0  # the first piece after a quiet moment
        return max(0.0, due - now)

    def sent(self, now: float) -> None:
        self.waiting = 0
        self._last_sent = now
