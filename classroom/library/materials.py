"""Library materials: made as drafts, published by the school's moderator (the admin),
found by search. A material is a file (type and size limited), a link or a text."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from sqlalchemy import or_, select

from classroom.errors import Forbidden, InvalidInput, NotFound
from classroom.library import access
from classroom.library.search import ranked, search_text
from classroom.library.tables import LibraryFile, LibraryMaterial
from classroom.roles import Principal, Role
from classroom.storage.database import Database

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_PAGE = 100
# Allowed upload types and how their first bytes begin (None: any text).
FILE_TYPES: dict[str, bytes | None] = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "text/plain": None,
    "video/mp4": None,
}

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NewMaterial(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: Literal["file", "link", "text"]
    title: Title
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    grade_level: Annotated[int, msgspec.Meta(ge=1, le=11)]
    topic: Annotated[str, msgspec.Meta(max_length=200)] = ""
    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    text: Annotated[str, msgspec.Meta(max_length=20_000)] | None = None


class MaterialView(msgspec.Struct, frozen=True):
    id: int
    kind: str
    title: str
    subject: str
    grade_level: int
    topic: str
    state: str
    owner_id: int | None
    url: str | None = None
    text: str | None = None
    file_name: str | None = None
    content_type: str | None = None
    size: int | None = None


class MaterialPage(msgspec.Struct, frozen=True):
    materials: list[MaterialView]
    next_offset: int | None = None


def view(row: LibraryMaterial) -> MaterialView:
    return MaterialView(
        id=row.id,
        kind=row.kind,
        title=row.title,
        subject=row.subject,
        grade_level=row.grade_level,
        topic=row.topic,
        state=row.state,
        owner_id=row.owner_id,
        url=row.url,
        text=row.text,
        file_name=row.file_name,
        content_type=row.content_type,
        size=row.size,
    )


def _checked(body: NewMaterial) -> NewMaterial:
    if not body.title.strip() or not body.subject.strip():
        raise InvalidInput("give a title and a subject", code="bad_material")
    if body.kind == "link":
        if not body.url or not body.url.startswith(("https://", "http://")):
            raise InvalidInput("a link needs an http(s) address", code="bad_url")
    elif body.url is not None:
        raise InvalidInput("only a link has an address", code="bad_url")
    if body.kind == "text" and not (body.text or "").strip():
        raise InvalidInput("a text material needs its text", code="bad_text")
    if body.kind != "text" and body.text is not None:
        raise InvalidInput("only a text material has a text", code="bad_text")
    return body


async def create(
    db: Database, principal: Principal, body: NewMaterial, *, now: dt.datetime
) -> MaterialView:
    if principal.role not in (Role.TEACHER, Role.ADMIN):
        raise Forbidden("teachers add materials to the library", code="not_a_teacher")
    body = _checked(body)
    row = LibraryMaterial(
        school_id=principal.school_id,
        owner_id=principal.person_id,
        kind=body.kind,
        title=body.title.strip(),
        subject=body.subject.strip(),
        grade_level=body.grade_level,
        topic=body.topic.strip(),
        url=body.url,
        text=body.text,
        state=access.DRAFT,
        search_text=search_text(body.title, body.subject, body.topic, body.text or ""),
        created_at=now,
        updated_at=now,
    )
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return view(row)


async def readable(db: Database, principal: Principal, material_id: int) -> LibraryMaterial:
    """The material if the caller may read it; ``NotFound`` otherwise (no leak of drafts)."""
    async with db.session() as session:
        row = await session.get(LibraryMaterial, material_id)
    if row is None or not await access.may_read(db, principal, row):
        raise NotFound("there is no such material", code="material_not_found")
    return row


async def upload(
    db: Database,
    principal: Principal,
    material_id: int,
    *,
    data: bytes,
    content_type: str,
    file_name: str,
    now: dt.datetime,
) -> MaterialView:
    """Store the file of a file material (its author, while it is a draft)."""
    if content_type not in FILE_TYPES:
        raise InvalidInput(
            f"files of these types only: {', '.join(sorted(FILE_TYPES))}", code="bad_file_type"
        )
    if not data:
        raise InvalidInput("the file is empty", code="empty_file")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"a file is at most {MAX_FILE_BYTES} bytes", code="file_too_large")
    signature = FILE_TYPES[content_type]
    if signature is not None and not data.startswith(signature):
        raise InvalidInput("the file is not of the type it claims", code="bad_file_type")
    if content_type == "text/plain":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("a text file must be UTF-8", code="bad_file_type") from None
    name = "".join(ch for ch in file_name if ch.isprintable() and ch not in '/\\"')[:200]
    async with db.session() as session:
        row = await session.get(LibraryMaterial, material_id)
        if row is None or row.owner_id != principal.person_id:
            raise NotFound("there is no such material of yours", code="material_not_found")
        if row.kind != "file":
            raise InvalidInput("this material is not a file", code="not_a_file")
        if row.state != access.DRAFT:
            raise Forbidden("a published material is not changed", code="material_published")
        stored = await session.get(LibraryFile, material_id)
        if stored is None:
            session.add(LibraryFile(material_id=material_id, data=data))
        else:
            stored.data = data
        row.file_name, row.content_type, row.size = name or "file", content_type, len(data)
        row.updated_at = now
        await session.commit()
        return view(row)


async def content(
    db: Database, principal: Principal, material_id: int
) -> tuple[LibraryMaterial, bytes]:
    row = await readable(db, principal, material_id)
    async with db.session() as session:
        stored = await session.get(LibraryFile, material_id)
    if stored is None:
        raise NotFound("this material has no file", code="no_file")
    return row, stored.data


async def publish(
    db: Database, principal: Principal, material_id: int, *, now: dt.datetime
) -> MaterialView:
    """The moderator (the school's admin) publishes a draft."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("the school's moderator publishes materials", code="not_the_moderator")
    async with db.session() as session:
        row = await session.get(LibraryMaterial, material_id)
        if row is None or row.school_id != principal.school_id:
            raise NotFound("there is no such material", code="material_not_found")
        if row.kind == "file" and row.size is None:
            raise InvalidInput("upload the file before publishing", code="no_file")
        row.state, row.updated_at = access.PUBLISHED, now
        await session.commit()
        return view(row)


async def search(
    db: Database,
    principal: Principal,
    *,
    query: str | None,
    subject: str | None,
    grade_level: int | None,
    state: str | None,
    mine: bool,
    limit: int,
    offset: int,
) -> MaterialPage:
    """Materials the caller may see matching every word of the query, newest first."""
    access.check_searcher(principal)
    if state not in (None, access.DRAFT, access.PUBLISHED):
        raise InvalidInput("state is 'draft' or 'published'", code="bad_state")
    limit = max(1, min(limit, MAX_PAGE))
    statement = select(LibraryMaterial).where(LibraryMaterial.school_id == principal.school_id)
    if principal.role is not Role.ADMIN:
        statement = statement.where(
            or_(
                LibraryMaterial.state == access.PUBLISHED,
                LibraryMaterial.owner_id == principal.person_id,
            )
        )
    if mine:
        statement = statement.where(LibraryMaterial.owner_id == principal.person_id)
    if state is not None:
        statement = statement.where(LibraryMaterial.state == state)
    if subject:
        statement = statement.where(LibraryMaterial.subject == subject)
    if grade_level is not None:
        statement = statement.where(LibraryMaterial.grade_level == grade_level)
    async with db.session() as session:
        statement = await ranked(session, statement, LibraryMaterial, query or "")
        rows = (await session.scalars(statement.offset(offset).limit(limit + 1))).all()
    return MaterialPage(
        [view(row) for row in rows[:limit]], offset + limit if len(rows) > limit else None
    )
