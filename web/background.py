"""Work each node does on a timer (and when woken): the absence check, the reactions of the
linked services to domain events (``classroom.outbox``), notice delivery, visit heartbeats,
planner statistics of tables that fill fast.

Every node runs it; the database decides which node does each piece, so running many is
safe and a node that stops leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from classroom.events import AttendanceFinalised
from classroom.outbox import OutboxRelay
from classroom.storage import statistics
from presence import absence, visits
from presence.notices import NoticeDispatcher
from recordings import store as recordings_store
from web.room_events import publish_marks_changed
from web.services import Services

log = logging.getLogger(__name__)

STOP_GRACE = 5.0
RECORDINGS_SWEEP = dt.timedelta(minutes=10)
"""How often recordings past their retention are looked for."""
RECORDING_STALE = dt.timedelta(minutes=10)
"""A recording still "running" this long after its lesson's overrun is closed by the sweep."""
STATISTICS_CHECK = dt.timedelta(seconds=5)
"""How often tables that doubled are looked for (``classroom.storage.statistics``)."""


class BackgroundWork:
    def __init__(
        self, services: Services, dispatcher: NoticeDispatcher, outbox: OutboxRelay | None = None
    ) -> None:
        self._services = services
        self._dispatcher = dispatcher
        self._outbox = outbox
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_heartbeat = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._last_recordings_sweep = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._last_statistics_check = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="urok-background")

    def wake(self) -> None:
        """Run now rather than at the next tick (a notice was just queued)."""
        self._wake.set()

    async def run_once(self) -> None:
        services = self._services
        now = dt.datetime.now(dt.UTC)
        times = services.settings.room_times
        for lesson_id in await absence.check_due_lessons(services.db, now=now, times=times):
            await publish_marks_changed(services.realtime, lesson_id)
            await services.events.publish(AttendanceFinalised(lesson_id, now))
        # Reactions of the linked services first: they may queue notices, delivered next.
        while (
            self._outbox is not None
            and not self._stopping
            and await self._outbox.run_once(dt.datetime.now(dt.UTC))
        ):
            pass
        while not self._stopping and await self._dispatcher.run_once(dt.datetime.now(dt.UTC)):
            pass
        if now - self._last_recordings_sweep >= RECORDINGS_SWEEP:
            self._last_recordings_sweep = now
            await recordings_store.sweep(
                services.db,
                services.settings.data_dir,
                now=now,
                retention=dt.timedelta(days=services.settings.recording_retention_days),
                stale=dt.timedelta(seconds=services.settings.room_overrun) + RECORDING_STALE,
            )
        if now - self._last_statistics_check >= STATISTICS_CHECK:
            self._last_statistics_check = now
            try:
                await statistics.analyse_doubled_tables(services.db)
            except Exception as exc:  # statistics help; the heartbeat below must not miss
                log.warning("analysing tables that doubled failed: %s", exc)
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
        if self._outbox is not None:
            await self._outbox.release()
        await visits.close_node(self._services.db, self._services.node_id, dt.datetime.now(dt.UTC))
