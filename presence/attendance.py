"""Live attendance: who is present, late, left early or never came, from room visits.

Attendance is derived from visits, never counted: re-joins and second devices do not
inflate it, and a reconnect inside the grace period does not split a stay.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io

import msgspec
from sqlalchemy import select

from classroom import audit
from classroom.attendance_marks import Mark, marks_of
from classroom.excuses import excused_on
from classroom.roles import Principal
from classroom.rooms import Room, RoomTimes, require_teacher
from classroom.storage.database import Database
from classroom.storage.models import Enrolment, Person
from presence.visits import STALE_AFTER, Stay, merge_stays, visits_of


class Status(enum.StrEnum):
    NOT_YET = "not_yet"
    PRESENT = "present"
    LATE = "late"
    LEFT_EARLY = "left_early"
    ABSENT = "absent"
    EXCUSED = "excused"


class StayView(msgspec.Struct, frozen=True):
    joined_at: dt.datetime
    left_at: dt.datetime | None


class AttendanceRow(msgspec.Struct, frozen=True):
    student_id: int
    display_name: str
    status: Status
    online: bool
    mark: Mark | None
    first_joined_at: dt.datetime | None
    last_left_at: dt.datetime | None
    minutes_online: float
    share: float
    stays: list[StayView]


class AttendanceReport(msgspec.Struct, frozen=True):
    lesson_id: int
    subject: str
    school_class: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    generated_at: dt.datetime
    reconnect_grace_seconds: float
    rows: list[AttendanceRow]


def status_of(
    stays: list[Stay],
    *,
    excused: bool,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    now: dt.datetime,
    times: RoomTimes,
) -> Status:
    """A student's attendance as the teacher sees it now."""
    if not stays:
        if excused:
            return Status.EXCUSED
        return Status.ABSENT if now >= starts_at + times.absence_after else Status.NOT_YET
    last = stays[-1]
    gone_at = last.left_at
    if gone_at is not None and now - gone_at > times.reconnect_grace and gone_at < ends_at:
        return Status.LEFT_EARLY
    if stays[0].joined_at > starts_at + times.absence_after:
        return Status.LATE
    return Status.PRESENT


def _seconds_within(
    stays: list[Stay], start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> float:
    total = 0.0
    for stay in stays:
        left = stay.left_at or now
        overlap = (min(left, end) - max(stay.joined_at, start)).total_seconds()
        total += max(0.0, overlap)
    return total


async def attendance_report(
    db: Database, principal: Principal, room: Room, *, now: dt.datetime, times: RoomTimes
) -> AttendanceReport:
    """Per student of the class: status, journal mark, stays, minutes online and the share
    of the lesson they were there for. The teacher's and the admin's only."""
    require_teacher(room, principal)
    lesson = room.lesson
    async with db.session() as session:
        roster = (
            await session.execute(
                select(Person.id, Person.display_name)
                .join(Enrolment, Enrolment.student_id == Person.id)
                .where(Enrolment.class_id == lesson.class_id)
                .order_by(Person.display_name, Person.id)
            )
        ).all()
        marks = await marks_of(session, lesson.id)
        audit.record(
            session,
            action="attendance_read",
            actor_id=principal.person_id,
            detail=f"lesson {lesson.id}",
        )
        await session.commit()
    student_ids = [student_id for student_id, _ in roster]
    visits = await visits_of(db, lesson.id, student_ids)
    excused = await excused_on(db, student_ids, lesson.date)
    duration = (lesson.ends_at - lesson.starts_at).total_seconds() or 1.0
    rows = []
    for student_id, name in roster:
        stays = merge_stays(visits.get(student_id, []), grace=times.reconnect_grace, now=now)
        online = any(
            left is None and seen >= now - STALE_AFTER
            for _joined, left, seen in visits.get(student_id, [])
        )
        seconds = _seconds_within(stays, lesson.starts_at, lesson.ends_at, now)
        mark = marks.get(student_id)
        rows.append(
            AttendanceRow(
                student_id=student_id,
                display_name=name,
                status=status_of(
                    stays,
                    excused=student_id in excused or (mark is not None and mark[0] is Mark.EXCUSED),
                    starts_at=lesson.starts_at,
                    ends_at=lesson.ends_at,
                    now=now,
                    times=times,
                ),
                online=online,
                mark=None if mark is None else mark[0],
                first_joined_at=stays[0].joined_at if stays else None,
                last_left_at=stays[-1].left_at if stays else None,
                minutes_online=round(seconds / 60, 1),
                share=round(min(1.0, seconds / duration), 3),
                stays=[StayView(stay.joined_at, stay.left_at) for stay in stays],
            )
        )
    return AttendanceReport(
        lesson_id=lesson.id,
        subject=lesson.subject,
        school_class=lesson.class_name,
        starts_at=lesson.starts_at,
        ends_at=lesson.ends_at,
        generated_at=now,
        reconnect_grace_seconds=times.reconnect_grace.total_seconds(),
        rows=rows,
    )


CSV_COLUMNS = (
    "student_id",
    "name",
    "status",
    "mark",
    "first_joined_at",
    "last_left_at",
    "stays",
    "minutes_online",
    "share_of_lesson",
)


def report_csv(report: AttendanceReport) -> str:
    """The report as CSV: one line per student; stays as ``joined/left`` pairs."""

    def when(moment: dt.datetime | None) -> str:
        return "" if moment is None else moment.isoformat(timespec="seconds")

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow(
            (
                row.student_id,
                row.display_name,
                row.status.value,
                "" if row.mark is None else row.mark.value,
                when(row.first_joined_at),
                when(row.last_left_at),
                " ".join(f"{when(s.joined_at)}/{when(s.left_at)}" for s in row.stays),
                f"{row.minutes_online:.1f}",
                f"{row.share:.3f}",
            )
        )
    return out.getvalue()
