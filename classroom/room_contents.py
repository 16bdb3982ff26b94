"""What a person finds on entering a room: the hands up and the chat they may read."""

from __future__ import annotations

from dataclasses import dataclass

from classroom import chat, hands
from classroom.roles import Principal
from classroom.rooms import Room
from classroom.storage.database import Database


@dataclass(frozen=True, slots=True)
class RoomContents:
    hands: list[hands.HandView]
    messages: list[chat.MessageView]


async def room_contents(db: Database, room: Room, viewer: Principal) -> RoomContents:
    """Both read on one connection (one checkout per join), outside a transaction."""
    async with db.direct() as session:
        raised = await hands.raised_hands_in(session, room.lesson.id)
        messages = await chat.history_in(session, room, viewer)
    return RoomContents(raised, messages)
