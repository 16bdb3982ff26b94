"""library search: an FTS5 index (SQLite) or a tsvector GIN index (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00.000000

On SQLite the index is an external-content FTS5 table over ``library_material.search_text``,
kept in step by triggers; where SQLite was built without FTS5 nothing is made and the library
searches with ``LIKE`` (``classroom/library/search.py``). On PostgreSQL it is a GIN index on
``to_tsvector('simple', search_text)``.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FTS = "library_material_fts"
PG_INDEX = "ix_library_material_search"


def sqlite_has_fts5(bind: Connection) -> bool:
    options = {row[0] for row in bind.execute(text("PRAGMA compile_options"))}
    return "ENABLE_FTS5" in options


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX {PG_INDEX} ON library_material "
            "USING gin (to_tsvector('simple'::regconfig, search_text))"
        )
        return
    if bind.dialect.name != "sqlite" or not sqlite_has_fts5(bind):
        return
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, content='library_material', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON library_material BEGIN "
        f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON library_material BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF search_text ON library_material BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); "
        f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END"
    )
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        return
    if bind.dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")
