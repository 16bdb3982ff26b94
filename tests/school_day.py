"""Lesson times for tests that open the timetable page: the page lists the school's today, so a
lesson added "now" must not fall on another date than the page shows."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from classroom.demo import DEMO_TIMEZONE

# Time from adding the lesson until the last page that looks for it on the timetable is open.
PAGES_OPEN_WITHIN = dt.timedelta(seconds=60)

waits_out_midnight = pytest.mark.timeout(180 + 125)
"""For tests that call ``start_on_school_today``: the usual timeout plus its longest wait."""


def _crosses_midnight(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> bool:
    return start.astimezone(zone).date() != end.astimezone(zone).date()


async def start_on_school_today(
    offset: dt.timedelta, *, timezone: str = DEMO_TIMEZONE
) -> dt.datetime:
    """A lesson start ``offset`` from now such that it and the pages opened after it share the
    school's date; a moment before the school's midnight waits until just after it."""
    zone = ZoneInfo(timezone)
    while True:
        now = dt.datetime.now(dt.UTC)
        earliest = min(now, now + offset)
        latest = max(now, now + offset) + PAGES_OPEN_WITHIN
        if not _crosses_midnight(earliest, latest, zone):
            return now + offset
        local = earliest.astimezone(zone)
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), zone)
        await asyncio.sleep((midnight - local).total_seconds() + 1)
