"""The media server: rooms of publishers and subscribers, forwarding encoded media.

Transport-free: the caller (``web.media_events``) checks who is in which lesson and names
people by id and connections by an opaque string.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import msgspec

from classroom.errors import InvalidInput, NotFound
from media import aiortc_hooks
from media.config import MediaConfig, use_loopback_only
from media.frames import Kind
from media.peers import Publisher, Subscription, answer, watch
from media.sdp import offered_kinds
from media.speaking import SpeakerTracker
from media.stage import Stage

log = logging.getLogger(__name__)

PublisherGone = Callable[[int, int], Awaitable[None]]
"""Called with (room id, person id) when a publisher's connection ends by itself."""

RoomClosing = Callable[[int], Awaitable[None]]
"""Called with the room id just before a room's media is closed (ended, or its time ran out)."""

SpeakerChanged = Callable[[int, int | None], Awaitable[None]]
"""Called with (room id, person id or None) when the room's active speaker changes."""

SPEAKING_INTERVAL = 0.5
"""Seconds between looks at the publishers' audio levels: at most two changes a second."""


class PublisherView(msgspec.Struct, frozen=True):
    person_id: int
    kinds: list[str]
    muted: list[str]
    display_name: str


class MediaRoom:
    """The publishers and subscriptions of one lesson."""

    def __init__(self, room_id: int, stage: Stage, server: MediaServer) -> None:
        self.room_id = room_id
        self.stage = stage
        self._server = server
        self.publishers: dict[int, Publisher] = {}
        self.subscriptions: dict[tuple[str, int], Subscription] = {}
        self.audio_only: set[str] = set()
        """Connections that receive no video (weak connections): the server sends none."""
        self.speakers = SpeakerTracker()
        self._speaking: asyncio.Task[None] | None = None

    def views(self) -> list[PublisherView]:
        return [self.view(publisher) for publisher in self.publishers.values()]

    def view(self, publisher: Publisher) -> PublisherView:
        return PublisherView(
            publisher.person_id,
            sorted(publisher.publications),
            sorted(self.stage.muted_kinds(publisher.person_id)),
            publisher.name,
        )

    async def publish(
        self,
        person_id: int,
        connection: str,
        offer: str,
        *,
        teacher: bool = False,
        name: str = "",
    ) -> str:
        """Answer a publisher's offer (replacing what the person published before)."""
        self.stage.check_publish(person_id, teacher=teacher)
        kinds = offered_kinds(offer, publishing=True)
        while person_id in self.publishers:  # a loop: another offer may come in meanwhile
            await self.unpublish(person_id)
        config = self._server.config
        publisher = Publisher.create(
            person_id, connection, kinds, config, self._server.record_latency
        )
        publisher.name = name
        for kind in self.stage.muted_kinds(person_id):
            if kind in publisher.publications:
                publisher.publications[kind].set_muted(True)
        self.publishers[person_id] = publisher
        self._server.note_connection(connection, self.room_id)
        self._watch_speakers()

        async def closed() -> None:
            if self.publishers.get(person_id) is publisher:
                await self.unpublish(person_id)
                await self._server.publisher_gone(self.room_id, person_id)

        watch(publisher.pc, closed)
        try:
            return await answer(publisher.pc, offer)
        except Exception as exc:
            if self.publishers.get(person_id) is publisher:  # not already replaced
                await self.unpublish(person_id)
            else:
                await publisher.close()
            raise InvalidInput(f"the offer was refused: {exc}", code="bad_sdp") from exc

    async def unpublish(self, person_id: int) -> bool:
        publisher = self.publishers.pop(person_id, None)
        if publisher is None:
            return False
        for key, subscription in list(self.subscriptions.items()):
            if subscription.publisher is publisher:
                del self.subscriptions[key]
                await subscription.close()
        await publisher.close()
        return True

    async def subscribe(
        self, connection: str, person_id: int, offer: str, *, subscriber_id: int = 0
    ) -> str:
        """Answer a subscriber's offer to receive one publisher (replacing an earlier one)."""
        publisher = self.publishers.get(person_id)
        if publisher is None:
            raise NotFound("this person is not publishing", code="not_publishing")
        kinds = offered_kinds(offer, publishing=False)
        while (connection, person_id) in self.subscriptions:
            await self.unsubscribe(connection, person_id)
        if self.publishers.get(person_id) is not publisher:
            raise NotFound("this person stopped publishing", code="not_publishing")
        subscription = Subscription.create(connection, publisher, kinds, self._server.config)
        subscription.subscriber_id = subscriber_id
        if connection in self.audio_only:
            subscription.pause_video(True)
        key = (connection, person_id)
        self.subscriptions[key] = subscription
        self._server.note_connection(connection, self.room_id)

        async def closed() -> None:
            if self.subscriptions.get(key) is subscription:
                await self.unsubscribe(connection, person_id)

        watch(subscription.pc, closed)
        try:
            return await answer(subscription.pc, offer)
        except Exception as exc:
            if self.subscriptions.get(key) is subscription:  # not already replaced
                await self.unsubscribe(connection, person_id)
            else:
                await subscription.close()
            raise InvalidInput(f"the offer was refused: {exc}", code="bad_sdp") from exc

    async def unsubscribe(self, connection: str, person_id: int) -> bool:
        subscription = self.subscriptions.pop((connection, person_id), None)
        if subscription is None:
            return False
        await subscription.close()
        return True

    def set_audio_only(self, connection: str, audio_only: bool) -> int:
        """Send ``connection`` no video (or video again) from every publisher it receives,
        now and in later subscriptions; returns how many subscriptions it changed."""
        if audio_only:
            self.audio_only.add(connection)
            self._server.note_connection(connection, self.room_id)
        else:
            self.audio_only.discard(connection)
        changed = 0
        for (held, _), subscription in self.subscriptions.items():
            if held == connection:
                subscription.pause_video(audio_only)
                changed += 1
        return changed

    # -- who is speaking ------------------------------------------------------------------

    def levels(self, now: float) -> dict[int, float]:
        """Each publisher's smoothed audio loudness now (muted audio is not measured)."""
        levels = {}
        for person_id, publisher in self.publishers.items():
            audio = publisher.publications.get("audio")
            if audio is not None and audio.meter is not None and not audio.muted:
                levels[person_id] = audio.meter.current(now)
        return levels

    def _watch_speakers(self) -> None:
        if self._speaking is None or self._speaking.done():
            self._speaking = asyncio.ensure_future(self._speaker_loop())

    async def _speaker_loop(self) -> None:
        while True:
            await asyncio.sleep(SPEAKING_INTERVAL)
            if self.speakers.update(self.levels(time.monotonic())):
                try:
                    await self._server.speaker_changed(self.room_id, self.speakers.current)
                except Exception:
                    log.exception("could not announce the speaker of room %s", self.room_id)
            if not self.publishers and self.speakers.current is None:
                return  # started again by the next publisher

    def set_muted(self, person_id: int, kinds: set[Kind]) -> None:
        """Forward only the kinds of ``person_id`` not in ``kinds``."""
        publisher = self.publishers.get(person_id)
        if publisher is None:
            return
        for kind, publication in publisher.publications.items():
            publication.set_muted(kind in kinds)

    def set_all_muted(self, kinds: set[Kind], muted: bool, *, except_id: int) -> list[int]:
        """Mute (or unmute) ``kinds`` of every publisher but ``except_id``; returns whom."""
        changed = []
        for person_id in list(self.publishers):
            if person_id != except_id:
                now = self.stage.mute(person_id, tuple(kinds), muted, by_teacher=True)
                self.set_muted(person_id, now)
                changed.append(person_id)
        return changed

    async def drop_person(self, person_id: int) -> bool:
        """Close a person's publishing and subscriptions (they were removed from the lesson)."""
        for key, subscription in list(self.subscriptions.items()):
            if subscription.subscriber_id == person_id:
                await self.unsubscribe(*key)
        self.stage.allowed.discard(person_id)
        return await self.unpublish(person_id)

    async def drop_connection(self, connection: str) -> list[int]:
        """Close everything of one client connection; returns whose publishing ended."""
        self.audio_only.discard(connection)
        for key in [key for key in self.subscriptions if key[0] == connection]:
            await self.unsubscribe(*key)
        gone = [p.person_id for p in self.publishers.values() if p.connection == connection]
        for person_id in gone:
            await self.unpublish(person_id)
        return gone

    async def close(self) -> None:
        if self._speaking is not None:
            self._speaking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._speaking
        for person_id in list(self.publishers):
            await self.unpublish(person_id)
        for key in list(self.subscriptions):
            await self.unsubscribe(*key)


class MediaServer:
    """All media rooms of this process."""

    def __init__(self, config: MediaConfig, publisher_gone: PublisherGone | None = None) -> None:
        aiortc_hooks.check_aiortc()
        if config.loopback_only:
            use_loopback_only()
        self.config = config
        self.rooms: dict[int, MediaRoom] = {}
        self._publisher_gone = publisher_gone
        self._speaker_changed: SpeakerChanged | None = None
        self._room_closing: RoomClosing | None = None
        self._rooms_of: dict[str, set[int]] = {}  # connection → rooms it has media in
        self._closing: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self.latencies: deque[float] = deque(maxlen=20_000)

    def note_connection(self, connection: str, room_id: int) -> None:
        self._rooms_of.setdefault(connection, set()).add(room_id)

    def room(self, room_id: int) -> MediaRoom:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = MediaRoom(room_id, Stage(), self)
        return room

    async def close_room(self, room_id: int) -> None:
        timer = self._closing.pop(room_id, None)
        if timer is not None:
            timer.cancel()
        if self._room_closing is not None:
            try:
                await self._room_closing(room_id)
            except Exception:
                log.exception("room-closing hook failed")
        room = self.rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    def close_room_after(self, room_id: int, seconds: float) -> None:
        """Close the room's media when its lesson runs out of time (once per room)."""
        if room_id in self._closing:
            return

        def close() -> None:
            self._closing.pop(room_id, None)
            task = asyncio.ensure_future(self.close_room(room_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._closing[room_id] = asyncio.get_running_loop().call_later(max(seconds, 0), close)

    def set_publisher_gone(self, hook: PublisherGone) -> None:
        self._publisher_gone = hook

    def set_room_closing(self, hook: RoomClosing) -> None:
        self._room_closing = hook

    def set_speaker_changed(self, hook: SpeakerChanged) -> None:
        self._speaker_changed = hook

    async def speaker_changed(self, room_id: int, person_id: int | None) -> None:
        if self._speaker_changed is not None:
            await self._speaker_changed(room_id, person_id)

    def record_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)

    async def publisher_gone(self, room_id: int, person_id: int) -> None:
        if self._publisher_gone is not None:
            try:
                await self._publisher_gone(room_id, person_id)
            except Exception:
                log.exception("publisher-gone hook failed")

    async def drop_connection(self, connection: str) -> list[tuple[int, int]]:
        """Close a client connection's media in every room: (room, person) publishers ended."""
        ended: list[tuple[int, int]] = []
        for room_id in self._rooms_of.pop(connection, set()):
            room = self.rooms.get(room_id)
            if room is not None:
                ended += [(room_id, person) for person in await room.drop_connection(connection)]
                self._forget_if_empty(room)
        return ended

    async def leave(self, room_id: int, connection: str) -> list[int]:
        """A connection left one room: close its media there; returns whose publishing ended."""
        self._rooms_of.get(connection, set()).discard(room_id)
        room = self.rooms.get(room_id)
        if room is None:
            return []
        ended = await room.drop_connection(connection)
        self._forget_if_empty(room)
        return ended

    def _forget_if_empty(self, room: MediaRoom) -> None:
        # The stage (permissions, mutes) goes too once nobody publishes or watches.
        if (
            not room.publishers
            and not room.subscriptions
            and not room.stage.allowed
            and not room.audio_only
        ):
            self.rooms.pop(room.room_id, None)

    async def close(self) -> None:
        for timer in self._closing.values():
            timer.cancel()
        self._closing.clear()
        for room in list(self.rooms.values()):
            await room.close()
        self.rooms.clear()
