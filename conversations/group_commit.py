"""Writes that arrive together, stored together: one transaction for many.

A message.send is stored before its reply goes upstream (services), in the one
database thread every write of the process waits for. Fifty sends arriving in the
same moment were fifty transactions in a row, each ~2.5 ms of Python and SQL, and
the last one's first token waited for all the others. Here they queue instead:
the first goes at once, alone; those that arrive while it is being written go
together in the next call, and so on. Nothing waits for a timer, so a lone send
is as quick as before, and many cost a handful of queries between them.

    store = GroupCommit(write_many)     # write_many(outbox, items) -> results
    result = await store.write(item)    # its result, or its exception raised

`write_many` runs through `relay.run_write` (the database thread, then the
outbox's frames) and returns one result per item, in order: a value, or the
exception that item is refused with. A batch whose write raises is written again
one item at a time, so an item that breaks the write fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from conversations.relay import Outbox, run_write

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# At most this many items in one transaction: a bound on how long it holds its
# locks and the database thread.
MAX_BATCH = 100


@dataclass
class _Queue(Generic[Item, Result]):
    """One event loop's items waiting for the next batch, and its writer task."""

    pending: list[tuple[Item, asyncio.Future[Result]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


class GroupCommit(Generic[Item, Result]):
    """Items written by `write_many` in batches of whatever queued meanwhile."""

    def __init__(
        self,
        write_many: Callable[[Outbox, list[Item]], list[Result | Exception]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._write_many = write_many
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
            queue.writer = loop.create_task(self._drain(queue), name="group-commit")
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
                results = await self._write_batch([item for item, _ in batch])
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

    async def _write_batch(self, items: list[Item]) -> list[Result | Exception]:
        try:
            return await run_write(self._write_many, items)
        except Exception as error:
            if len(items) == 1:
                return [error]
            logger.warning(
                "A batch of %d writes failed; writing them one at a time",
                len(items),
                exc_info=True,
            )
        results: list[Result | Exception] = []
        for item in items:
            try:
                results.extend(await run_write(self._write_many, [item]))
            except Exception as error:
                results.append(error)
        return results
