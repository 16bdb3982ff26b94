"""A node's background work: one failing duty does not stop the others."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from classroom.storage import statistics
from classroom.storage.database import Database
from classroom.storage.models import NodeHeartbeat
from presence.notices import NoticeDispatcher
from tests.conftest import LiveServer
from web.background import BackgroundWork
from web.services import SERVICES_KEY


async def _beats(db: Database, node_id: str) -> int:
    async with db.session() as session:
        found = await session.scalars(select(NodeHeartbeat).where(NodeHeartbeat.node_id == node_id))
        return len(found.all())


async def test_the_heartbeat_goes_on_when_analysing_tables_fails(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = live_server.app[SERVICES_KEY]

    async def failing(_db: Database) -> list[str]:
        raise RuntimeError("the statistics could not be read")

    async def no_live_delivery(_person_id: int, _notice: object) -> None:
        raise AssertionError("no notice is due")

    monkeypatch.setattr(statistics, "analyse_doubled_tables", failing)
    async with services.db.session() as session:
        await session.execute(
            delete(NodeHeartbeat).where(NodeHeartbeat.node_id == services.node_id)
        )
        await session.commit()
    assert await _beats(services.db, services.node_id) == 0
    work = BackgroundWork(
        services, NoticeDispatcher(services.db, services.node_id, no_live_delivery, None)
    )
    await work.run_once()
    assert await _beats(services.db, services.node_id) == 1, "the node still says it is alive"
