"""Fan-out of one publisher's track to its subscribers' tracks, with keyframe discipline.

Each subscriber has a bounded queue. A new subscriber, and one whose queue overflowed,
waits for the next keyframe and drops everything before it; the publisher is asked for a
keyframe (PLI) at once on each new subscription and, for other reasons, about once a second.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.frames import EncodedFrame, Forwarded, Kind, to_packet
from media.speaking import LevelMeter

DEFAULT_QUEUE_FRAMES: dict[Kind, int] = {"audio": 50, "video": 30}
"""About a second of media: more than that waiting means the subscriber cannot keep up."""


class KeyframeRequests:
    """Rate-limits keyframe requests to a publisher: at most one per ``interval`` seconds,
    except ``force`` (a new subscription). A request inside the interval is sent when it
    ends, so none is lost."""

    def __init__(
        self,
        send: Callable[[], None],
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.interval = interval
        self._clock = clock
        self._last = -float("inf")
        self._later: asyncio.TimerHandle | None = None
        self.sent = 0

    def request(self, *, force: bool = False) -> None:
        wait = self._last + self.interval - self._clock()
        if force or wait <= 0:
            self._fire()
        elif self._later is None:
            self._later = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        self._last = self._clock()
        self.sent += 1
        self._send()

    def close(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None


class ForwardedTrack(MediaStreamTrack):
    """A subscriber's track: ``recv`` yields encoded ``av.Packet`` s for the sender to packetize."""

    def __init__(
        self,
        kind: Kind,
        capacity: int,
        need_keyframe: Callable[[], None],
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.capacity = capacity
        self._need_keyframe = need_keyframe
        self._on_latency = on_latency
        self._queue: deque[Forwarded] = deque()
        self._ready: asyncio.Future[None] | None = None
        self.waiting_for_keyframe = True
        self.frames_in = 0
        self.frames_out = 0
        self.frames_dropped = 0
        self.overflows = 0
        self.first_keyframe: bool | None = None
        self.paused = False
        self.frames_paused = 0

    def push(self, frame: Forwarded) -> None:
        """Queue one frame (called by the publication; never blocks)."""
        if self.readyState != "live":
            return
        if self.paused:
            self.frames_paused += 1
            return
        self.frames_in += 1
        if self.waiting_for_keyframe:
            if not frame.keyframe:
                self.frames_dropped += 1
                # Asked again (at most about once a second) until one comes: a publisher may
                # fold a request into a keyframe it was already making, or a PLI may be lost.
                self._need_keyframe()
                return
            self.waiting_for_keyframe = False
        elif len(self._queue) >= self.capacity:
            self.overflows += 1
            self.frames_dropped += len(self._queue)
            self._queue.clear()
            if not frame.keyframe:
                self.frames_dropped += 1
                self.waiting_for_keyframe = True
                self._need_keyframe()
                return
        self._queue.append(frame)
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    def restart(self) -> None:
        """Drop what is queued and start again at the next keyframe (after a mute)."""
        self._queue.clear()
        self.waiting_for_keyframe = True

    def pause(self, paused: bool) -> None:
        """Stop (or resume) this one subscriber's frames: nothing is sent while paused."""
        self.paused = paused
        self.restart()

    async def recv(self) -> av.Packet[Any]:
        return (await self.next_frame()).packet

    async def next_frame(self) -> Forwarded:
        """The next frame with its keyframe flag and arrival time (a recorder's view)."""
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready = asyncio.get_running_loop().create_future()
            await self._ready
        if self.readyState != "live":
            raise MediaStreamError
        frame = self._queue.popleft()
        self.frames_out += 1
        if self.first_keyframe is None:
            self.first_keyframe = frame.keyframe
        if self._on_latency is not None:
            self._on_latency(time.monotonic() - frame.arrived)
        return frame

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)


class Publication:
    """One published track and the subscribers' tracks it feeds."""

    def __init__(
        self,
        kind: Kind,
        send_keyframe_request: Callable[[], None],
        *,
        pli_interval: float = 1.0,
        queue_frames: int | None = None,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self.kind = kind
        self.keyframes = KeyframeRequests(send_keyframe_request, pli_interval)
        self.queue_frames = queue_frames or DEFAULT_QUEUE_FRAMES[kind]
        self.muted = False
        self.frames = 0
        self.meter = LevelMeter() if kind == "audio" else None
        self._on_latency = on_latency
        self._subscribers: set[ForwardedTrack] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def on_frame(self, frame: EncodedFrame) -> None:
        """The receiver's assembler hands each whole frame here."""
        self.frames += 1
        if self.muted:
            return
        if self.meter is not None and frame.level is not None:
            self.meter.add(frame.level, frame.arrived)
        if not self._subscribers:
            return
        forwarded = to_packet(frame)
        for track in self._subscribers:
            track.push(forwarded)

    def need_keyframe(self) -> None:
        if self.kind == "video":
            self.keyframes.request()

    def subscribe(self) -> ForwardedTrack:
        """A new subscriber's track; it starts at a keyframe, asked for at once."""
        track = ForwardedTrack(self.kind, self.queue_frames, self.need_keyframe, self._on_latency)
        self._subscribers.add(track)
        if self.kind == "video":
            self.keyframes.request(force=True)
        return track

    def unsubscribe(self, track: ForwardedTrack) -> None:
        self._subscribers.discard(track)
        track.stop()

    def pause(self, track: ForwardedTrack, paused: bool) -> None:
        """Stop (or resume) forwarding to one subscriber; video resumes at a keyframe."""
        if track not in self._subscribers or track.paused == paused:
            return
        track.pause(paused)
        if not paused and self.kind == "video":
            self.keyframes.request(force=True)

    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) forwarding; video resumes at a keyframe."""
        if muted == self.muted:
            return
        self.muted = muted
        if not muted:
            for track in self._subscribers:
                track.restart()
            if self.kind == "video":
                self.keyframes.request(force=True)

    def close(self) -> None:
        self.keyframes.close()
        for track in list(self._subscribers):
            self.unsubscribe(track)
