"""The linked services wired together: who reacts to which domain event.

- attendance finalised (presence) → the journal's history, and the diaries live;
- a grade, homework, topic or mark (journal) → the diaries of the students concerned update
  live on their readers' user channels; a new grade or homework also queues a notice to the
  parents (live and through the webhook, like absence notices);
- a recording finished (recordings) → the students marked absent or late at the lesson and
  their parents hear ``diary.changed`` (``what: "recording"``): the diary offers it.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from classroom import rooms
from classroom.diary.audience import students_of_lesson
from classroom.diary.readers import readers_of
from classroom.events import (
    AttendanceChanged,
    AttendanceFinalised,
    GradeChanged,
    HomeworkChanged,
    LessonNoteChanged,
    RecordingFinished,
)
from classroom.journal import reactions
from classroom.recording_links import missed_audience
from classroom.storage.models import LessonOccurrence, SchoolClass
from presence import notices
from web.services import Services

DIARY_EVENT = "diary.changed"


class DiaryChanged(msgspec.Struct, frozen=True):
    """Something in these students' diaries changed: reload what concerns ``lesson_id``."""

    student_ids: list[int]
    lesson_id: int
    what: str


def wire_linked_services(services: Services) -> None:
    db, events = services.db, services.events

    async def tell_diaries(student_ids: list[int], lesson_id: int, what: str) -> None:
        for person, students in (await readers_of(db, student_ids)).items():
            await services.realtime.publish(
                rooms.user_channel(person),
                DIARY_EVENT,
                DiaryChanged(sorted(students), lesson_id, what),
            )

    async def tell_parents(kind: str, student_ids: list[int], lesson_id: int) -> None:
        async with db.session() as session:
            school_id = await session.scalar(
                select(SchoolClass.school_id)
                .join(LessonOccurrence, LessonOccurrence.class_id == SchoolClass.id)
                .where(LessonOccurrence.id == lesson_id)
            )
        if school_id is None:
            return
        lesson = (await rooms.load_room(db, lesson_id, school_id)).lesson
        async with db.session() as session:
            made = await notices.queue_many(
                session, kind=kind, student_ids=student_ids, lesson=lesson, now=services.clock()
            )
            await session.commit()
        if made:
            services.wake_background()

    async def on_grade(event: GradeChanged) -> None:
        await tell_diaries([event.student_id], event.lesson_id, "grade")
        if event.value is not None:
            await tell_parents("grade", [event.student_id], event.lesson_id)

    async def on_homework(event: HomeworkChanged) -> None:
        students = await students_of_lesson(db, event.lesson_id)
        await tell_diaries(students, event.lesson_id, "homework")
        await tell_parents("homework", students, event.lesson_id)

    async def on_note(event: LessonNoteChanged) -> None:
        await tell_diaries(await students_of_lesson(db, event.lesson_id), event.lesson_id, "note")

    async def on_mark(event: AttendanceChanged) -> None:
        await tell_diaries([event.student_id], event.lesson_id, "attendance")

    async def on_finalised(event: AttendanceFinalised) -> None:
        await reactions.attendance_finalised(db, event)
        await tell_diaries(
            await students_of_lesson(db, event.lesson_id), event.lesson_id, "attendance"
        )

    async def on_recording(event: RecordingFinished) -> None:
        for person, students in (await missed_audience(db, event.lesson_id)).items():
            await services.realtime.publish(
                rooms.user_channel(person),
                DIARY_EVENT,
                DiaryChanged(sorted(students), event.lesson_id, "recording"),
            )

    events.subscribe(GradeChanged, on_grade)
    events.subscribe(HomeworkChanged, on_homework)
    events.subscribe(LessonNoteChanged, on_note)
    events.subscribe(AttendanceChanged, on_mark)
    events.subscribe(AttendanceFinalised, on_finalised)
    events.subscribe(RecordingFinished, on_recording)
