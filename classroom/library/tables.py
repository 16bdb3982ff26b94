"""The library's own tables: materials, their files and where they are attached."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from classroom.storage.models import Base, UtcDateTime


class LibraryMaterial(Base):
    """A material: a file, a link or a text, with subject, grade level and topic."""

    __tablename__ = "library_material"
    __table_args__ = (Index("ix_library_material_school_state", "school_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(100))
    grade_level: Mapped[int] = mapped_column(SmallInteger)
    topic: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class LibraryFile(Base):
    """The bytes of an uploaded material (kept in the database: every node sees them)."""

    __tablename__ = "library_file"

    material_id: Mapped[int] = mapped_column(
        ForeignKey("library_material.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LibraryAttachment(Base):
    """A material attached to a lesson, for the lesson itself or for its homework."""

    __tablename__ = "library_attachment"
    __table_args__ = (Index("ix_library_attachment_lesson", "lesson_id"),)

    material_id: Mapped[int] = mapped_column(
        ForeignKey("library_material.id", ondelete="CASCADE"), primary_key=True
    )
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(String(8), primary_key=True)
    attached_by: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
