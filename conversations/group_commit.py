"""Writes that arrive together, stored together: one transaction for many
(batches.py, through the one database thread).

A message.send is stored before its reply goes upstream (services), in the one
database thread every write of the process waits for. Fifty sends arriving in the
same moment were fifty transactions in a row, each ~2.5 ms of Python and SQL, and
the last one's first token waited for all the others. Here they queue instead
(batches.Batches): a lone send is as quick as before, and many cost a handful of
queries between them.

    store = GroupCommit(write_many)     # write_many(outbox, items) -> results
    result = await store.write(item)    # its result, or its exception raised

`write_many` runs through `relay.run_write` (the database thread, then the
outbox's frames) and returns one result per item, in order: a value, or the
exception that item is refused with. A batch whose write raises is written again
one item at a time, so an item that breaks the write fails alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from conversations.batches import MAX_BATCH, Batches
from conversations.relay import Outbox, run_write

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Batches[Item, Result]):
    """Items written by `write_many` in batches of whatever queued meanwhile.

    MAX_BATCH bounds how long one transaction holds its locks and the database
    thread.
    """

    def __init__(
        self,
        write_many: Callable[[Outbox, list[Item]], list[Result | Exception]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        super().__init__(self._write_batch, max_batch=max_batch)
        self._write_many = write_many

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
