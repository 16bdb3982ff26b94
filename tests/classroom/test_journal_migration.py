"""Migrations 0004–0006: the services' tables (and the event outbox) as the models declare
them, the library's search index, and a way back."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

import classroom.diary.tables
import classroom.journal.tables
import classroom.library.tables  # noqa: F401  (the services' tables join the metadata)
from classroom.library.search import FTS_TABLE
from classroom.storage.database import Database, _alembic_config
from classroom.storage.models import Base

SERVICE_TABLES = {
    "journal_lesson",
    "journal_grade",
    "journal_grade_version",
    "journal_homework",
    "journal_change",
    "diary_trusted_access",
    "diary_calendar_feed",
    "library_material",
    "library_file",
    "library_attachment",
}
LATER_TABLES = {"event_outbox"}


def _search_index(connection: Connection) -> bool:
    if connection.dialect.name == "sqlite":
        return FTS_TABLE in set(inspect(connection).get_table_names())
    indexes = inspect(connection).get_indexes("library_material")
    return "ix_library_material_search" in {index["name"] for index in indexes}


def _declared(name: str | None, kind: str, _parents: object) -> bool:
    """What the models declare: not the search index of migration 0005 (an FTS5 table with
    its shadow tables, or a GIN expression index), which is the database's own."""
    if kind == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    return not (kind == "index" and name == "ix_library_material_search")


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": False, "include_name": _declared}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_migration_matches_the_models_and_goes_back(db: Database) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
        assert await connection.run_sync(_tables) >= SERVICE_TABLES | LATER_TABLES
        assert await connection.run_sync(_search_index)
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda c: command.downgrade(_alembic_config(c), "0004"))
    async with db.engine.connect() as connection:
        assert not LATER_TABLES & await connection.run_sync(_tables)
        assert not await connection.run_sync(_search_index)
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda c: command.downgrade(_alembic_config(c), "0003"))
    async with db.engine.connect() as connection:
        assert not SERVICE_TABLES & await connection.run_sync(_tables)
    await db.migrate()
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_tables) >= SERVICE_TABLES | LATER_TABLES
        assert await connection.run_sync(_search_index)
