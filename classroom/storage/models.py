"""Tables of the school domain (SQLAlchemy 2 declarative mapping).

Times are stored in UTC; dates of lessons are the school's local calendar dates.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from classroom.roles import Role

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime, stored without zone on every backend."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


role_enum = Enum(Role, name="role", values_callable=lambda roles: [r.value for r in roles])


class School(Base):
    __tablename__ = "school"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")


class SchoolClass(Base):
    """A class of students, e.g. "7А"."""

    __tablename__ = "school_class"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(20))
    grade: Mapped[int] = mapped_column(SmallInteger)


class Person(Base):
    """An account: a student, parent, teacher, admin or classroom panel."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(role_enum)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Guardianship(Base):
    """A parent (or guardian) of a student."""

    __tablename__ = "guardianship"

    parent_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    child_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Enrolment(Base):
    """A student's membership of a class."""

    __tablename__ = "enrolment"

    student_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    class_id: Mapped[int] = mapped_column(
        ForeignKey("school_class.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Subject(Base):
    __tablename__ = "subject"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))


class TimetableEntry(Base):
    """A weekly slot: this class has this subject with this teacher on this weekday."""

    __tablename__ = "timetable_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(
        ForeignKey("school_class.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday, as datetime.weekday()
    starts: Mapped[dt.time] = mapped_column(Time)
    ends: Mapped[dt.time] = mapped_column(Time)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class LessonOccurrence(Base):
    """One lesson on one date, made from a timetable entry (or added by hand)."""

    __tablename__ = "lesson_occurrence"
    __table_args__ = (
        UniqueConstraint("timetable_entry_id", "date"),
        Index("ix_lesson_occurrence_class_starts", "class_id", "starts_at"),
        Index("ix_lesson_occurrence_teacher_starts", "teacher_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timetable_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("timetable_entry.id", ondelete="SET NULL"), nullable=True
    )
    class_id: Mapped[int] = mapped_column(ForeignKey("school_class.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    online: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """Who did what to whose data, and when: sign-ins and reads of a child's data."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True, index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True, index=True
    )
    detail: Mapped[str] = mapped_column(String(255), default="")


class Setting(Base):
    """Small key/value facts of the installation (e.g. that the demo school was seeded)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class LessonRoom(Base):
    """The live room of a lesson occurrence: when it opened, went live and ended, and the
    teacher's switches. A lesson without a row has a room that was never touched."""

    __tablename__ = "lesson_room"
    __table_args__ = (
        # The absence check looks for live rooms not yet checked: a few among a year's.
        Index(
            "ix_lesson_room_unchecked",
            "lesson_id",
            postgresql_where=text("live_at IS NOT NULL AND absence_checked_at IS NULL"),
            sqlite_where=text("live_at IS NOT NULL AND absence_checked_at IS NULL"),
        ),
    )

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    opened_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    live_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    chat_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    muted_all: Mapped[bool] = mapped_column(Boolean, default=False)
    absence_checked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RoomExclusion(Base):
    """A person the teacher removed from a lesson room; they may not enter it again."""

    __tablename__ = "room_exclusion"

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class JoinLinkGeneration(Base):
    """How many times the teacher revoked a person's join link for a lesson: a link is
    valid only while it carries the current generation."""

    __tablename__ = "join_link_generation"

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(Integer, default=0)


class ChatMessage(Base):
    """A chat message of a lesson room; ``recipient_id`` makes it private."""

    __tablename__ = "chat_message"
    __table_args__ = (
        UniqueConstraint("lesson_id", "author_id", "client_id"),
        Index("ix_chat_message_lesson_sent", "lesson_id", "sent_at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson_occurrence.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), nullable=True
    )
    text: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RaisedHand(Base):
    """A hand raised in a lesson room, until its owner or the teacher lowers it."""

    __tablename__ = "raised_hand"

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    raised_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class RoomVisit(Base):
    """One connection's stay in a lesson room. Attendance is derived from these.

    An open visit is as fresh as the later of its own ``seen_at`` (set when it opens) and
    its node's heartbeat (``NodeHeartbeat``); one whose node stopped is taken to have ended
    then.
    """

    __tablename__ = "room_visit"
    __table_args__ = (
        Index("ix_room_visit_lesson_person", "lesson_id", "person_id"),
        Index("ix_room_visit_node_open", "node_id", "left_at"),
        # A connection that drops closes its open visits: a few among every visit kept.
        Index(
            "ix_room_visit_open_connection",
            "connection_id",
            postgresql_where=text("left_at IS NULL"),
            sqlite_where=text("left_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson_occurrence.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(128))
    joined_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    left_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class NodeHeartbeat(Base):
    """When a server node last said it was alive (it holds open visits)."""

    __tablename__ = "node_heartbeat"

    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AttendanceMark(Base):
    """The journal's attendance mark of a student for a lesson, and where it came from."""

    __tablename__ = "attendance_mark"

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    mark: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AbsenceExcuse(Base):
    """A reason a student is away on some days: a parent's report or a clinic's note."""

    __tablename__ = "absence_excuse"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    date_from: Mapped[dt.date] = mapped_column(Date)
    date_to: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))
    reported_by: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Notice(Base):
    """A notice to one person (a parent), kept until it was shown live and handed to the
    webhook; ``dedupe_key`` makes each notice happen once."""

    __tablename__ = "notice"
    __table_args__ = (
        Index("ix_notice_recipient_created", "recipient_id", "created_at"),
        Index("ix_notice_pending", "pending"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson_occurrence.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    payload: Mapped[str] = mapped_column(Text)
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    live_sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    webhook_done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    webhook_error: Mapped[str] = mapped_column(String(255), default="")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Board(Base):
    """The whiteboard of a lesson and its version (the last operation's number); the row
    is written by every stored batch of operations, so it stays small."""

    __tablename__ = "board"
    __table_args__ = (
        Index("ix_board_class_subject_starts", "class_id", "subject_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), unique=True
    )
    class_id: Mapped[int] = mapped_column(ForeignKey("school_class.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class BoardSnapshot(Base):
    """The whole document of a board at ``version`` (operations after it are in
    ``board_op``), rewritten every few hundred operations."""

    __tablename__ = "board_snapshot"

    board_id: Mapped[int] = mapped_column(
        ForeignKey("board.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class BoardOp(Base):
    """An accepted board operation, resolved (``effect``), with its room channel offset."""

    __tablename__ = "board_op"
    __table_args__ = (UniqueConstraint("board_id", "author_id", "client_id"),)

    board_id: Mapped[int] = mapped_column(
        ForeignKey("board.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    effect: Mapped[bytes] = mapped_column(LargeBinary)
    offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PanelPairing(Base):
    """A short-lived, single-use code a classroom panel shows as a QR code."""

    __tablename__ = "panel_pairing"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PanelBinding(Base):
    """Which lesson a classroom panel shows, and which teacher bound it there."""

    __tablename__ = "panel_binding"

    panel_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), index=True
    )
    teacher_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    bound_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class EventOutbox(Base):
    """A domain event waiting for its reactions (``classroom.outbox``): written when the
    change is made, taken by one node under a lease, deleted once its reactions ran."""

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Recording(Base):
    """A recording of a lesson: its WebM file (under the data folder) and when it ran.

    ``ended_at`` is empty while it runs (or when the media process died mid-way: the file is
    still playable up to its last cluster)."""

    __tablename__ = "recording"
    __table_args__ = (Index("ix_recording_lesson_started", "lesson_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson_occurrence.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    """Whose camera and microphone were recorded (the teacher)."""
    path: Mapped[str] = mapped_column(String(255))
    """Relative to the data folder."""
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    start_offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The room channel's offset when recording began (the timeline starts after it)."""
