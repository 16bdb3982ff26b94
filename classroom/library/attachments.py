"""Materials attached to a lesson (for the lesson itself, or for its homework)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec
from sqlalchemy import delete, select

from classroom.errors import Forbidden, NotFound
from classroom.library import access
from classroom.library.materials import readable
from classroom.library.tables import LibraryAttachment, LibraryMaterial
from classroom.roles import Principal, Role
from classroom.school_lessons import lesson_of_school
from classroom.storage.database import Database

Purpose = Literal["lesson", "homework"]


class AttachedMaterial(msgspec.Struct, frozen=True):
    id: int
    title: str
    kind: str
    purpose: str
    url: str | None = None
    content_type: str | None = None


class LessonMaterials(msgspec.Struct, frozen=True):
    lesson_id: int
    materials: list[AttachedMaterial]


async def _check_teacher(db: Database, principal: Principal, lesson_id: int) -> None:
    if principal.role not in (Role.TEACHER, Role.ADMIN):
        raise Forbidden("the lesson's teacher attaches materials", code="not_the_teacher")
    async with db.session() as session:
        lesson = await lesson_of_school(session, principal, lesson_id)
    if principal.role is Role.TEACHER and lesson.teacher_id != principal.person_id:
        raise Forbidden("another teacher gives this lesson", code="not_the_teacher")


async def check_attachable(db: Database, principal: Principal, material_ids: list[int]) -> None:
    """Refuse materials the caller may not attach (it must be able to read them)."""
    for material_id in material_ids:
        await readable(db, principal, material_id)


async def set_attached(
    db: Database,
    principal: Principal,
    lesson_id: int,
    purpose: Purpose,
    material_ids: list[int],
    *,
    now: dt.datetime,
) -> LessonMaterials:
    """Make these the lesson's materials of this purpose (in this order of ids)."""
    await _check_teacher(db, principal, lesson_id)
    wanted = list(dict.fromkeys(material_ids))
    await check_attachable(db, principal, wanted)
    async with db.session() as session:
        await session.execute(
            delete(LibraryAttachment).where(
                LibraryAttachment.lesson_id == lesson_id, LibraryAttachment.purpose == purpose
            )
        )
        for material_id in wanted:
            session.add(
                LibraryAttachment(
                    material_id=material_id,
                    lesson_id=lesson_id,
                    purpose=purpose,
                    attached_by=principal.person_id,
                    at=now,
                )
            )
        await session.commit()
    return LessonMaterials(lesson_id, (await attached_to(db, [lesson_id])).get(lesson_id, []))


async def attached_to(db: Database, lesson_ids: list[int]) -> dict[int, list[AttachedMaterial]]:
    """The materials attached to each of these lessons (for other services' read views)."""
    if not lesson_ids:
        return {}
    async with db.session() as session:
        rows = await session.execute(
            select(LibraryAttachment.lesson_id, LibraryAttachment.purpose, LibraryMaterial)
            .join(LibraryMaterial, LibraryMaterial.id == LibraryAttachment.material_id)
            .where(LibraryAttachment.lesson_id.in_(lesson_ids))
            .order_by(LibraryAttachment.lesson_id, LibraryAttachment.at, LibraryMaterial.id)
        )
        found: dict[int, list[AttachedMaterial]] = {}
        for lesson_id, purpose, material in rows.all():
            found.setdefault(lesson_id, []).append(
                AttachedMaterial(
                    material.id,
                    material.title,
                    material.kind,
                    purpose,
                    material.url,
                    material.content_type,
                )
            )
    return found


async def lesson_materials(db: Database, principal: Principal, lesson_id: int) -> LessonMaterials:
    """What is attached to a lesson, for its audience (and a panel bound to it)."""
    if not await access.may_see_lesson(db, principal, lesson_id):
        raise NotFound("there is no such lesson among yours", code="lesson_not_found")
    return LessonMaterials(lesson_id, (await attached_to(db, [lesson_id])).get(lesson_id, []))
