"""Whose diary a person may read: a student their own, a parent their children, a trusted
person the children a parent granted them (read-only, until the parent revokes it)."""

from __future__ import annotations

from sqlalchemy import select

from classroom.diary.tables import DiaryTrustedAccess
from classroom.people import ChildRef, children_of, class_of
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.models import Guardianship, Person


async def readable_students(db: Database, principal: Principal) -> list[ChildRef]:
    """The students whose diary the caller may read, in a stable order."""
    if principal.role is Role.STUDENT:
        async with db.session() as session:
            name = await session.scalar(
                select(Person.display_name).where(Person.id == principal.person_id)
            )
        return [ChildRef(principal.person_id, name or "", await class_of(db, principal.person_id))]
    if principal.role is not Role.PARENT:
        return []
    own = await children_of(db, principal.person_id)
    granted = await trusted_children(db, principal.person_id)
    known = {child.id for child in own}
    return own + [child for child in granted if child.id not in known]


async def trusted_children(db: Database, trusted_id: int) -> list[ChildRef]:
    async with db.session() as session:
        ids = (
            await session.scalars(
                select(DiaryTrustedAccess.child_id)
                .where(
                    DiaryTrustedAccess.trusted_id == trusted_id,
                    DiaryTrustedAccess.revoked_at.is_(None),
                )
                .order_by(DiaryTrustedAccess.child_id)
                .distinct()
            )
        ).all()
        names = (
            dict(
                (
                    await session.execute(
                        select(Person.id, Person.display_name).where(Person.id.in_(ids))
                    )
                ).all()
            )
            if ids
            else {}
        )
    return [ChildRef(child, names.get(child, ""), await class_of(db, child)) for child in ids]


async def readers_of(db: Database, student_ids: list[int]) -> dict[int, set[int]]:
    """Who reads each student's diary: person id → the students of theirs among these."""
    readers: dict[int, set[int]] = {}
    if not student_ids:
        return readers
    for student in student_ids:
        readers.setdefault(student, set()).add(student)
    async with db.session() as session:
        parents = await session.execute(
            select(Guardianship.parent_id, Guardianship.child_id).where(
                Guardianship.child_id.in_(student_ids)
            )
        )
        trusted = await session.execute(
            select(DiaryTrustedAccess.trusted_id, DiaryTrustedAccess.child_id).where(
                DiaryTrustedAccess.child_id.in_(student_ids),
                DiaryTrustedAccess.revoked_at.is_(None),
            )
        )
        for person, child in [*parents.all(), *trusted.all()]:
            readers.setdefault(person, set()).add(child)
    return readers
