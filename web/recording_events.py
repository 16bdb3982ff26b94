"""Socket.IO events of lesson recordings: the teacher starts and stops recording.

The row is kept here (the database), the file is written by the process that owns the
lesson's media; every member hears ``recording.state`` on the room channel from there.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from classroom import rooms
from classroom.errors import DomainError, Forbidden
from classroom.rooms import RoomState
from realtime.router import Call, EventRouter, Rate
from recordings import store
from recordings.store import RecordingView
from web.events import LessonId, principal_of
from web.media_rooms import MediaRooms
from web.services import Services

log = logging.getLogger(__name__)


class RecordingRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId


async def finish_stopped(services: Services, stopped: Any) -> RecordingView | None:
    """Close the row of a recording the media owner stopped (``record_stop``/``end`` reply)."""
    if not isinstance(stopped, dict):
        return None
    return await store.finish(
        services.db,
        int(stopped["recording_id"]),
        now=services.clock(),
        size=int(stopped["size"]),
        duration=float(stopped["duration"]),
        events=services.events,
    )


def register_recording_events(router: EventRouter, services: Services, media: MediaRooms) -> None:
    realtime = services.realtime

    async def teacher_room(call: Call, lesson_id: int) -> tuple[rooms.Room, float]:
        if call.sid not in realtime.members(rooms.room_channel(lesson_id)):
            raise Forbidden("join the lesson room first", code="not_in_room")
        principal = principal_of(call)
        room = await rooms.load_room(services.db, lesson_id, principal.school_id)
        if not rooms.is_teacher(room, principal):
            raise Forbidden("only the lesson's teacher records it", code="not_teacher")
        now, times = services.clock(), services.settings.room_times
        if room.state(now, times) is not RoomState.LIVE:
            raise Forbidden("the lesson is not live", code="room_not_live")
        return room, (room.closes_at(times) - now).total_seconds()

    async def start(call: Call, payload: RecordingRef) -> RecordingView:
        room, closes_in = await teacher_room(call, payload.lesson_id)
        data_dir = services.settings.data_dir.resolve()
        view, relative = await store.begin(
            services.db, principal_of(call), room, now=services.clock()
        )
        try:
            await media.run(
                "record",
                payload.lesson_id,
                closes_in=closes_in,
                recording_id=view.id,
                person_id=room.lesson.teacher_id,
                path=str(data_dir / relative),
            )
        except DomainError:
            await store.discard(services.db, data_dir, view.id)
            raise
        log.info("recording %d of lesson %d started", view.id, payload.lesson_id)
        return view

    async def stop(call: Call, payload: RecordingRef) -> RecordingView:
        await teacher_room(call, payload.lesson_id)
        stopped = await media.run("record_stop", payload.lesson_id)
        view = await finish_stopped(services, stopped)
        if view is None:
            raise Forbidden("the lesson is not being recorded", code="not_recording")
        log.info("recording %d of lesson %d stopped", view.id, payload.lesson_id)
        return view

    router.register(
        "recording.start",
        RecordingRef,
        start,
        rate=Rate(1, 5),
        summary="Start recording the lesson (its teacher): the teacher's camera and microphone "
        "into WebM; everyone hears recording.state.",
    )
    router.register(
        "recording.stop",
        RecordingRef,
        stop,
        rate=Rate(1, 5),
        summary="Stop recording the lesson (its teacher); the reply is the finished recording.",
    )
