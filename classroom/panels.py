"""Classroom panels: pairing by a short-lived code and the lesson a panel is bound to.

A panel shows a code (as a QR code); the teacher opens it on a phone while signed in and
confirms; the panel is then bound to that teacher's current lesson until the lesson ends.
A code lives two minutes and works once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import msgspec
from sqlalchemy import delete, or_, select, update

from classroom.errors import Forbidden, NotFound
from classroom.roles import Principal, Role
from classroom.rooms import LessonFacts, RoomState, RoomTimes, load_room
from classroom.storage.database import Database
from classroom.storage.models import LessonOccurrence, LessonRoom, PanelBinding, PanelPairing

PAIRING_TTL = dt.timedelta(minutes=2)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class Pairing(msgspec.Struct, frozen=True):
    code: str
    expires_at: dt.datetime


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def require_panel(principal: Principal) -> None:
    if principal.role is not Role.PANEL:
        raise Forbidden("this is for classroom panels", code="not_a_panel")


async def start_pairing(db: Database, panel: Principal, *, now: dt.datetime) -> Pairing:
    """A new code for the panel; its earlier codes stop working."""
    require_panel(panel)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    async with db.session() as session:
        await session.execute(
            delete(PanelPairing).where(
                or_(PanelPairing.panel_id == panel.person_id, PanelPairing.expires_at < now)
            )
        )
        session.add(
            PanelPairing(
                code_hash=_digest(code), panel_id=panel.person_id, expires_at=now + PAIRING_TTL
            )
        )
        await session.commit()
    return Pairing(code=code, expires_at=now + PAIRING_TTL)


async def current_lesson(
    db: Database, teacher: Principal, *, now: dt.datetime, times: RoomTimes
) -> LessonFacts:
    """The teacher's lesson going on now (a live room first, then the nearest start)."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(LessonOccurrence.id, LessonRoom.live_at)
                .outerjoin(LessonRoom, LessonRoom.lesson_id == LessonOccurrence.id)
                .where(
                    LessonOccurrence.teacher_id == teacher.person_id,
                    LessonOccurrence.starts_at <= now + times.opens_before,
                    LessonOccurrence.ends_at > now - times.overrun,
                    or_(LessonRoom.ended_at.is_(None), LessonRoom.lesson_id.is_(None)),
                )
            )
        ).all()
    candidates = []
    for lesson_id, live_at in rows:
        room = await load_room(db, lesson_id, teacher.school_id)
        if room.state(now, times) is not RoomState.ENDED:
            distance = abs((room.lesson.starts_at - now).total_seconds())
            candidates.append((live_at is None, distance, room.lesson))
    if not candidates:
        raise NotFound("you have no lesson going on now", code="no_current_lesson")
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


async def pair(
    db: Database, teacher: Principal, code: str, *, now: dt.datetime, times: RoomTimes
) -> LessonFacts:
    """Bind the panel that shows ``code`` to the teacher's current lesson."""
    if teacher.role not in (Role.TEACHER, Role.ADMIN):
        raise Forbidden("only a teacher pairs a panel", code="not_a_teacher")
    lesson = await current_lesson(db, teacher, now=now, times=times)
    async with db.session() as session:
        used = await session.execute(
            update(PanelPairing)
            .where(
                PanelPairing.code_hash == _digest(code),
                PanelPairing.used_at.is_(None),
                PanelPairing.expires_at > now,
            )
            .values(used_at=now)
            .returning(PanelPairing.panel_id)
        )
        panel_id = used.scalar_one_or_none()
        if panel_id is None:
            raise NotFound("this code is unknown, used or expired", code="pairing_invalid")
        await session.execute(delete(PanelBinding).where(PanelBinding.panel_id == panel_id))
        session.add(
            PanelBinding(
                panel_id=panel_id, lesson_id=lesson.id, teacher_id=teacher.person_id, bound_at=now
            )
        )
        await session.commit()
    return lesson


async def bound_lesson(
    db: Database, panel: Principal, *, now: dt.datetime, times: RoomTimes
) -> LessonFacts | None:
    """The lesson the panel shows, or None; a binding ends with its lesson."""
    if panel.role is not Role.PANEL:
        return None
    async with db.session() as session:
        lesson_id = await session.scalar(
            select(PanelBinding.lesson_id).where(PanelBinding.panel_id == panel.person_id)
        )
    if lesson_id is None:
        return None
    room = await load_room(db, lesson_id, panel.school_id)
    if room.state(now, times) is RoomState.ENDED:
        await unbind(db, panel)
        return None
    return room.lesson


async def unbind(db: Database, panel: Principal) -> None:
    async with db.session() as session:
        await session.execute(delete(PanelBinding).where(PanelBinding.panel_id == panel.person_id))
        await session.commit()
