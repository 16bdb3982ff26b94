"""What a person finds on entering a room: the hands up and the chat they may read."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, exists, null, select, union_all

from classroom import chat, hands
from classroom.roles import Principal
from classroom.rooms import Room
from classroom.storage.database import Database
from classroom.storage.direct import AnySelect, DirectRead
from classroom.storage.models import ChatMessage, Person, RaisedHand


@dataclass(frozen=True, slots=True)
class RoomContents:
    hands: list[hands.HandView]
    messages: list[chat.MessageView]
    lesson_empty: bool = False
    """No message in the lesson (private ones between others included) and no hand up."""


def _with_hands(history: AnySelect, *, others_private: bool) -> DirectRead:
    """A history and the hands up, in one statement (one round trip per room entry): the
    hands come as rows in the history's columns with no message id (``person_id`` as the
    author, ``raised_at`` as the time sent). ``others_private``: also one row with neither
    a message id nor a person if the lesson has private messages (the viewer's history
    leaves out those between others)."""
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
    if not others_private:
        return DirectRead(union_all(select(latest), raised))
    private = select(*(null() for _ in latest.c)).where(
        exists().where(
            ChatMessage.lesson_id == bindparam("lesson_id"),
            ChatMessage.recipient_id.is_not(None),
            ChatMessage.deleted_at.is_(None),
        )
    )
    return DirectRead(union_all(select(latest), raised, private))


_OF_TEACHER = _with_hands(chat.HISTORY_OF_TEACHER, others_private=False)
_OF_MEMBER = _with_hands(chat.HISTORY_OF_MEMBER, others_private=True)


async def room_contents(db: Database, room: Room, viewer: Principal) -> RoomContents:
    """Read in one statement, outside a transaction."""
    teacher, params = chat.history_params(room, viewer)
    async with db.direct() as connection:
        rows = await (_OF_TEACHER if teacher else _OF_MEMBER).rows(connection, params)
    raised = sorted(
        (row for row in rows if row[0] is None and row[2] is not None),
        key=lambda row: (row[5], row[2]),
    )
    return RoomContents(
        [hands.HandView(row[2], row[9], True, row[5]) for row in raised],
        chat.views_of([row for row in rows if row[0] is not None]),
        lesson_empty=not rows,
    )
