"""The diary's own tables: trusted persons' read-only access and calendar feeds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from classroom.storage.models import Base, UtcDateTime


class DiaryTrustedAccess(Base):
    """A parent lets a trusted person (an account of its own) read one child's diary."""

    __tablename__ = "diary_trusted_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trusted_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    granted_by: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DiaryCalendarFeed(Base):
    """A person's secret calendar address; only its SHA-256 is kept."""

    __tablename__ = "diary_calendar_feed"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
