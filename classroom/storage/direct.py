"""Statements of the hot paths run straight on the driver (PostgreSQL through asyncpg).

Running a statement through SQLAlchemy costs far more CPU than the statement itself: for
the two reads of every room entry (hands and chat history) 460 µs against 126 µs on
asyncpg alone. A ``DirectRead`` (a SELECT, or an UPDATE with RETURNING) or a
``DirectInsert`` is compiled by SQLAlchemy once per dialect and then run on the
connection's asyncpg connection, with SQLAlchemy's own converters applied to the values
that have one (aware datetimes, enums). On any other backend it runs through SQLAlchemy as
usual. Errors are asyncpg's own, not wrapped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import CompoundSelect, Insert, Select, Table, Update, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from classroom.storage.database import Direct, DriverConnection, Reader

Row = Sequence[Any]
T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]
RowsStatement = AnySelect | CompoundSelect[*tuple[Any, ...]] | Update
"""A statement that returns rows: a SELECT (or a UNION of them), or an UPDATE with
RETURNING."""


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    binders: tuple[Callable[[Any], Any] | None, ...]
    converters: tuple[Callable[[Any], Any] | None, ...]


class DirectRead:
    """A statement that returns rows (a SELECT, or an UPDATE with RETURNING), built once,
    run on asyncpg without SQLAlchemy's per-statement work."""

    def __init__(self, statement: RowsStatement) -> None:
        self._statement = statement
        self._plans: dict[int, _Plan] = {}

    async def rows(self, connection: Reader | Direct, params: Mapping[str, Any]) -> list[Row]:
        """The rows of the statement with these parameters (its defaults for the rest)."""
        if not _on_asyncpg(connection):
            assert not isinstance(connection, DriverConnection)
            return list((await connection.execute(self._statement, params)).all())
        assert not isinstance(connection, AsyncSession)
        dialect = connection.dialect
        plan = self._plans.get(id(dialect)) or self._plan(dialect)
        args = [
            value if binder is None else binder(value)
            for binder, value in zip(
                plan.binders,
                (params[name] if name in params else plan.defaults[name] for name in plan.names),
                strict=True,
            )
        ]
        records = await _on_driver(connection, lambda driver: driver.fetch(plan.sql, *args))
        converters = plan.converters
        if not any(converters):
            return list(records)
        return [
            tuple(v if c is None else c(v) for c, v in zip(converters, r, strict=True))
            for r in records
        ]

    def _plan(self, dialect: Dialect) -> _Plan:
        compiled = self._statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binders = tuple(compiled.binds[name].type._cached_bind_processor(dialect) for name in names)
        converters = tuple(
            column.type._cached_result_processor(dialect, None)
            for column in self._statement.exported_columns
        )
        plan = _Plan(str(compiled), names, dict(compiled.params), binders, converters)
        self._plans[id(dialect)] = plan
        return plan


class DirectInsert:
    """An INSERT of many rows of one table, as one prepared statement with pipelined binds
    (SQLAlchemy renders a multi-row INSERT whose text changes with the number of rows).
    ``skip_conflicts`` leaves out rows that would break a unique constraint (``ON CONFLICT
    DO NOTHING``): those already stored and repeats within the rows alike."""

    def __init__(
        self, table: Table, columns: Sequence[str], *, skip_conflicts: bool = False
    ) -> None:
        self._table = table
        self._columns = tuple(columns)
        values: dict[str, Any] = {name: bindparam(name) for name in columns}
        # Inline: without it the statement returns the new primary keys, which nobody reads.
        self._statement: Insert = (
            postgresql.insert(table).inline().values(values).on_conflict_do_nothing()
            if skip_conflicts
            else insert(table).inline().values(values)
        )
        # Other drivers: SQLAlchemy's own insert of many rows.
        self._on_sqlite: Insert = (
            sqlite.insert(table).on_conflict_do_nothing() if skip_conflicts else insert(table)
        )
        self._on_postgresql: Insert = (
            postgresql.insert(table).on_conflict_do_nothing() if skip_conflicts else insert(table)
        )
        self._plans: dict[int, tuple[str, tuple[Callable[[Any], Any] | None, ...]]] = {}

    async def run(self, connection: Direct, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert the rows (each has every column named at construction)."""
        if not rows:
            return
        dialect = connection.dialect
        if not _on_asyncpg(connection):
            assert isinstance(connection, AsyncConnection)
            statement = self._on_sqlite if dialect.name == "sqlite" else self._on_postgresql
            await connection.execute(statement, [dict(row) for row in rows])
            return
        sql, binders = self._plans.get(id(dialect)) or self._plan(dialect)
        args = [
            tuple(
                row[name] if binder is None else binder(row[name])
                for name, binder in zip(self._columns, binders, strict=True)
            )
            for row in rows
        ]
        await _on_driver(connection, lambda driver: driver.executemany(sql, args))

    def _plan(self, dialect: Dialect) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
        compiled = self._statement.compile(dialect=dialect)
        if tuple(compiled.positiontup or ()) != self._columns:
            raise ValueError("the insert's parameters are not its columns in order")
        binders = tuple(
            self._table.c[name].type._cached_bind_processor(dialect) for name in self._columns
        )
        self._plans[id(dialect)] = (str(compiled), binders)
        return self._plans[id(dialect)]


_BROKEN = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    # A backend ended under a statement can leave the protocol in a state it cannot use.
    asyncpg.InternalClientError,
)


def _on_asyncpg(connection: Reader | Direct) -> bool:
    return isinstance(connection, DriverConnection) or (
        isinstance(connection, AsyncConnection) and connection.dialect.driver == "asyncpg"
    )


async def _on_driver(
    connection: Reader | Direct, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """Run ``work`` on the connection's asyncpg connection; a connection that broke under
    it is taken out of the pool."""
    if isinstance(connection, DriverConnection):
        driver: asyncpg.Connection = connection.driver
    else:
        assert isinstance(connection, AsyncConnection)
        driver = (await connection.get_raw_connection()).driver_connection
    try:
        return await work(driver)
    except _BROKEN:
        await connection.invalidate()  # the pool must not hand this connection out again
        raise
