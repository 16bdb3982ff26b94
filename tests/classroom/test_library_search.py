"""Full-text search of the library on both databases: prefixes of words, ё as е, ranking,
and an index that follows changes and deletions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, update

from classroom.library import materials
from classroom.library.materials import MaterialPage, NewMaterial
from classroom.library.search import has_fts5, search_text
from classroom.library.tables import LibraryMaterial
from classroom.roles import Principal
from classroom.storage.database import Database
from tests.conftest import demo_principal

NOW = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)


async def find(db: Database, who: Principal, query: str) -> list[int]:
    page: MaterialPage = await materials.search(
        db,
        who,
        query=query,
        subject=None,
        grade_level=None,
        state=None,
        mine=False,
        limit=20,
        offset=0,
    )
    return [m.id for m in page.materials]


async def test_search_finds_prefixes_ranks_and_follows_changes(db: Database) -> None:
    teacher = await demo_principal(db, "teacher")

    async def add(title: str, text: str) -> int:
        made = await materials.create(
            db, teacher, NewMaterial("text", title, "Математика", 5, "", text=text), now=NOW
        )
        return made.id

    once = await add("Памятка", "Сложение дробей и ещё немного о числах")
    often = await add("Дроби", "Дроби, дроби и снова дроби: числитель и знаменатель")
    other = await add("Ёлочные игрушки", "Геометрия на праздник")

    async with db.session() as session:
        backend = db.engine.dialect.name
        if backend == "sqlite":
            assert await has_fts5(session), "this SQLite has FTS5: the index must be there"

    # A word's beginning finds it; the material where it weighs more comes first.
    assert await find(db, teacher, "дроб") == [often, once]
    # Every word must occur; ё and е alike; case does not matter.
    assert await find(db, teacher, "ДРОБИ знаменатель") == [often]
    assert await find(db, teacher, "елочные") == [other]
    assert await find(db, teacher, "ещё") == [once]
    # The middle of a word is not a word's beginning.
    assert await find(db, teacher, "робь") == []
    # Punctuation and query syntax are just separators.
    assert await find(db, teacher, '"дроб*" (-') == [often, once]
    assert await find(db, teacher, "   ") == [other, often, once]

    # The index follows a changed text and a deleted material.
    async with db.session() as session:
        await session.execute(
            update(LibraryMaterial)
            .where(LibraryMaterial.id == other)
            .values(search_text=search_text("Дроби на ёлке"))
        )
        await session.execute(delete(LibraryMaterial).where(LibraryMaterial.id == once))
        await session.commit()
    assert set(await find(db, teacher, "дроби")) == {often, other}
    assert await find(db, teacher, "геометрия") == []
    assert await find(db, teacher, "ёлке") == [other]
