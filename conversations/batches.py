"""Work that arrives together, done together: one batch for whatever queued.

The first item goes at once, alone; those that arrive while its batch is being
done go together in the next one, and so on. Nothing waits for a timer, so a
lone item is as quick as without batching, and many share one round trip.

    batches = Batches(write_batch)    # async write_batch(items) -> results
    result = await batches.write(item)  # its result, or its exception raised

`write_batch` returns one result per item, in order: a value, or the exception
that item is refused with; if it raises, every item of the batch fails with it.
Users: group_commit.py (the database thread's writes), layers.py (Redis
pipelines to the other processes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

Item = TypeVar("Item")
Result = TypeVar("Result")

# At most this many items in one batch.
MAX_BATCH = 100


@dataclass
class _Queue(Generic[Item, Result]):
    """One event loop's items waiting for the next batch, and its writer task."""

    pending: list[tuple[Item, asyncio.Future[Result]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


class Batches(Generic[Item, Result]):
    """Items handed to `write_batch` in batches of whatever queued meanwhile."""

    def __init__(
        self,
        write_batch: Callable[[list[Item]], Awaitable[list[Result | Exception]]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        # Per event loop (tests run one each): futures and tasks belong to one.
        self._queues: WeakKeyDictionary[
            asyncio.AbstractEventLoop, _Queue[Item, Result]
        ] = WeakKeyDictionary()

    async def write(self, item: Item) -> Result:
        """Write `item` in the next batch; return its result or raise its error.

        A caller cancelled before its batch starts is left out of it; once the
        batch has started, the item is written whether or not anyone waits.
        """
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[Result] = loop.create_future()
        queue.pending.append((item, future))
        if queue.writer is None:
            queue.writer = loop.create_task(self._drain(queue), name="batches")
        return await future

    async def _drain(self, queue: _Queue[Item, Result]) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while queue.pending:
                taken = queue.pending[: self._max_batch]
                del queue.pending[: self._max_batch]
                batch = [(item, future) for item, future in taken if not future.done()]
                if not batch:
                    continue
                try:
                    results = await self._write_batch([item for item, _ in batch])
                except Exception as error:
                    results = [error] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        except BaseException:
            # The loop is going away (or a bug): no caller is left waiting forever.
            for _, future in batch + queue.pending:
                future.cancel()
            queue.pending.clear()
            raise
        finally:
            queue.writer = None
