"""Who may see which material and lesson: the school's people see published materials, an
author their drafts, the admin (the moderator) everything; a lesson's audience sees what is
attached to it.

Panels: a classroom panel may read the materials attached to the lesson it is bound to
(``panel_binding``, made when a teacher pairs the panel, see ``classroom.panels``) and
nothing else: no search, no published material that is not attached to that lesson.
"""

from __future__ import annotations

from sqlalchemy import select

from classroom.diary.readers import readable_students
from classroom.errors import Forbidden
from classroom.library.tables import LibraryAttachment, LibraryMaterial
from classroom.roles import Principal, Role
from classroom.school_lessons import lesson_of_school
from classroom.storage.database import Database
from classroom.storage.models import Enrolment, PanelBinding

PUBLISHED = "published"
DRAFT = "draft"


async def panel_lesson_ids(db: Database, principal: Principal) -> set[int]:
    """The lesson a panel is bound to now (none once it is unbound or paired elsewhere)."""
    if principal.role is not Role.PANEL:
        return set()
    async with db.session() as session:
        bound = await session.scalars(
            select(PanelBinding.lesson_id).where(PanelBinding.panel_id == principal.person_id)
        )
        return set(bound.all())


async def may_see_lesson(db: Database, principal: Principal, lesson_id: int) -> bool:
    """Whether the caller is in the lesson's audience (teacher, class, their readers)."""
    async with db.session() as session:
        lesson = await lesson_of_school(session, principal, lesson_id)
        if principal.role is Role.ADMIN:
            return True
        if principal.role is Role.TEACHER:
            return lesson.teacher_id == principal.person_id
        if principal.role is Role.PANEL:
            return lesson_id in await panel_lesson_ids(db, principal)
        students = [child.id for child in await readable_students(db, principal)]
        if not students:
            return False
        enrolled = await session.scalar(
            select(Enrolment.student_id)
            .where(Enrolment.class_id == lesson.class_id, Enrolment.student_id.in_(students))
            .limit(1)
        )
        return enrolled is not None


async def may_read(db: Database, principal: Principal, material: LibraryMaterial) -> bool:
    if material.school_id != principal.school_id:
        return False
    if principal.role is Role.ADMIN or material.owner_id == principal.person_id:
        return True
    if material.state == PUBLISHED and principal.role is not Role.PANEL:
        return True
    async with db.session() as session:
        lessons = (
            await session.scalars(
                select(LibraryAttachment.lesson_id).where(
                    LibraryAttachment.material_id == material.id
                )
            )
        ).all()
    for lesson_id in lessons:
        if await may_see_lesson(db, principal, lesson_id):
            return True
    return False


def check_searcher(principal: Principal) -> None:
    if principal.role is Role.PANEL:
        raise Forbidden(
            "a panel opens only the materials of its lesson", code="panel_library_closed"
        )
