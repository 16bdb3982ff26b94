"""The database: async engine, sessions and schema migrations (Alembic)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, false, select
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util.concurrency import greenlet_spawn

from classroom.storage.models import Base

log = logging.getLogger(__name__)

Reader = AsyncSession | AsyncConnection
"""Where read-only statements run: a session, or a connection of ``Database.reader``."""


@dataclass(frozen=True, slots=True)
class DriverConnection:
    """A pooled PostgreSQL connection lent as asyncpg's own (see ``Database.direct``)."""

    driver: Any  # asyncpg.Connection: this module does not import the driver
    dialect: Dialect
    pooled: PoolProxiedConnection

    async def invalidate(self) -> None:
        """The connection broke: close it, and the pool opens a new one when needed."""
        await greenlet_spawn(self.pooled.invalidate)


Direct = AsyncConnection | DriverConnection
"""Where the direct statements of ``classroom.storage.direct`` run: asyncpg's connection
on PostgreSQL, a connection in autocommit elsewhere."""

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DEFAULT_POOL_SIZE = 20
"""PostgreSQL connections per process unless told otherwise."""


class Database:
    """One engine and its session factory; the only entry point to storage."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, object] = {"echo": echo}
        if not self.is_sqlite:
            # A fixed pool: connections opened for a burst and closed after it cost more
            # than the burst's queries (connect, TLS probe, type introspection), so a burst
            # waits for a pooled connection instead. 20 per process (the default) keeps 4
            # workers under PostgreSQL's default of 100 connections. No ping before each
            # checkout (a round trip on every session): after a database restart the first
            # statement fails and the pool drops its connections.
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_timeout=30, pool_recycle=1800)
        else:
            kwargs.update(connect_args={"timeout": 30})
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        """A new unit of work; use as ``async with db.session() as s``."""
        return self.sessions()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection for read-only statements, outside a transaction: each
        statement sees what was committed when it ran, and no BEGIN and ROLLBACK round
        trips are paid around them (the hot read paths of room entry)."""
        async with self.autocommit() as connection:
            yield connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in one transaction, committed when the block ends and rolled
        back if it raises: for hot write paths with Core statements (no ORM session)."""
        async with self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection where each statement commits on its own (no BEGIN, COMMIT
        or ROLLBACK round trips): for single statements that need no transaction."""
        async with self.engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def direct(self) -> AsyncIterator[Direct]:
        """A pooled connection for the statements of ``classroom.storage.direct`` alone,
        outside a transaction (each statement commits on its own).

        On PostgreSQL it is lent straight from the pool as asyncpg's connection: a checkout
        through SQLAlchemy's ``AsyncConnection`` costs about four times as much CPU
        (110 against 27 µs), more than the statement it is taken for. A connection given
        up in the middle of a statement (the caller was cancelled) is closed, not pooled."""
        if self.engine.dialect.driver != "asyncpg":
            async with self.autocommit() as connection:
                yield connection
            return
        pooled = await self.engine.raw_connection()
        lent = DriverConnection(pooled.driver_connection, self.engine.dialect, pooled)
        try:
            yield lent
        except asyncio.CancelledError:
            await lent.invalidate()
            raise
        finally:
            if pooled.is_valid:
                await greenlet_spawn(pooled.close)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade_to_head)

    async def warm_up(self) -> int:
        """Open the pool's connections now (PostgreSQL) and have each plan a statement on
        every table; return how many were opened.

        The first burst of requests then pays neither for connecting and type introspection
        nor for each new PostgreSQL backend reading the tables' and indexes' catalog entries
        on first use, which made the first second of a storm several times slower than the
        next."""
        if self.is_sqlite:
            return 0
        size = int(self.engine.pool.size())  # type: ignore[attr-defined]
        # All at once: each holds its connection until done, so the pool opens ``size``.
        await asyncio.gather(*(self._touch_every_table() for _ in range(size)))
        return size

    async def _touch_every_table(self) -> None:
        """Plan a statement that reads no rows on each table: PostgreSQL loads the table's
        and its indexes' catalog entries into this backend's caches."""
        async with self.engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                await connection.execute(select(table).where(false()))

    async def close(self) -> None:
        await self.engine.dispose()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _sqlite_pragmas(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
