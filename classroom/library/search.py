"""Full-text search of the library, one function over both databases.

The material's title, subject, topic and text are kept case-folded with ё as е in
``search_text``. A query matches when every word of it starts a word of that text:

- SQLite: the FTS5 table ``library_material_fts`` (migration 0005, kept in step by
  triggers), ranked by bm25; where SQLite was built without FTS5 the migration makes no
  table and the search falls back to a ``LIKE`` scan (every word anywhere, newest first);
- PostgreSQL: ``to_tsvector('simple', search_text)`` with its GIN index, ranked by
  ``ts_rank``.

Ties (and the ``LIKE`` fallback) are newest first.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_WORDS = 8
FTS_TABLE = "library_material_fts"
_NOT_A_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split())


def search_text(*parts: str) -> str:
    return normalise(" ".join(parts))


def words(query: str) -> list[str]:
    """The query's words as the indexes cut them (letters and digits), at most eight."""
    return _NOT_A_WORD.sub(" ", normalise(query)).split()[:MAX_WORDS]


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(column_: Any, query: str) -> list[ColumnElement[bool]]:
    """The ``LIKE`` fallback: every word anywhere in the text."""
    return [column_.like(f"%{_escape(word)}%", escape="\\") for word in words(query)]


async def has_fts5(session: AsyncSession) -> bool:
    found = await session.scalar(
        text("SELECT name FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": FTS_TABLE},
    )
    return found is not None


async def ranked(
    session: AsyncSession, statement: Select[Any], material: Any, query: str
) -> Select[Any]:
    """``statement`` (over ``material``) narrowed to the query's matches, best first."""
    found = words(query)
    if not found:
        return statement.order_by(material.id.desc())
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        config: ColumnElement[Any] = literal_column("'simple'::regconfig")
        vector = func.to_tsvector(config, material.search_text)
        terms = func.to_tsquery(config, " & ".join(f"'{word}':*" for word in found))
        return statement.where(vector.op("@@")(terms)).order_by(
            func.ts_rank(vector, terms).desc(), material.id.desc()
        )
    if dialect == "sqlite" and await has_fts5(session):
        fts = table(FTS_TABLE, column("rowid"), column("rank"))
        hits = (
            select(fts.c.rowid.label("id"), fts.c.rank.label("rank"))
            .where(literal_column(FTS_TABLE).op("MATCH")(" ".join(f'"{w}"*' for w in found)))
            .subquery()
        )
        return statement.join(hits, hits.c.id == material.id).order_by(
            hits.c.rank, material.id.desc()
        )
    return statement.where(*matches(material.search_text, query)).order_by(material.id.desc())
