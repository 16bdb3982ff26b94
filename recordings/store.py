"""Lesson recordings kept: their rows, who may watch them, their timeline, and retention.

Pure domain: the HTTP and Socket.IO layers call these with a principal. Files live under the
data folder (``recordings/lesson-<id>/<start>.webm``); rows keep paths relative to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from pathlib import Path

import av
import msgspec
from sqlalchemy import delete, select

from classroom import audit
from classroom.boards.document import Effect
from classroom.errors import Conflict, Forbidden, NotFound
from classroom.events import EventDispatcher, RecordingFinished
from classroom.roles import Principal, Role
from classroom.rooms import Room, is_enrolled, is_teacher, load_room
from classroom.storage.database import Database
from classroom.storage.models import (
    ChatMessage,
    Enrolment,
    Guardianship,
    LessonOccurrence,
    Person,
    Recording,
)
from recordings.board_timeline import BoardStart, board_during
from recordings.webm import media_seconds

log = logging.getLogger(__name__)

FOLDER = "recordings"


class RecordingView(msgspec.Struct, frozen=True):
    id: int
    lesson_id: int
    person_id: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    """Empty while recording (or when the recorder stopped without finishing the file)."""
    size: int
    duration: float
    url: str
    """The WebM file (HTTP Range requests are answered)."""


class RecordingList(msgspec.Struct, frozen=True):
    lesson_id: int
    recordings: list[RecordingView]


class TimelineItem(msgspec.Struct, frozen=True):
    at: float
    """Seconds from the start of the recording."""
    kind: str
    """``chat`` (a room message) or ``board`` (a board operation)."""
    offset: int | None
    """The room channel offset the event had live."""
    author: str = ""
    text: str = ""
    operation: str = ""
    effect: Effect | None = None
    """A board operation's effect, as the lesson's board applied it (``board.op``)."""


class Timeline(msgspec.Struct, frozen=True):
    recording: RecordingView
    lesson_subject: str
    items: list[TimelineItem]
    board: BoardStart | None = None
    """The board when recording began (empty when the lesson had no board)."""


def file_name(lesson_id: int, started_at: dt.datetime) -> str:
    stamp = started_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{FOLDER}/lesson-{lesson_id}/{stamp}.webm"


def _view(row: Recording) -> RecordingView:
    return RecordingView(
        id=row.id,
        lesson_id=row.lesson_id,
        person_id=row.person_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        size=row.size,
        duration=row.duration,
        url=f"/api/recordings/{row.id}/file",
    )


async def begin(
    db: Database,
    principal: Principal,
    room: Room,
    *,
    now: dt.datetime,
    start_offset: int | None = None,
) -> tuple[RecordingView, str]:
    """A new recording of the lesson by its teacher (one at a time); its view and file path."""
    if not is_teacher(room, principal):
        raise Forbidden("only the lesson's teacher records it", code="not_teacher")
    async with db.session() as session:
        running = await session.scalar(
            select(Recording.id).where(
                Recording.lesson_id == room.lesson.id, Recording.ended_at.is_(None)
            )
        )
        if running is not None:
            raise Conflict("the lesson is being recorded already", code="already_recording")
        row = Recording(
            lesson_id=room.lesson.id,
            person_id=room.lesson.teacher_id,
            path=file_name(room.lesson.id, now),
            started_at=now,
            size=0,
            duration=0.0,
            start_offset=start_offset,
        )
        session.add(row)
        await session.commit()
        return _view(row), row.path


async def running(db: Database, lesson_id: int) -> RecordingView | None:
    async with db.session() as session:
        row = await session.scalar(
            select(Recording).where(Recording.lesson_id == lesson_id, Recording.ended_at.is_(None))
        )
        return None if row is None else _view(row)


async def finish(
    db: Database,
    recording_id: int,
    *,
    now: dt.datetime,
    size: int,
    duration: float,
    events: EventDispatcher | None = None,
) -> RecordingView | None:
    """Close the row of a stopped recording; ``events`` hear ``RecordingFinished``."""
    async with db.session() as session:
        row = await session.get(Recording, recording_id)
        if row is None:
            return None
        row.ended_at, row.size, row.duration = now, size, duration
        event = RecordingFinished(row.id, row.lesson_id)
        if events is not None:
            events.stage(session, event)
        await session.commit()
        view = _view(row)
    if events is not None:
        await events.committed(event)
    return view


async def discard(db: Database, data_dir: Path, recording_id: int) -> None:
    """Forget a recording that never started (the media server refused it)."""
    async with db.session() as session:
        row = await session.get(Recording, recording_id)
        if row is not None:
            _remove_file(data_dir, row.path)
            await session.delete(row)
            await session.commit()


async def check_viewer(db: Database, principal: Principal, room: Room) -> None:
    """The lesson's teacher (or the admin), the class's students and their parents only."""
    if is_teacher(room, principal):
        return
    class_id = room.lesson.class_id
    if principal.role is Role.STUDENT:
        if not await is_enrolled(db, principal.person_id, class_id):
            raise Forbidden("you are not a student of this class", code="not_in_class")
        return
    if principal.role is Role.PARENT:
        async with db.session() as session:
            child = await session.scalar(
                select(Guardianship.child_id)
                .join(Enrolment, Enrolment.student_id == Guardianship.child_id)
                .where(
                    Guardianship.parent_id == principal.person_id, Enrolment.class_id == class_id
                )
                .limit(1)
            )
            if child is None:
                raise Forbidden("none of your children is in this class", code="not_your_child")
            audit.record(
                session,
                action="recording_listed",
                actor_id=principal.person_id,
                subject_id=child,
                detail=f"lesson {room.lesson.id}",
            )
            await session.commit()
        return
    raise Forbidden("only the lesson's class and teacher see its recordings", code="not_allowed")


async def list_for_lesson(db: Database, principal: Principal, lesson_id: int) -> RecordingList:
    room = await load_room(db, lesson_id, principal.school_id)
    await check_viewer(db, principal, room)
    async with db.session() as session:
        rows = (
            await session.scalars(
                select(Recording)
                .where(Recording.lesson_id == lesson_id)
                .order_by(Recording.started_at)
            )
        ).all()
    return RecordingList(lesson_id, [_view(row) for row in rows])


async def _load(db: Database, principal: Principal, recording_id: int) -> tuple[Recording, Room]:
    async with db.session() as session:
        row = await session.get(Recording, recording_id)
    if row is None:
        raise NotFound("there is no such recording", code="recording_not_found")
    try:
        room = await load_room(db, row.lesson_id, principal.school_id)
    except NotFound:
        raise NotFound("there is no such recording", code="recording_not_found") from None
    return row, room


async def for_viewer(
    db: Database, principal: Principal, recording_id: int, data_dir: Path
) -> tuple[RecordingView, Path]:
    """A recording the caller may watch, and its file (``NotFound`` when it is gone)."""
    row, room = await _load(db, principal, recording_id)
    await check_viewer(db, principal, room)
    path = data_dir / row.path
    if not path.is_file():
        raise NotFound("the recording's file is gone", code="recording_file_missing")
    return _view(row), path


async def timeline(db: Database, principal: Principal, recording_id: int) -> Timeline:
    """The room's chat messages and board operations during the recording, in time order,
    and the board as it was when recording began."""
    row, room = await _load(db, principal, recording_id)
    await check_viewer(db, principal, room)
    start = row.started_at
    end = row.ended_at or dt.datetime.now(dt.UTC)
    items: list[TimelineItem] = []
    async with db.session() as session:
        messages = (
            await session.execute(
                select(
                    ChatMessage.sent_at, ChatMessage.offset, ChatMessage.text, Person.display_name
                )
                .join(Person, Person.id == ChatMessage.author_id)
                .where(
                    ChatMessage.lesson_id == row.lesson_id,
                    ChatMessage.recipient_id.is_(None),
                    ChatMessage.deleted_at.is_(None),
                    ChatMessage.sent_at >= start,
                    ChatMessage.sent_at <= end,
                )
            )
        ).all()
        for sent_at, offset, text, author in messages:
            at = (sent_at - start).total_seconds()
            items.append(TimelineItem(at, "chat", offset, author=author, text=text))
        board, effects = await board_during(session, row.lesson_id, start, end)
        for timed in effects:
            at = (timed.at - start).total_seconds()
            effect = timed.effect
            items.append(
                TimelineItem(at, "board", timed.offset, operation=effect.kind, effect=effect)
            )
    items.sort(key=lambda item: (item.at, item.offset or 0))
    return Timeline(_view(row), room.lesson.subject, items, board)


async def remove(db: Database, principal: Principal, recording_id: int, data_dir: Path) -> None:
    """The lesson's teacher deletes a recording before its time (not while it runs)."""
    row, room = await _load(db, principal, recording_id)
    if not is_teacher(room, principal):
        raise Forbidden("only the lesson's teacher deletes its recordings", code="not_teacher")
    if row.ended_at is None:
        raise Conflict("stop the recording first", code="recording_running")
    async with db.session() as session:
        await session.execute(delete(Recording).where(Recording.id == recording_id))
        await session.commit()
    _remove_file(data_dir, row.path)


def _remove_file(data_dir: Path, relative: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / relative).unlink()


async def sweep(
    db: Database, data_dir: Path, *, now: dt.datetime, retention: dt.timedelta, stale: dt.timedelta
) -> int:
    """Delete recordings older than ``retention`` (file and row); close rows still running
    ``stale`` after their lesson ended (the room closed by its timer, or the recorder died)
    with what their file holds. Returns how many were deleted."""
    async with db.session() as session:
        old = (
            await session.scalars(select(Recording).where(Recording.started_at < now - retention))
        ).all()
        for row in old:
            _remove_file(data_dir, row.path)
            await session.delete(row)
        left = (
            await session.scalars(
                select(Recording)
                .join(LessonOccurrence, LessonOccurrence.id == Recording.lesson_id)
                .where(Recording.ended_at.is_(None), LessonOccurrence.ends_at < now - stale)
            )
        ).all()
        for row in left:
            path = data_dir / row.path
            row.ended_at = now
            row.size = path.stat().st_size if path.is_file() else 0
            if row.size:
                try:
                    row.duration = await asyncio.to_thread(media_seconds, path)
                except (OSError, av.error.FFmpegError):
                    log.warning("recording %d: its file cannot be read", row.id)
        await session.commit()
    if old:
        log.info("deleted %d recordings past their retention", len(old))
    return len(old)
