"""The recorder: a subscriber inside the media process that muxes one person's forwarded
frames (VP8 video, Opus audio) into a WebM file without decoding or encoding anything.

It takes frames from the publisher's publications through the same bounded, keyframe-
disciplined queues as any subscriber, so it starts at a keyframe, and after an overflow it
resumes at the next one. Times come from the RTP timestamps, anchored to the recording's
start by each track's first arrival, so audio and video stay in step and the file's clock
matches the wall clock (which the chat and board timeline uses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiortc.mediastreams import MediaStreamError

from media.forwarding import ForwardedTrack, Publication
from media.frames import CLOCK_RATES, Forwarded, Kind
from recordings.webm import WebmWriter, vp8_size

log = logging.getLogger(__name__)

AUDIO_ONLY_AFTER = 2.0
"""Seconds to wait for a video keyframe before the file starts with audio alone."""

RTP_WRAP = 1 << 32


@dataclass(frozen=True, slots=True)
class Recorded:
    path: Path
    size: int
    duration: float
    """Seconds of media in the file."""
    packets: int


class _Lane:
    """One kind's timestamps: RTP (unwrapped) to milliseconds since the recording began."""

    def __init__(self, kind: Kind) -> None:
        self.rate = CLOCK_RATES[kind]
        self.first_rtp: int | None = None
        self.base_ms = 0
        self.last_rtp = 0
        self.cycles = 0

    def reset(self) -> None:
        self.first_rtp = None

    def pts_ms(self, rtp: int, arrived: float, started: float) -> int:
        if self.first_rtp is None:
            self.first_rtp, self.last_rtp, self.cycles = rtp, rtp, 0
            self.base_ms = max(0, round((arrived - started) * 1000))
        else:
            delta = rtp - self.last_rtp
            if delta < -RTP_WRAP // 2:
                self.cycles += 1
            elif delta > RTP_WRAP // 2:
                self.cycles -= 1
            self.last_rtp = rtp
        unwrapped = rtp + self.cycles * RTP_WRAP - self.first_rtp
        return self.base_ms + round(unwrapped * 1000 / self.rate)


class Recorder:
    """Records one person's published media into ``path`` from ``start()`` to ``stop()``.

    ``attach`` takes the person's publications (again after they publish anew); frames of a
    detached or ended publication simply stop coming.
    """

    def __init__(
        self,
        path: Path,
        person_id: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.person_id = person_id
        self._clock = clock
        self.started = clock()
        self._writer: WebmWriter | None = None
        self._lanes: dict[Kind, _Lane] = {"audio": _Lane("audio"), "video": _Lane("video")}
        self._tracks: dict[Kind, tuple[Publication, ForwardedTrack]] = {}
        self._pumps: set[asyncio.Task[None]] = set()
        self._has_video = False
        self.dropped = 0
        self.stopped = False

    @property
    def writing(self) -> bool:
        return self._writer is not None

    def attach(self, publications: Mapping[Kind, Publication]) -> None:
        """Take frames from these publications (replacing earlier ones of the same kinds)."""
        if self.stopped:
            return
        self.detach()
        for kind, publication in publications.items():
            track = publication.subscribe()
            self._tracks[kind] = (publication, track)
            self._lanes[kind].reset()
            task = asyncio.ensure_future(self._pump(kind, track))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)
        self._has_video = "video" in publications

    def detach(self) -> None:
        for publication, track in self._tracks.values():
            publication.unsubscribe(track)
        self._tracks.clear()

    async def _pump(self, kind: Kind, track: ForwardedTrack) -> None:
        while True:
            try:
                frame = await track.next_frame()
            except MediaStreamError:
                return
            try:
                self.write(kind, frame)
            except Exception:
                self.dropped += 1
                log.exception("a frame could not be written to a recording")

    def write(self, kind: Kind, frame: Forwarded) -> None:
        """Mux one forwarded frame (the pumps call this; so can a harness)."""
        if self.stopped:
            return
        data = bytes(frame.packet)
        if self._writer is None:
            if kind == "video":
                size = vp8_size(data)
                if size is None:
                    self.dropped += 1
                    return
                self._writer = WebmWriter(self.path, size)
            elif self._has_video and self._clock() - self.started < AUDIO_ONLY_AFTER:
                self.dropped += 1  # the file starts with the first video keyframe
                return
            else:
                self._writer = WebmWriter(self.path)
        pts = self._lanes[kind].pts_ms(frame.packet.pts or 0, frame.arrived, self.started)
        self._writer.write(kind, data, pts, keyframe=frame.keyframe)

    async def stop(self) -> Recorded:
        """Stop taking frames and finish the file."""
        self.stopped = True
        self.detach()
        for task in list(self._pumps):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        writer, self._writer = self._writer, None
        duration = 0.0
        packets = 0
        if writer is not None:
            duration = (writer.last_ms + 20) / 1000 if writer.packets else 0.0
            packets = writer.packets
            writer.close()
        size = self.path.stat().st_size if self.path.exists() else 0
        return Recorded(self.path, size, duration, packets)
