"""Work each node does on a timer: the absence check, notice delivery, visit heartbeats.

Every node runs it; the database decides which node does each piece, so running many is
safe and a node that stops leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from presence import absence, visits
from presence.notices import NoticeDispatcher
from web.services import Services

log = logging.getLogger(__name__)

STOP_GRACE = 5.0


class BackgroundWork:
    def __init__(self, services: Services, dispatcher: NoticeDispatcher) -> None:
        self._services = services
        self._dispatcher = dispatcher
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_heartbeat = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="urok-background")

    def wake(self) -> None:
        """Run now rather than at the next tick (a notice was just queued)."""
        self._wake.set()

    async def run_once(self) -> None:
        services = self._services
        now = dt.datetime.now(dt.UTC)
        await absence.check_due_lessons(services.db, now=now, times=services.settings.room_times)
        while not self._stopping and await self._dispatcher.run_once(dt.datetime.now(dt.UTC)):
            pass
        if now - self._last_heartbeat >= visits.HEARTBEAT:
            await visits.refresh(services.db, services.node_id, now)
            self._last_heartbeat = now

    async def _run(self) -> None:
        interval = self._services.settings.sweep_interval
        while not self._stopping:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background work failed; trying again at the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()

    async def stop(self) -> None:
        """Let the work under way finish (a few seconds at most), then give back leases and
        close this node's visits."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._dispatcher.release()
        await visits.close_node(self._services.db, self._services.node_id, dt.datetime.now(dt.UTC))
