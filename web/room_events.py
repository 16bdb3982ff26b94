"""Socket.IO events of lesson rooms: entering and leaving, chat, hands, reactions and the
teacher's controls. Live attendance goes to the teacher on the room's staff channel."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from classroom import chat, hands, rooms
from classroom.batches import GroupWriter
from classroom.chat import MessageView
from classroom.errors import Forbidden
from classroom.hands import HandView
from classroom.join_links import MAX_LINK_LENGTH
from classroom.quiet_rooms import QuietRooms, adds_contents, read_may_miss
from classroom.roles import Principal, Role
from classroom.room_contents import RoomContents, room_contents
from classroom.rooms import Author, LessonFacts, Room, RoomStatus
from classroom.under_way import UnderWay
from presence import absence, visits
from presence.arrivals import Arrivals
from presence.departures import Departures
from realtime.router import Call, EventError, EventRouter, Rate
from realtime.server import EVICT_EVENT, NODE_EVENT_PREFIX, AttachResult, RealtimeServer
from web.admission import Admission
from web.events import LessonId, Offset, PersonId, principal_of
from web.media_events import drop_media_of, end_media, leave_media, mute_all
from web.room_changes import room_changed
from web.services import Services

ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ChatText = Annotated[str, msgspec.Meta(min_length=1, max_length=rooms.MAX_CHAT_LENGTH)]
Link = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LINK_LENGTH)]
MessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Reaction = Literal["thumbs_up", "clap", "smile", "surprised", "question", "heart"]
Control = Literal["lock", "unlock", "lock_chat", "unlock_chat", "mute_all", "unmute_all", "end"]

SWITCHES: dict[str, rooms.SwitchChange] = {
    "lock": rooms.SwitchChange(locked=True),
    "unlock": rooms.SwitchChange(locked=False),
    "lock_chat": rooms.SwitchChange(chat_locked=True),
    "unlock_chat": rooms.SwitchChange(chat_locked=False),
    "mute_all": rooms.SwitchChange(muted_all=True),
    "unmute_all": rooms.SwitchChange(muted_all=False),
}


class RoomJoin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    link: Link | None = None
    since: Offset | None = None


class RoomRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId


class ChatSend(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    text: ChatText
    to: PersonId | None = None
    client_id: ClientId | None = None


class ChatDelete(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    message_id: MessageId


class HandSet(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    raised: bool
    person_id: PersonId | None = None


class ReactionSend(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    kind: Reaction


class RoomControl(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    action: Control


class PersonAction(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    person_id: PersonId


class RoomSnapshot(msgspec.Struct, frozen=True):
    lesson: LessonFacts
    status: RoomStatus
    me: Author
    teacher: bool
    reconnect_grace_seconds: float
    hands: list[HandView]
    messages: list[MessageView]


class RoomJoined(msgspec.Struct, frozen=True):
    """The reply to ``room.join``: the room now, and the room channel from ``since``."""

    room: RoomSnapshot
    stream: AttachResult


class ChatSent(msgspec.Struct, frozen=True):
    id: str
    offset: int | None
    repeated: bool


class AttendanceMarked(msgspec.Struct, frozen=True):
    """Told to a lesson's staff: the attendance marks changed (the check ran, or a student
    came late), so the console reloads the report."""

    lesson_id: int


ATTENDANCE_MARKED_EVENT = "attendance.marked"

PRIVATE_CHAT_EVENT = NODE_EVENT_PREFIX + "chat.private"
"""Told to the nodes alone on a room's channel: a private message of the room follows."""

EARLIER_EVENTS = 64
"""Events of a room from before its first member on a node that the node reads from the
bus: a message another node sent then may still be waiting there to be stored, and those
who enter find it in the room's history all the same (``chat.with_heard``)."""


async def publish_marks_changed(realtime: RealtimeServer, lesson_id: int) -> None:
    await realtime.publish(
        rooms.staff_channel(lesson_id), ATTENDANCE_MARKED_EVENT, AttendanceMarked(lesson_id)
    )


class PresenceChange(msgspec.Struct, frozen=True):
    """A person came into the room or left it (on their last device)."""

    lesson_id: int
    person: Author
    online: bool
    at: dt.datetime


def register_room_events(router: EventRouter, services: Services) -> None:
    realtime = services.realtime
    db = services.db
    settings = services.settings
    times = settings.room_times  # settings do not change; built once, not per event

    def now() -> dt.datetime:
        return services.clock()

    visiting: set[str] = set()  # connections of this node that entered a room
    authors = rooms.Authors(db)
    cache = services.room_cache
    # Writes that follow each other closely are written together (``classroom.batches``).
    arrivals = Arrivals(db, linger=settings.write_linger)
    departures = Departures(db, after=arrivals)
    posts: GroupWriter[chat.Delivered, None] = GroupWriter(
        lambda batch: chat.store_many(db, batch),
        linger=settings.write_linger,
        key=lambda delivered: delivered[0].lesson_id,
    )
    publishing = UnderWay()  # chat messages of this node being published, by lesson
    quiet = QuietRooms()  # rooms known empty: entering them reads nothing

    async def author_in(lesson_id: int, person_id: int) -> Author:
        """How a person appears in a lesson's room: from its cached class, else read."""
        return cache.known_author(lesson_id, person_id) or await authors.of(person_id)

    async def room_of(call: Call, lesson_id: int) -> Room:
        return await cache.room(lesson_id, principal_of(call).school_id)

    async def fresh_room_of(call: Call, lesson_id: int) -> Room:
        """After a change of the room: tell every node, and read it again."""
        await room_changed(services, lesson_id)
        return await rooms.load_room(db, lesson_id, principal_of(call).school_id)

    def require_member(call: Call, lesson_id: int) -> None:
        if call.sid not in realtime.members(rooms.room_channel(lesson_id)):
            raise Forbidden("join the lesson room first", code="not_in_room")

    def status(room: Room) -> RoomStatus:
        return rooms.room_status(room, now(), times)

    async def publish_status(room: Room) -> None:
        await realtime.publish(rooms.room_channel(room.lesson.id), "room.state", status(room))

    async def publish_presence(lesson_id: int, person: Author, online: bool) -> None:
        change = PresenceChange(lesson_id, person, online, now())
        await realtime.publish(rooms.staff_channel(lesson_id), "presence.changed", change)

    admission = Admission(
        concurrency=settings.join_concurrency,
        max_wait=settings.join_max_wait,
        max_waiting=settings.join_concurrency * 32,
    )

    async def room_join(call: Call, payload: RoomJoin) -> RoomJoined:
        async with admission.slot():
            if not realtime.is_connected(call.sid):
                raise EventError("connection_gone", "the connection closed while it waited")
            return await enter_room(call, payload)

    async def enter_room(call: Call, payload: RoomJoin) -> RoomJoined:
        principal = principal_of(call)
        room = await room_of(call, payload.lesson_id)
        await rooms.check_entry(
            db,
            services.links,
            principal,
            room,
            payload.link,
            now=now(),
            times=times,
            entry_facts=cache.entry_facts,
        )
        teacher = rooms.is_teacher(room, principal)
        if principal.person_id == room.lesson.teacher_id and await rooms.teacher_arrived(
            db, room, now=now()
        ):
            room = await fresh_room_of(call, payload.lesson_id)
            await publish_status(room)
        channel = rooms.room_channel(room.lesson.id)
        stream = await realtime.attach(call.sid, channel, payload.since, earlier=EARLIER_EVENTS)
        if teacher:
            await realtime.attach(call.sid, rooms.staff_channel(room.lesson.id), None)
        me = await author_in(room.lesson.id, principal.person_id)
        visiting.add(call.sid)
        first_device = await arrivals.arrive(
            visits.Arrival(
                lesson_id=room.lesson.id,
                person_id=principal.person_id,
                connection_id=call.sid,
                node_id=services.node_id,
                now=now(),
            )
        )
        if first_device:
            await publish_presence(room.lesson.id, me, True)
        if (
            principal.role is Role.STUDENT
            and absence.may_have_run(room.lesson, now(), times)
            and await absence.student_arrived(db, room.lesson, principal.person_id, now=now())
        ):
            services.wake_background()
            await publish_marks_changed(realtime, room.lesson.id)
        start = stream.events[0].offset - 1 if stream.events else stream.offset
        contents = await contents_at(room, principal, channel, start)
        snapshot = RoomSnapshot(
            lesson=room.lesson,
            status=status(room),
            me=me,
            teacher=teacher,
            reconnect_grace_seconds=settings.reconnect_grace,
            hands=contents.hands,
            messages=contents.messages,
        )
        return RoomJoined(room=snapshot, stream=stream)

    async def contents_at(
        room: Room, principal: Principal, channel: str, start: int
    ) -> RoomContents:
        """The hands up and the messages of a room for a member whose stream begins after
        offset ``start``: every message published up to there included."""
        lesson_id = room.lesson.id
        empty_at = quiet.empty_at(lesson_id)
        if empty_at is not None:
            between = realtime.heard_between(channel, empty_at, start)
            if between is not None and not adds_contents(between):
                quiet.empty(lesson_id, start)
                return RoomContents([], [], lesson_empty=True)
        # The room's messages this node is still publishing or storing are stored first.
        await publishing.done(lesson_id)
        await posts.settled(lesson_id)
        contents = await room_contents(db, room, principal)
        # Those another node holds back to store together are taken as this node heard them.
        heard = realtime.heard(channel, start)
        messages = chat.with_heard(contents.messages, heard)
        if contents.lesson_empty and not messages and not read_may_miss(heard):
            quiet.empty(lesson_id, start)
        else:
            quiet.forget(lesson_id)
        return RoomContents(contents.hands, messages)

    async def leave(sid: str, principal: Principal, lesson_id: int | None) -> None:
        left = await departures.depart(visits.Leaving(sid, lesson_id, now()))
        for departure in left:
            if departure.still_here:
                continue
            person = await author_in(departure.lesson_id, principal.person_id)
            await publish_presence(departure.lesson_id, person, False)

    async def room_leave(call: Call, payload: RoomRef) -> dict[str, Any]:
        await realtime.detach(call.sid, rooms.room_channel(payload.lesson_id))
        await realtime.detach(call.sid, rooms.staff_channel(payload.lesson_id))
        await realtime.detach(call.sid, rooms.ink_channel(payload.lesson_id))
        await leave_media(services, payload.lesson_id, call.sid)
        await leave(call.sid, principal_of(call), payload.lesson_id)
        return {"lesson_id": payload.lesson_id}

    async def on_disconnect(sid: str, principal: Any) -> None:
        # Only connections that entered a room have visits to close: the others cost nothing.
        if sid in visiting and isinstance(principal, Principal):
            visiting.discard(sid)
            await leave(sid, principal, None)

    realtime.on_disconnect(on_disconnect)

    async def chat_send(call: Call, payload: ChatSend) -> ChatSent:
        require_member(call, payload.lesson_id)
        principal = principal_of(call)
        room = await room_of(call, payload.lesson_id)

        async def publish(view: MessageView) -> tuple[int, bool]:
            # Its store is queued as soon as this returns (``chat.post``), before a room
            # entry waiting for it (``publishing.done``) goes on.
            with publishing.doing(view.lesson_id):
                return await publish_to_channels(view)

        async def publish_to_channels(view: MessageView) -> tuple[int, bool]:
            channels = (
                [rooms.room_channel(view.lesson_id)]
                if view.to is None
                else [rooms.user_channel(view.author.id), rooms.user_channel(view.to.id)]
            )
            if view.to is not None:
                # Before the message: the nodes no longer take the room for an empty one.
                await realtime.publish(
                    rooms.room_channel(view.lesson_id), PRIVATE_CHAT_EVENT, {"id": view.id}
                )
            if view.client_id is None:
                offsets = [await realtime.publish(c, chat.MESSAGE_EVENT, view) for c in channels]
                return offsets[-1], True
            key = f"chat:{view.lesson_id}:{view.author.id}:{view.client_id}"
            answers = [
                await realtime.publish_once(c, chat.MESSAGE_EVENT, view, key) for c in channels
            ]
            return answers[-1]  # a private message's offset is on the recipient's channel

        me = await author_in(room.lesson.id, principal.person_id)
        view, offset = await chat.post(
            db,
            room,
            me,
            principal,
            payload.text,
            state=room.state(now(), times),
            to_id=payload.to,
            client_id=payload.client_id,
            now=now(),
            publish=publish,
            store=posts.submit,
        )
        return ChatSent(id=view.id, offset=offset, repeated=offset is None)

    async def chat_delete(call: Call, payload: ChatDelete) -> dict[str, Any]:
        require_member(call, payload.lesson_id)
        room = await room_of(call, payload.lesson_id)
        await chat.delete(db, room, principal_of(call), payload.message_id, now())
        await realtime.publish(
            rooms.room_channel(room.lesson.id),
            chat.DELETED_EVENT,
            {"lesson_id": room.lesson.id, "id": payload.message_id},
        )
        return {"id": payload.message_id}

    async def hand_set(call: Call, payload: HandSet) -> HandView:
        require_member(call, payload.lesson_id)
        room = await room_of(call, payload.lesson_id)
        hand = await hands.set_hand(
            db,
            principal_of(call),
            room,
            raised=payload.raised,
            person_id=payload.person_id,
            now=now(),
        )
        await realtime.publish(rooms.room_channel(room.lesson.id), hands.CHANGED_EVENT, hand)
        return hand

    async def reaction_send(call: Call, payload: ReactionSend) -> dict[str, Any]:
        require_member(call, payload.lesson_id)
        me = await authors.of(principal_of(call).person_id)
        await realtime.publish(
            rooms.room_channel(payload.lesson_id),
            "reaction",
            {"lesson_id": payload.lesson_id, "person": me, "kind": payload.kind, "at": now()},
        )
        return {"kind": payload.kind}

    async def room_control(call: Call, payload: RoomControl) -> RoomStatus:
        require_member(call, payload.lesson_id)
        principal = principal_of(call)
        room = await room_of(call, payload.lesson_id)
        if payload.action == "end":
            await rooms.end_room(db, principal, room, now=now())
            await end_media(services, room.lesson.id)
        else:
            await rooms.set_switches(db, principal, room, SWITCHES[payload.action])
            if payload.action in {"mute_all", "unmute_all"}:
                await mute_all(
                    services, room.lesson.id, principal.person_id, payload.action == "mute_all"
                )
        room = await fresh_room_of(call, payload.lesson_id)
        await publish_status(room)
        return status(room)

    async def room_remove(call: Call, payload: PersonAction) -> dict[str, Any]:
        require_member(call, payload.lesson_id)
        room = await room_of(call, payload.lesson_id)
        await rooms.remove_participant(db, principal_of(call), room, payload.person_id, now=now())
        await room_changed(services, room.lesson.id)
        await realtime.publish(
            rooms.room_channel(room.lesson.id),
            EVICT_EVENT,
            {"member": member_key_of(payload.person_id), "person_id": payload.person_id},
        )
        await visits.remove_person(
            db, lesson_id=room.lesson.id, person_id=payload.person_id, now=now()
        )
        await drop_media_of(services, room.lesson.id, payload.person_id)
        removed = await authors.of(payload.person_id)
        await publish_presence(room.lesson.id, removed, False)
        return {"person_id": payload.person_id}

    async def link_revoke(call: Call, payload: PersonAction) -> dict[str, Any]:
        room = await room_of(call, payload.lesson_id)
        generation = await rooms.revoke_link(db, principal_of(call), room, payload.person_id)
        await room_changed(services, room.lesson.id)
        return {"person_id": payload.person_id, "generation": generation}

    router.register(
        "room.join",
        RoomJoin,
        room_join,
        rate=Rate(2, 10),
        summary="Enter a lesson's room (students with their join link); replays since an offset.",
    )
    router.register("room.leave", RoomRef, room_leave, summary="Leave a lesson's room.")
    router.register(
        "chat.send",
        ChatSend,
        chat_send,
        rate=Rate(1, 5),
        summary="Send a chat message to the room, or privately between teacher and student.",
    )
    router.register(
        "chat.delete", ChatDelete, chat_delete, rate=Rate(2, 10), summary="Delete a message."
    )
    router.register(
        "hand.set", HandSet, hand_set, rate=Rate(1, 4), summary="Raise or lower a hand."
    )
    router.register(
        "reaction.send",
        ReactionSend,
        reaction_send,
        rate=Rate(0.5, 3),
        summary="Show a reaction to the room.",
    )
    router.register(
        "room.control",
        RoomControl,
        room_control,
        rate=Rate(2, 10),
        summary="Lock the room or its chat, mute everyone, or end the lesson (teacher).",
    )
    router.register(
        "room.remove",
        PersonAction,
        room_remove,
        rate=Rate(2, 10),
        summary="Remove a student from the lesson for good (teacher).",
    )
    router.register(
        "link.revoke",
        PersonAction,
        link_revoke,
        rate=Rate(2, 10),
        summary="Revoke a student's join link for the lesson (teacher).",
    )


def member_key_of(person_id: int) -> str:
    """The eviction key of a person's connections."""
    return f"person:{person_id}"


def member_key(principal: Any) -> str:
    return member_key_of(principal.person_id) if isinstance(principal, Principal) else ""
