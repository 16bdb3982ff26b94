"""Absence notices reach the webhook signed, once each, across a server restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import func, select

from classroom.storage.models import Notice
from tests.clients import LiveClient, enter, lesson_now, seat
from tests.conftest import LiveServer, make_settings, start_server
from tests.gateway import SECRET, Gateway
from web.services import SERVICES_KEY


async def until(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the condition did not hold in time")


async def notice_count(server: LiveServer) -> int:
    async with server.app[SERVICES_KEY].db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Notice)) or 0)


async def test_no_notice_is_lost_or_sent_twice_across_a_restart(
    tmp_path: Path, gateway: tuple[Gateway, str]
) -> None:
    receiver, url = gateway
    settings = make_settings(
        tmp_path,
        webhook_url=url,
        webhook_secret=SECRET,
        absence_after=0.3,
        sweep_interval=0.2,
        login_burst=100,
    )
    server, runner = await start_server(settings)
    teacher = LiveClient()
    try:
        lesson = await lesson_now(server.app[SERVICES_KEY].db)
        place = await seat(server.url, "teacher", lesson)
        await teacher.connect(server.url, place.token)
        assert (await enter(teacher, place))["ok"]

        async def queued_and_tried() -> bool:
            return await notice_count(server) == 25 and receiver.refused >= 1

        await until(queued_and_tried)  # every student is absent; the gateway is down
        await teacher.close()
    finally:
        await runner.cleanup()

    receiver.accepting = True
    server, runner = await start_server(settings)  # the same database: a restart
    try:

        async def all_delivered() -> bool:
            return len(receiver.deliveries) == 25

        await until(all_delivered)
        await asyncio.sleep(1.0)  # a chance for any second delivery to show
    finally:
        await runner.cleanup()
    server, runner = await start_server(settings)  # and once more: nothing is sent again
    try:
        await asyncio.sleep(1.0)
    finally:
        await runner.cleanup()

    assert set(receiver.deliveries.values()) == {1}, "each notice exactly once"
    assert receiver.bad_signatures == 0
    body = next(iter(receiver.bodies.values()))
    assert body["kind"] == "absent"
    assert set(body) >= {"id", "recipient_id", "student", "lesson", "created_at"}
