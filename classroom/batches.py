"""Writes that arrive together are stored together: while one batch is being written, the
next one gathers. Under a burst this turns a transaction per request into one per batch,
and a lone request does not wait for company.

Requests that come one at a time but often (a message every few milliseconds) would each
be a batch of one. A writer with a ``linger`` lets a batch that follows the previous one
within ``linger`` wait until ``linger`` after that one began, so that such a stream is
written a few at a time (as PostgreSQL's ``commit_delay`` groups commits). The first
request after a quiet spell is still written at once, and so is a batch that has gathered
enough company. A reader that must see an item written (``settled``) ends the linger."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

WriteMany = Callable[[Sequence[ItemT]], Awaitable[Sequence[ResultT | BaseException]]]
"""Stores a batch; returns, in order, each item's result or the error of that item alone.
Raising fails the whole batch."""

MAX_BATCH = 256


class GroupWriter(Generic[ItemT, ResultT]):
    """Gathers items and hands them to ``write_many`` in batches, one batch at a time."""

    def __init__(
        self,
        write_many: WriteMany[ItemT, ResultT],
        *,
        max_batch: int = MAX_BATCH,
        linger: float = 0.0,
        enough: int | None = None,
        key: Callable[[ItemT], Hashable] | None = None,
    ) -> None:
        """``linger``: see the module; it ends early once ``enough`` items wait (by
        default ``max_batch``). ``key``: what ``settled`` waits for items by."""
        self._write_many = write_many
        self._max_batch = max_batch
        self._linger = linger
        self._enough = min(enough or max_batch, max_batch)
        self._key = key
        self._last_of: dict[Hashable, asyncio.Future[ResultT]] = {}  # by key, while queued
        self._last_batch_at = -math.inf  # loop time the last batch began
        self._lingering: asyncio.Future[None] | None = None
        self._queue: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        """Write ``item`` with whatever else arrives meanwhile; its result or its error."""
        # Shielded: a caller that gives up does not cancel the batch of the others.
        return await asyncio.shield(self.enqueue(item))

    def enqueue(self, item: ItemT) -> asyncio.Future[ResultT]:
        """Queue ``item``; the future of its result (as ``submit``, for more than one
        waiter: do not cancel it)."""
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        elif self._lingering is not None and len(self._queue) >= self._enough:
            _settle(self._lingering)
        if self._key is not None:
            key = self._key(item)
            self._last_of[key] = future
            future.add_done_callback(lambda done: self._forget(key, done))
        return future

    def _forget(self, key: Hashable, done: asyncio.Future[ResultT]) -> None:
        if self._last_of.get(key) is done:
            del self._last_of[key]

    async def settled(self, key: Hashable) -> None:
        """Wait until the items queued under ``key`` so far are written or have failed
        (batches are written in order); a lingering batch goes at once."""
        future = self._last_of.get(key)
        if future is None:
            return
        if self._lingering is not None:
            _settle(self._lingering)
        await asyncio.wait([future])

    async def _write(self) -> None:
        try:
            while self._queue:
                await self._gather_company()
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                try:
                    results = await self._write_many([item for item, _ in batch])
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_item, future), result in zip(batch, results, strict=True):
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                        future.exception()  # the caller may be gone: no warning then
                    else:
                        future.set_result(result)
        finally:
            self._writer = None

    async def _gather_company(self) -> None:
        if not self._linger:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_batch_at + self._linger - loop.time()
        if wait > 0 and len(self._queue) < self._enough:
            self._lingering = lingering = loop.create_future()
            timer = loop.call_later(wait, _settle, lingering)
            try:
                await lingering
            finally:
                timer.cancel()
                self._lingering = None
        self._last_batch_at = loop.time()

    async def close(self) -> None:
        """Wait for what was already submitted."""
        writer = self._writer
        if writer is not None:
            await asyncio.gather(writer, return_exceptions=True)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
