"""The journal's own tables. Attendance marks stay in ``attendance_mark`` (the presence
service writes them; the journal owns them since this change and adds their history)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from classroom.storage.models import Base, UtcDateTime


class JournalLesson(Base):
    """What the teacher wrote about a lesson: its topic and, on a test day, the test."""

    __tablename__ = "journal_lesson"

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(300), default="")
    test_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )


class JournalGrade(Base):
    """A grade as it stands now; each change is a new row in ``journal_grade_version``."""

    __tablename__ = "journal_grade"
    __table_args__ = (Index("ix_journal_grade_lesson_student", "lesson_id", "student_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson_occurrence.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(SmallInteger)
    weight: Mapped[int] = mapped_column(SmallInteger, default=1)
    comment: Mapped[str] = mapped_column(String(500), default="")
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )


class JournalGradeVersion(Base):
    """One version of a grade, never changed once written."""

    __tablename__ = "journal_grade_version"

    grade_id: Mapped[int] = mapped_column(
        ForeignKey("journal_grade.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(SmallInteger)
    weight: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(String(500))
    cancelled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(300), default="")
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class JournalHomework(Base):
    """The homework set at a lesson (one per lesson, changed in place with history)."""

    __tablename__ = "journal_homework"

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text)
    due_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )


class JournalChange(Base):
    """The journal's history: who changed what of which lesson, when."""

    __tablename__ = "journal_change"
    __table_args__ = (Index("ix_journal_change_lesson_at", "lesson_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson_occurrence.id", ondelete="CASCADE"))
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    what: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
