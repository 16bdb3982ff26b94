"""Raised hands in a lesson room: a student raises or lowers their own, the teacher lowers
anyone's."""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import bindparam, select

from classroom.errors import Forbidden
from classroom.roles import Principal
from classroom.rooms import Room, is_teacher
from classroom.storage.database import Database, Reader
from classroom.storage.direct import DirectRead
from classroom.storage.models import Person, RaisedHand

CHANGED_EVENT = "hand.changed"
"""The event a raised or lowered hand is announced with, after it is stored."""


class HandView(msgspec.Struct, frozen=True):
    person_id: int
    display_name: str
    raised: bool
    at: dt.datetime


async def set_hand(
    db: Database,
    principal: Principal,
    room: Room,
    *,
    raised: bool,
    person_id: int | None,
    now: dt.datetime,
) -> HandView:
    """Raise or lower one's own hand; the teacher may lower another's."""
    target = principal.person_id if person_id is None else person_id
    if target != principal.person_id and (raised or not is_teacher(room, principal)):
        raise Forbidden("only the teacher lowers another's hand", code="not_the_teacher")
    async with db.session() as session:
        current = await session.get(RaisedHand, (room.lesson.id, target))
        if raised and current is None:
            session.add(RaisedHand(lesson_id=room.lesson.id, person_id=target, raised_at=now))
        elif not raised and current is not None:
            await session.delete(current)
        name = await session.scalar(select(Person.display_name).where(Person.id == target))
        await session.commit()
    return HandView(target, name or "", raised, now)


async def raised_hands(db: Database, lesson_id: int) -> list[HandView]:
    """Hands up now, in the order they were raised."""
    async with db.session() as session:
        return await raised_hands_in(session, lesson_id)


# Built once: every room entry runs it, and building a statement costs more than running it.
_RAISED_HANDS = DirectRead(
    select(RaisedHand.person_id, Person.display_name, RaisedHand.raised_at)
    .join(Person, Person.id == RaisedHand.person_id)
    .where(RaisedHand.lesson_id == bindparam("lesson_id"))
    .order_by(RaisedHand.raised_at)
)


async def raised_hands_in(session: Reader, lesson_id: int) -> list[HandView]:
    rows = await _RAISED_HANDS.rows(session, {"lesson_id": lesson_id})
    return [HandView(person, name, True, at) for person, name, at in rows]
