"""The audit trail: who signed in, and who read whose personal data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from classroom.storage.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    action: str,
    actor_id: int | None,
    subject_id: int | None = None,
    detail: str = "",
) -> None:
    """Add an audit entry to the session's unit of work (committed with it)."""
    session.add(
        AuditEntry(
            at=dt.datetime.now(dt.UTC),
            actor_id=actor_id,
            action=action,
            subject_id=subject_id,
            detail=detail[:255],
        )
    )
