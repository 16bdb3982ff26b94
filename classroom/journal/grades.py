"""Grades 1–5 with a weight and a comment. A grade is corrected by a new version that names
the version it corrects; nothing is overwritten silently and every version is kept."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from sqlalchemy import select

from classroom.errors import Conflict, NotFound
from classroom.events import EventDispatcher, GradeChanged
from classroom.journal import access, history
from classroom.journal.tables import JournalGrade, JournalGradeVersion
from classroom.roles import Principal
from classroom.storage.database import Database

GradeValue = Annotated[int, msgspec.Meta(ge=1, le=5)]
Weight = Annotated[int, msgspec.Meta(ge=1, le=10)]
Comment = Annotated[str, msgspec.Meta(max_length=500)]
Reason = Annotated[str, msgspec.Meta(max_length=300)]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class NewGrade(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    student_id: Id
    value: GradeValue
    weight: Weight = 1
    comment: Comment = ""


class GradeCorrection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new version of a grade; ``expected_version`` is the version being corrected."""

    expected_version: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    value: GradeValue
    weight: Weight = 1
    comment: Comment = ""
    cancelled: bool = False
    reason: Reason = ""


class GradeView(msgspec.Struct, frozen=True):
    id: int
    lesson_id: int
    student_id: int
    value: int
    weight: int
    comment: str
    version: int
    cancelled: bool
    updated_at: dt.datetime


class GradeVersionView(msgspec.Struct, frozen=True):
    version: int
    value: int
    weight: int
    comment: str
    cancelled: bool
    reason: str
    author_id: int | None
    at: dt.datetime


class GradeVersions(msgspec.Struct, frozen=True):
    grade: GradeView
    versions: list[GradeVersionView]


def view(row: JournalGrade) -> GradeView:
    return GradeView(
        id=row.id,
        lesson_id=row.lesson_id,
        student_id=row.student_id,
        value=row.value,
        weight=row.weight,
        comment=row.comment,
        version=row.version,
        cancelled=row.cancelled,
        updated_at=row.updated_at,
    )


async def add_grade(
    db: Database,
    events: EventDispatcher,
    principal: Principal,
    lesson_id: int,
    body: NewGrade,
    *,
    now: dt.datetime,
) -> GradeView:
    async with db.session() as session:
        lesson = await access.lesson_to_write(session, principal, lesson_id)
        await access.student_of_lesson(session, lesson, body.student_id)
        row = JournalGrade(
            lesson_id=lesson.id,
            student_id=body.student_id,
            value=body.value,
            weight=body.weight,
            comment=body.comment.strip(),
            cancelled=False,
            version=1,
            updated_at=now,
            updated_by=principal.person_id,
        )
        session.add(row)
        await session.flush()
        _keep_version(session, row, principal.person_id, "", now)
        history.record(
            session,
            at=now,
            actor_id=principal.person_id,
            lesson_id=lesson.id,
            student_id=body.student_id,
            what="grade_added",
            grade_id=row.id,
            value=body.value,
            weight=body.weight,
        )
        made = view(row)
        event = _event(made, principal)
        events.stage(session, event)
        await session.commit()
    await events.committed(event)
    return made


async def correct_grade(
    db: Database,
    events: EventDispatcher,
    principal: Principal,
    grade_id: int,
    body: GradeCorrection,
    *,
    now: dt.datetime,
) -> GradeView:
    async with db.session() as session:
        row = await session.get(JournalGrade, grade_id)
        if row is None:
            raise NotFound("there is no such grade", code="grade_not_found")
        await access.lesson_to_write(session, principal, row.lesson_id)
        if row.version != body.expected_version:
            raise Conflict(
                f"the grade is at version {row.version}, not {body.expected_version}: "
                "reload it and correct the newest version",
                code="grade_changed",
            )
        row.value, row.weight, row.comment = body.value, body.weight, body.comment.strip()
        row.cancelled, row.version = body.cancelled, row.version + 1
        row.updated_at, row.updated_by = now, principal.person_id
        _keep_version(session, row, principal.person_id, body.reason.strip(), now)
        history.record(
            session,
            at=now,
            actor_id=principal.person_id,
            lesson_id=row.lesson_id,
            student_id=row.student_id,
            what="grade_cancelled" if body.cancelled else "grade_corrected",
            grade_id=row.id,
            version=row.version,
            value=body.value,
            weight=body.weight,
        )
        made = view(row)
        event = _event(made, principal)
        events.stage(session, event)
        await session.commit()
    await events.committed(event)
    return made


async def versions_of(db: Database, principal: Principal, grade_id: int) -> GradeVersions:
    async with db.session() as session:
        row = await session.get(JournalGrade, grade_id)
        if row is None:
            raise NotFound("there is no such grade", code="grade_not_found")
        await access.lesson_to_write(session, principal, row.lesson_id)
        versions = (
            await session.scalars(
                select(JournalGradeVersion)
                .where(JournalGradeVersion.grade_id == grade_id)
                .order_by(JournalGradeVersion.version)
            )
        ).all()
        return GradeVersions(
            view(row),
            [
                GradeVersionView(
                    v.version,
                    v.value,
                    v.weight,
                    v.comment,
                    v.cancelled,
                    v.reason,
                    v.author_id,
                    v.at,
                )
                for v in versions
            ],
        )


def _keep_version(
    session: object, row: JournalGrade, author_id: int, reason: str, now: dt.datetime
) -> None:
    session.add(  # type: ignore[attr-defined]
        JournalGradeVersion(
            grade_id=row.id,
            version=row.version,
            value=row.value,
            weight=row.weight,
            comment=row.comment,
            cancelled=row.cancelled,
            reason=reason,
            author_id=author_id,
            at=now,
        )
    )


def _event(grade: GradeView, principal: Principal) -> GradeChanged:
    return GradeChanged(
        grade_id=grade.id,
        lesson_id=grade.lesson_id,
        student_id=grade.student_id,
        version=grade.version,
        value=None if grade.cancelled else grade.value,
        actor_id=principal.person_id,
    )
