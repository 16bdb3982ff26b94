"""Fixtures shared by the whole suite: real Redis and PostgreSQL on this machine."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("UROK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "UROK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key and channel prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"urok-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# -- a real server on loopback -----------------------------------------------------------

import dataclasses  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

from aiohttp import web  # noqa: E402

from web.settings import Settings, load_settings  # noqa: E402

TEST_SECRET = "test-secret-key-that-is-long-enough-for-every-hmac-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass
class LiveServer:
    """A urok server running in this test's event loop."""

    url: str
    port: int
    settings: Settings
    app: web.Application

    def ws_url(self) -> str:
        return self.url


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    base = load_settings({"UROK_DATA_DIR": str(data_dir), "UROK_SECRET_KEY": TEST_SECRET})
    overrides.setdefault("demo_lesson_now", False)  # tests add the lessons they use
    return dataclasses.replace(base, gc_freeze=False, **overrides)  # type: ignore[arg-type]


async def start_server(settings: Settings) -> tuple[LiveServer, web.AppRunner]:
    from web.app import create_app
    from web.listen import start_site

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await start_site(runner, "127.0.0.1", port)
    return LiveServer(f"http://127.0.0.1:{port}", port, settings, app), runner


@pytest.fixture
def server_settings(tmp_path: Path) -> Settings:
    """Settings of a fresh server: SQLite in a temporary folder, in-process bus, demo seed."""
    return make_settings(tmp_path)


@pytest.fixture
async def live_server(server_settings: Settings) -> AsyncIterator[LiveServer]:
    """A fresh demo-school server on a free loopback port, stopped after the test."""
    server, runner = await start_server(server_settings)
    try:
        yield server
    finally:
        await runner.cleanup()


# -- databases: a SQLite file and a PostgreSQL database of the test's own ------------------

import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402


async def _create_postgres_database() -> str:
    url = make_url(POSTGRES_URL)
    name = f"urok_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        database=make_url(POSTGRES_URL).database,
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each backend: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    url = await _create_postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(url)


# -- the demo school in a database, and servers with settings of the test's own -----------

import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from typing import Any  # noqa: E402

from classroom import people  # noqa: E402
from classroom.demo import DEMO_PASSWORD, seed_demo_school  # noqa: E402
from classroom.roles import Principal  # noqa: E402
from classroom.storage.database import Database  # noqa: E402
from tests.clients import LiveClient  # noqa: E402

DEMO_DAY = dt.date(2026, 9, 1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The demo school seeded on ``DEMO_DAY``, on each backend."""
    database = Database(database_url)
    await database.migrate()
    assert await seed_demo_school(database, today=DEMO_DAY)
    try:
        yield database
    finally:
        await database.close()


async def table_counts(db: Database, table: str) -> dict[str, int]:
    """PostgreSQL's counts of a table (rows read, updated, updated in place, …) as they are
    now. A backend reports its counts as it exits, so the database's pooled connections are
    closed first, and the counts read until two reads agree."""
    await db.engine.dispose()
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        counts: dict[str, int] = {}
        for _ in range(20):
            row = await connection.fetchrow(
                "SELECT * FROM pg_stat_user_tables WHERE relname = $1", table
            )
            assert row is not None, table
            now = {key: value for key, value in row.items() if isinstance(value, int)}
            if now == counts:
                break
            counts = now
            await asyncio.sleep(0.3)
        return counts
    finally:
        await connection.close()


async def demo_principal(db: Database, username: str) -> Principal:
    """A demo account signed in at the domain level."""
    return await people.authenticate(db, username, DEMO_PASSWORD)


ServerFactory = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
async def custom_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Starts servers with changed settings; request it before ``clients`` so that the
    clients close first."""
    runners: list[web.AppRunner] = []

    async def start(**overrides: Any) -> LiveServer:
        server, runner = await start_server(make_settings(tmp_path, **overrides))
        runners.append(runner)
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def clients() -> AsyncIterator[list[LiveClient]]:
    """Socket.IO clients a test made; closed after it."""
    made: list[LiveClient] = []
    yield made
    for client in made:
        if client.sio.connected:
            await client.close()
