"""Socket.IO events of the school, registered with the realtime router.

Handlers here adapt transport calls to domain calls: they check rights in ``classroom``
and use ``realtime`` for channel membership and publishing.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec

from classroom import rooms
from classroom.errors import Forbidden, InvalidInput
from classroom.roles import Principal
from realtime.router import Call, EventRouter, Rate
from realtime.server import AttachResult
from web.services import Services

LessonId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ChatText = Annotated[str, msgspec.Meta(min_length=1, max_length=rooms.MAX_CHAT_LENGTH)]


class RoomJoin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    since: Offset | None = None


class RoomLeave(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId


class NoticesJoin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    since: Offset | None = None


class ChatSend(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    text: ChatText
    client_id: ClientId | None = None


class ChatSent(msgspec.Struct, frozen=True):
    id: str
    offset: int


def register_events(router: EventRouter, services: Services) -> None:
    """Register the school's events with the router."""
    realtime = services.realtime
    db = services.db

    def principal(call: Call) -> Principal:
        assert isinstance(call.principal, Principal)
        return call.principal

    async def room_join(call: Call, payload: RoomJoin) -> AttachResult:
        await rooms.check_entry(db, principal(call), payload.lesson_id)
        return await realtime.attach(call.sid, rooms.room_channel(payload.lesson_id), payload.since)

    async def room_leave(call: Call, payload: RoomLeave) -> dict[str, Any]:
        await realtime.detach(call.sid, rooms.room_channel(payload.lesson_id))
        return {"lesson_id": payload.lesson_id}

    async def notices_join(call: Call, payload: NoticesJoin) -> AttachResult:
        channel = rooms.user_channel(principal(call).person_id)
        return await realtime.attach(call.sid, channel, payload.since)

    async def chat_send(call: Call, payload: ChatSend) -> ChatSent:
        channel = rooms.room_channel(payload.lesson_id)
        if call.sid not in realtime.members(channel):
            raise Forbidden("join the lesson room before writing to it", code="not_in_room")
        text = payload.text.strip()
        if not text:
            raise InvalidInput("an empty message is not sent", code="empty_message")
        author = await rooms.author(db, principal(call))
        message_id = uuid.uuid4().hex
        offset = await realtime.publish(
            channel,
            "chat.message",
            {
                "id": message_id,
                "lesson_id": payload.lesson_id,
                "author": msgspec.to_builtins(author),
                "text": text,
                "client_id": payload.client_id,
            },
        )
        return ChatSent(id=message_id, offset=offset)

    router.register(
        "room.join",
        RoomJoin,
        room_join,
        rate=Rate(2, 10),
        summary="Enter a lesson's live room; replays events since an offset.",
    )
    router.register("room.leave", RoomLeave, room_leave, summary="Leave a lesson's live room.")
    router.register(
        "notices.join",
        NoticesJoin,
        notices_join,
        rate=Rate(1, 5),
        summary="Receive one's own live notices; replays since an offset.",
    )
    router.register(
        "chat.send",
        ChatSend,
        chat_send,
        rate=Rate(1, 5),
        summary="Send a chat message to a lesson room one has joined.",
    )
