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
    """Both read in one database session (one connection checkout per join)."""
    async with db.session() as session:
        raised = await hands.raised_hands_in(session, room.lesson.id)
        messages = await chat.history_in(session, room, viewer)
    return RoomContents(raised, messages)
