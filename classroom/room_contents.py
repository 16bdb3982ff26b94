"""What a person finds on entering a room: the hands up and the chat they may read."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, null, select, union_all

from classroom import chat, hands
from classroom.roles import Principal
from classroom.rooms import Room
from classroom.storage.database import Database
from classroom.storage.direct import AnySelect, DirectRead
from classroom.storage.models import Person, RaisedHand


@dataclass(frozen=True, slots=True)
class RoomContents:
    hands: list[hands.HandView]
    messages: list[chat.MessageView]


def _with_hands(history: AnySelect) -> DirectRead:
    """A history and the hands up, in one statement (one round trip per room entry): the
    hands come as rows in the history's columns with no message id (``person_id`` as the
    author, ``raised_at`` as the time sent)."""
    latest = history.subquery()
    raised = (
        select(
            null(),
            RaisedHand.lesson_id,
            RaisedHand.person_id,
            null(),
            null(),
            RaisedHand.raised_at,
            null(),
            null(),
            null(),
            Person.display_name,
            Person.role,
            null(),
            null(),
        )
        .join(Person, Person.id == RaisedHand.person_id)
        .where(RaisedHand.lesson_id == bindparam("lesson_id"))
    )
    return DirectRead(union_all(select(latest), raised))


_OF_TEACHER = _with_hands(chat.HISTORY_OF_TEACHER)
_OF_MEMBER = _with_hands(chat.HISTORY_OF_MEMBER)


async def room_contents(db: Database, room: Room, viewer: Principal) -> RoomContents:
    """Read in one statement, outside a transaction."""
    teacher, params = chat.history_params(room, viewer)
    async with db.direct() as connection:
        rows = await (_OF_TEACHER if teacher else _OF_MEMBER).rows(connection, params)
    raised = sorted((row for row in rows if row[0] is None), key=lambda row: (row[5], row[2]))
    return RoomContents(
        [hands.HandView(row[2], row[9], True, row[5]) for row in raised],
        chat.views_of([row for row in rows if row[0] is not None]),
    )
