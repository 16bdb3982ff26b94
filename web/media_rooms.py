"""Where a lesson's media lives, and the operations its owner runs.

Every lesson's media room lives in exactly one process. With no media workers
(``UROK_MEDIA_WORKERS=0``, one server process) that is the server process itself. With M media
workers the lesson belongs to worker ``lesson_id % M``: a socket process checks who is asking
(room membership, the lesson being live, the teacher) and relays the operation over Redis to
the owner, which runs the peer connections and publishes the room's media events on the room
channel, from where every socket process delivers them.

``MediaOps`` is the owner's side; ``MediaRooms`` is what the socket process calls, whichever
process owns the room. Both sides go through the same operations, so the rules are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from classroom import errors
from classroom.errors import DomainError
from media.frames import Kind
from media.server import MediaServer
from realtime.bus.rpc import RedisRequests, RequestFailed
from recordings.recorder import Recorder

log = logging.getLogger(__name__)

Announce = Callable[[int, str, Any], Awaitable[Any]]
"""Publishes ``(lesson id, event, data)`` on the lesson's room channel."""

ERROR_TYPES: dict[str, type[DomainError]] = {
    cls.__name__: cls
    for cls in (
        DomainError,
        errors.InvalidInput,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
    )
}


class MediaUnavailable(DomainError):
    """The media worker of a lesson did not answer."""

    code = "media_unavailable"


def worker_name(index: int) -> str:
    return f"media:{index}"


def owner_of(lesson_id: int, workers: int) -> int:
    """The media worker that owns a lesson's room: stable while the number of workers is."""
    return lesson_id % workers


class Request(msgspec.Struct, frozen=True):
    op: str
    lesson_id: int
    args: dict[str, Any]


class Reply(msgspec.Struct, frozen=True, omit_defaults=True):
    result: Any = None
    error: str = ""
    code: str = ""
    message: str = ""


class MediaOps:
    """The operations on the rooms of one media server, run in the process that owns them."""

    OPS = frozenset(
        {
            "publish",
            "unpublish",
            "subscribe",
            "unsubscribe",
            "listing",
            "audio_only",
            "allow",
            "mute",
            "mute_all",
            "drop_person",
            "leave",
            "end",
            "record",
            "record_stop",
        }
    )

    def __init__(self, media: MediaServer, announce: Announce) -> None:
        self.media = media
        self._announce = announce
        self.recorders: dict[int, tuple[int, Recorder]] = {}
        """Per lesson: the recording under way (its id) and its recorder."""
        media.set_publisher_gone(self.publisher_gone)
        media.set_speaker_changed(self.speaker_changed)
        media.set_room_closing(self.room_closing)

    async def publisher_gone(self, lesson_id: int, person_id: int) -> None:
        data = {"lesson_id": lesson_id, "person_id": person_id}
        await self._announce(lesson_id, "media.unpublished", data)

    async def speaker_changed(self, lesson_id: int, person_id: int | None) -> None:
        data = {"lesson_id": lesson_id, "person_id": person_id}
        await self._announce(lesson_id, "media.speaking", data)

    async def room_closing(self, lesson_id: int) -> None:
        """A room closes by its timer: finish its recording's file (the background sweep
        closes the row later)."""
        await self.record_stop(lesson_id)

    async def run(self, op: str, lesson_id: int, args: dict[str, Any]) -> Any:
        if op not in self.OPS:
            raise errors.InvalidInput(f"unknown media operation {op!r}")
        method: Callable[..., Awaitable[Any]] = getattr(self, op)
        try:
            return await method(lesson_id, **args)
        except TypeError as exc:
            raise errors.InvalidInput(f"bad arguments of {op}: {exc}") from exc

    async def handle(self, body: bytes) -> bytes:
        """A relayed request in, its reply out (domain errors travel with their code)."""
        try:
            request = msgspec.msgpack.decode(body, type=Request)
            result = await self.run(request.op, request.lesson_id, request.args)
            reply = Reply(result=result)
        except msgspec.DecodeError as exc:
            reply = Reply(error="InvalidInput", code="invalid_input", message=str(exc))
        except DomainError as exc:
            name = type(exc).__name__ if type(exc).__name__ in ERROR_TYPES else "DomainError"
            reply = Reply(error=name, code=exc.code, message=exc.message)
        return msgspec.msgpack.encode(reply)

    def _live(self, lesson_id: int, closes_in: float) -> Any:
        self.media.close_room_after(lesson_id, closes_in)
        return self.media.room(lesson_id)

    # -- the operations (``lesson_id`` first; every other argument by name) ------------------

    async def publish(
        self,
        lesson_id: int,
        *,
        closes_in: float,
        person_id: int,
        connection: str,
        sdp: str,
        teacher: bool,
        name: str,
    ) -> str:
        room = self._live(lesson_id, closes_in)
        answer: str = await room.publish(person_id, connection, sdp, teacher=teacher, name=name)
        recording = self.recorders.get(lesson_id)
        if recording is not None and recording[1].person_id == person_id:
            recording[1].attach(room.publishers[person_id].publications)
        view = room.view(room.publishers[person_id])
        published = {"lesson_id": lesson_id, **msgspec.to_builtins(view)}
        await self._announce(lesson_id, "media.published", published)
        return answer

    async def unpublish(self, lesson_id: int, *, person_id: int) -> None:
        room = self.media.rooms.get(lesson_id)
        if room is not None and await room.unpublish(person_id):
            await self.publisher_gone(lesson_id, person_id)

    async def subscribe(
        self,
        lesson_id: int,
        *,
        closes_in: float,
        connection: str,
        person_id: int,
        sdp: str,
        subscriber_id: int,
    ) -> str:
        room = self._live(lesson_id, closes_in)
        answer: str = await room.subscribe(connection, person_id, sdp, subscriber_id=subscriber_id)
        return answer

    async def unsubscribe(self, lesson_id: int, *, connection: str, person_id: int) -> None:
        room = self.media.rooms.get(lesson_id)
        if room is not None:
            await room.unsubscribe(connection, person_id)

    async def listing(
        self, lesson_id: int, *, closes_in: float, connection: str, person_id: int, teacher: bool
    ) -> dict[str, Any]:
        room = self._live(lesson_id, closes_in)
        return {
            "lesson_id": lesson_id,
            "publishers": msgspec.to_builtins(room.views()),
            "may_publish": room.stage.may_publish(person_id, teacher=teacher),
            "audio_only": connection in room.audio_only,
            "speaking": room.speakers.current,
            "allowed": sorted(room.stage.allowed) if teacher else [],
            "recording": lesson_id in self.recorders,
        }

    async def audio_only(
        self, lesson_id: int, *, closes_in: float, connection: str, audio_only: bool
    ) -> int:
        changed: int = self._live(lesson_id, closes_in).set_audio_only(connection, audio_only)
        return changed

    async def allow(
        self, lesson_id: int, *, closes_in: float, person_id: int, allowed: bool, teacher: bool
    ) -> None:
        room = self._live(lesson_id, closes_in)
        room.stage.allow(person_id, allowed, by_teacher=teacher)
        if not allowed and await room.unpublish(person_id):
            await self.publisher_gone(lesson_id, person_id)
        data = {"lesson_id": lesson_id, "person_id": person_id, "allowed": allowed}
        await self._announce(lesson_id, "media.allowed", data)

    async def mute(
        self,
        lesson_id: int,
        *,
        closes_in: float,
        person_id: int,
        kinds: list[Kind],
        muted: bool,
        teacher: bool,
    ) -> list[str]:
        room = self._live(lesson_id, closes_in)
        now = room.stage.mute(person_id, tuple(kinds), muted, by_teacher=teacher)
        room.set_muted(person_id, now)
        data = {"lesson_id": lesson_id, "person_id": person_id, "muted": sorted(now)}
        await self._announce(lesson_id, "media.muted", data)
        return sorted(now)

    async def mute_all(self, lesson_id: int, *, teacher_id: int, muted: bool) -> None:
        room = self.media.rooms.get(lesson_id)
        if room is None:
            return
        for person_id in room.set_all_muted({"audio"}, muted, except_id=teacher_id):
            now = sorted(room.stage.muted_kinds(person_id))
            data = {"lesson_id": lesson_id, "person_id": person_id, "muted": now}
            await self._announce(lesson_id, "media.muted", data)

    async def drop_person(self, lesson_id: int, *, person_id: int) -> None:
        room = self.media.rooms.get(lesson_id)
        if room is not None and await room.drop_person(person_id):
            await self.publisher_gone(lesson_id, person_id)

    async def leave(self, lesson_id: int, *, connection: str) -> None:
        for person_id in await self.media.leave(lesson_id, connection):
            await self.publisher_gone(lesson_id, person_id)

    async def end(self, lesson_id: int) -> dict[str, Any] | None:
        """Close the lesson's media; returns the recording it stopped, if one ran."""
        stopped = await self.record_stop(lesson_id)
        await self.media.close_room(lesson_id)
        return stopped

    async def record(
        self, lesson_id: int, *, closes_in: float, recording_id: int, person_id: int, path: str
    ) -> None:
        """Start recording ``person_id``'s media (now, or as soon as they publish)."""
        if lesson_id in self.recorders:
            raise errors.Conflict("the lesson is being recorded already", code="already_recording")
        room = self._live(lesson_id, closes_in)
        recorder = Recorder(Path(path), person_id)
        self.recorders[lesson_id] = (recording_id, recorder)
        publisher = room.publishers.get(person_id)
        if publisher is not None:
            recorder.attach(publisher.publications)
        data = {"lesson_id": lesson_id, "recording": True, "recording_id": recording_id}
        await self._announce(lesson_id, "recording.state", data)

    async def record_stop(self, lesson_id: int) -> dict[str, Any] | None:
        """Stop the lesson's recording: its id, file size and seconds (``None``: none ran)."""
        running = self.recorders.pop(lesson_id, None)
        if running is None:
            return None
        recording_id, recorder = running
        recorded = await recorder.stop()
        data = {"lesson_id": lesson_id, "recording": False, "recording_id": recording_id}
        await self._announce(lesson_id, "recording.state", data)
        return {"recording_id": recording_id, "size": recorded.size, "duration": recorded.duration}


class MediaRooms:
    """The socket process's way to a lesson's media room, wherever it lives.

    Local (``ops`` given): the operations run in this process. Remote (``requests`` and
    ``workers`` given): each goes to the owning media worker and its reply (or its domain
    error, with the same code) comes back. It remembers which lessons a connection had media
    in, so that a disconnect reaches every owner.
    """

    def __init__(
        self,
        *,
        ops: MediaOps | None = None,
        requests: RedisRequests | None = None,
        workers: int = 0,
    ) -> None:
        if ops is None and (requests is None or workers < 1):
            raise ValueError("media rooms need local operations or requests to media workers")
        self.ops = ops
        self.requests = requests
        self.workers = workers
        self._lessons_of: dict[str, set[int]] = {}

    async def run(self, op: str, lesson_id: int, **args: Any) -> Any:
        connection = args.get("connection")
        if isinstance(connection, str) and op != "leave":
            self._lessons_of.setdefault(connection, set()).add(lesson_id)
        if self.ops is not None:
            return await self.ops.run(op, lesson_id, args)
        assert self.requests is not None
        body = msgspec.msgpack.encode(Request(op, lesson_id, args))
        worker = owner_of(lesson_id, self.workers)
        try:
            raw = await self.requests.call(worker_name(worker), body)
        except RequestFailed as exc:
            log.warning("media worker %d did not answer %s: %s", worker, op, exc)
            raise MediaUnavailable(
                "the lesson's media server is not available; try again shortly"
            ) from exc
        reply = msgspec.msgpack.decode(raw, type=Reply)
        if reply.error:
            error = ERROR_TYPES.get(reply.error, DomainError)(reply.message, code=reply.code)
            raise error
        return reply.result

    async def leave(self, lesson_id: int, connection: str) -> None:
        """A connection left a lesson's room: close its media there (if it had any)."""
        lessons = self._lessons_of.get(connection)
        if lessons is None or lesson_id not in lessons:
            return
        lessons.discard(lesson_id)
        if not lessons:
            del self._lessons_of[connection]
        await self.run("leave", lesson_id, connection=connection)

    async def disconnected(self, connection: str) -> None:
        """A client connection is gone: close its media in every lesson it had some."""
        for lesson_id in sorted(self._lessons_of.pop(connection, set())):
            try:
                await self.run("leave", lesson_id, connection=connection)
            except DomainError as exc:
                log.warning("could not close a connection's media in lesson %d: %s", lesson_id, exc)
