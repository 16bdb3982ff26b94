"""Socket.IO events of lesson video: publishing, subscribing and the teacher's media controls.

Signalling rides on the lesson room's connection. Offers must carry their ICE candidates
(the media server does not trickle): clients wait for ICE gathering to complete first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated, Any, Literal

import msgspec

from classroom import rooms
from classroom.errors import DomainError, Forbidden
from classroom.rooms import Room, RoomState
from media.server import PublisherView
from realtime.router import Call, EventRouter, Rate
from web.events import LessonId, PersonId, principal_of
from web.media_rooms import MediaRooms
from web.services import Services

log = logging.getLogger(__name__)

MAX_SDP_LENGTH = 12_000

Sdp = Annotated[str, msgspec.Meta(min_length=10, max_length=MAX_SDP_LENGTH)]
KindName = Literal["audio", "video"]
Kinds = Annotated[list[KindName], msgspec.Meta(min_length=1, max_length=2)]


class MediaPublish(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    sdp: Sdp


class MediaSubscribe(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    person_id: PersonId
    sdp: Sdp


class MediaRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId


class MediaPersonRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    person_id: PersonId


class MediaAudioOnly(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    audio_only: bool


class MediaAllow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    person_id: PersonId
    allowed: bool


class MediaMute(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    person_id: PersonId
    muted: bool
    kinds: Kinds = msgspec.field(default_factory=lambda: ["audio", "video"])


class Answer(msgspec.Struct, frozen=True):
    sdp: str
    type: str = "answer"


class MediaState(msgspec.Struct, frozen=True):
    """The reply to ``media.list``: who publishes, and whether the caller may."""

    lesson_id: int
    publishers: list[PublisherView]
    may_publish: bool
    audio_only: bool
    """Whether this connection receives audio only (``media.audio_only``)."""
    speaking: int | None
    """Who is speaking now, as in ``media.speaking``."""
    allowed: list[int]
    """Students allowed to publish (for the teacher; empty for others)."""
    recording: bool = False
    """Whether the lesson is being recorded (``recording.state``)."""


class MediaMuted(msgspec.Struct, frozen=True):
    lesson_id: int
    person_id: int
    muted: list[str]


def register_media_events(router: EventRouter, services: Services, media: MediaRooms) -> None:
    realtime = services.realtime

    def require_member(call: Call, lesson_id: int) -> None:
        if call.sid not in realtime.members(rooms.room_channel(lesson_id)):
            raise Forbidden("join the lesson room first", code="not_in_room")

    async def live_room(call: Call, lesson_id: int) -> tuple[Room, float, bool]:
        """The live lesson, seconds until it closes, and whether the caller is its teacher."""
        require_member(call, lesson_id)
        principal = principal_of(call)
        room = await rooms.load_room(services.db, lesson_id, principal.school_id)
        now, times = services.clock(), services.settings.room_times
        if room.state(now, times) is not RoomState.LIVE:
            raise Forbidden("the lesson is not live", code="room_not_live")
        closes_in = (room.closes_at(times) - now).total_seconds()
        return room, closes_in, rooms.is_teacher(room, principal)

    async def publish(call: Call, payload: MediaPublish) -> Answer:
        _, closes_in, teacher = await live_room(call, payload.lesson_id)
        person_id = principal_of(call).person_id
        author = await rooms.author_of(services.db, person_id)
        sdp = await media.run(
            "publish",
            payload.lesson_id,
            closes_in=closes_in,
            person_id=person_id,
            connection=call.sid,
            sdp=payload.sdp,
            teacher=teacher,
            name=author.display_name,
        )
        return Answer(sdp)

    async def unpublish(call: Call, payload: MediaRef) -> dict[str, Any]:
        require_member(call, payload.lesson_id)
        await media.run("unpublish", payload.lesson_id, person_id=principal_of(call).person_id)
        return {"lesson_id": payload.lesson_id}

    async def subscribe(call: Call, payload: MediaSubscribe) -> Answer:
        _, closes_in, _ = await live_room(call, payload.lesson_id)
        sdp = await media.run(
            "subscribe",
            payload.lesson_id,
            closes_in=closes_in,
            connection=call.sid,
            person_id=payload.person_id,
            sdp=payload.sdp,
            subscriber_id=principal_of(call).person_id,
        )
        return Answer(sdp)

    async def unsubscribe(call: Call, payload: MediaPersonRef) -> dict[str, Any]:
        require_member(call, payload.lesson_id)
        await media.run(
            "unsubscribe", payload.lesson_id, connection=call.sid, person_id=payload.person_id
        )
        return {"lesson_id": payload.lesson_id, "person_id": payload.person_id}

    async def listing(call: Call, payload: MediaRef) -> MediaState:
        _, closes_in, teacher = await live_room(call, payload.lesson_id)
        state = await media.run(
            "listing",
            payload.lesson_id,
            closes_in=closes_in,
            connection=call.sid,
            person_id=principal_of(call).person_id,
            teacher=teacher,
        )
        return msgspec.convert(state, MediaState)

    async def audio_only(call: Call, payload: MediaAudioOnly) -> dict[str, Any]:
        _, closes_in, _ = await live_room(call, payload.lesson_id)
        changed = await media.run(
            "audio_only",
            payload.lesson_id,
            closes_in=closes_in,
            connection=call.sid,
            audio_only=payload.audio_only,
        )
        return {
            "lesson_id": payload.lesson_id,
            "audio_only": payload.audio_only,
            "subscriptions": changed,
        }

    async def allow(call: Call, payload: MediaAllow) -> dict[str, Any]:
        _, closes_in, teacher = await live_room(call, payload.lesson_id)
        await media.run(
            "allow",
            payload.lesson_id,
            closes_in=closes_in,
            person_id=payload.person_id,
            allowed=payload.allowed,
            teacher=teacher,
        )
        return {
            "lesson_id": payload.lesson_id,
            "person_id": payload.person_id,
            "allowed": payload.allowed,
        }

    async def mute(call: Call, payload: MediaMute) -> MediaMuted:
        _, closes_in, teacher = await live_room(call, payload.lesson_id)
        now = await media.run(
            "mute",
            payload.lesson_id,
            closes_in=closes_in,
            person_id=payload.person_id,
            kinds=list(payload.kinds),
            muted=payload.muted,
            teacher=teacher,
        )
        return MediaMuted(payload.lesson_id, payload.person_id, list(now))

    async def on_disconnect(sid: str, _principal: Any) -> None:
        await media.disconnected(sid)

    realtime.on_disconnect(on_disconnect)

    signalling = Rate(2, 10)
    router.register(
        "media.publish",
        MediaPublish,
        publish,
        rate=signalling,
        summary="Publish camera and microphone: an SDP offer (VP8, Opus) in, the answer out.",
    )
    router.register("media.unpublish", MediaRef, unpublish, summary="Stop publishing.")
    router.register(
        "media.subscribe",
        MediaSubscribe,
        subscribe,
        rate=signalling,
        summary=(
            "Receive a publisher: a receive-only offer in, the answer out; again to renegotiate."
        ),
    )
    router.register(
        "media.unsubscribe", MediaPersonRef, unsubscribe, summary="Stop receiving a publisher."
    )
    router.register(
        "media.list", MediaRef, listing, rate=Rate(2, 10), summary="Who publishes, and may I."
    )
    router.register(
        "media.audio_only",
        MediaAudioOnly,
        audio_only,
        rate=Rate(2, 10),
        summary=(
            "Receive audio only (a weak connection): the server stops sending this connection "
            "video from every publisher until it is turned off again."
        ),
    )
    router.register(
        "media.allow",
        MediaAllow,
        allow,
        rate=Rate(2, 10),
        summary="Allow or forbid a student to publish (teacher); forbidding stops their media.",
    )
    router.register(
        "media.mute",
        MediaMute,
        mute,
        rate=Rate(2, 10),
        summary="Mute or unmute a person's audio or video for everyone (teacher, enforced).",
    )


async def _quietly(what: str, work: Awaitable[Any]) -> None:
    """Room upkeep that must not fail the room event that caused it (a worker may be down)."""
    try:
        await work
    except DomainError as exc:
        log.warning("could not %s: %s", what, exc.code)


async def mute_all(services: Services, lesson_id: int, teacher_id: int, muted: bool) -> None:
    """``room.control`` mute_all: mute every other publisher's audio in the media server."""
    if services.media_rooms is not None:
        work = services.media_rooms.run("mute_all", lesson_id, teacher_id=teacher_id, muted=muted)
        await _quietly("mute every publisher", work)


async def drop_media_of(services: Services, lesson_id: int, person_id: int) -> None:
    """A person removed from the lesson: close their media there and tell the room."""
    if services.media_rooms is not None:
        work = services.media_rooms.run("drop_person", lesson_id, person_id=person_id)
        await _quietly("close a removed person's media", work)


async def leave_media(services: Services, lesson_id: int, connection: str) -> None:
    """A connection left the room (``room.leave``): close its media there."""
    if services.media_rooms is not None:
        await _quietly(
            "close a leaving connection's media", services.media_rooms.leave(lesson_id, connection)
        )


async def end_media(services: Services, lesson_id: int) -> None:
    """The lesson ended: close every peer connection of its room."""
    if services.media_rooms is None:
        return
    try:
        stopped = await services.media_rooms.run("end", lesson_id)
    except DomainError as exc:
        log.warning("could not close an ended lesson's media: %s", exc.code)
        return
    from web.recording_events import finish_stopped

    await finish_stopped(services, stopped)
