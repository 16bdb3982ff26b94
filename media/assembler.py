"""Whole encoded frames from RTP packets, in place of aiortc's jitter buffer.

aiortc's buffer hands a video frame on only when the first packet of the next one arrives
(one frame interval late) and holds four audio frames back. These assemblers hand a VP8 frame
on at its marker bit and every Opus packet at once: forwarding adds no waiting of its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from media.frames import EncodedFrame, vp8_is_keyframe

FrameSink = Callable[[EncodedFrame], None]

MAX_PENDING_FRAMES = 4
"""Incomplete video frames kept waiting for retransmissions before the oldest is given up."""

_DONE_REMEMBERED = 32


def _seq_gt(a: int, b: int) -> bool:
    """RTP sequence number ``a`` comes after ``b`` (modulo 2**16)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


class _Partial:
    __slots__ = ("first", "last", "packets")

    def __init__(self) -> None:
        self.packets: dict[int, bytes] = {}
        self.first: int | None = None
        self.last: int | None = None

    def complete(self) -> bool:
        if self.first is None or self.last is None:
            return False
        return len(self.packets) == ((self.last - self.first) & 0xFFFF) + 1

    def data(self) -> bytes:
        assert self.first is not None
        count = len(self.packets)
        return b"".join(self.packets[(self.first + i) & 0xFFFF] for i in range(count))


class Assembler:
    """Base of the assemblers; ``add`` has the shape of ``JitterBuffer.add``."""

    def __init__(self, sink: FrameSink, need_keyframe: Callable[[], None] | None = None) -> None:
        self.sink = sink
        self.need_keyframe = need_keyframe or (lambda: None)
        self.ssrc: int | None = None
        self.frames = 0
        self.lost_frames = 0

    def add(self, packet: Any) -> tuple[bool, None]:
        """Take one depayloaded RTP packet. Returns (no PLI, no frame for the decoder): keyframe
        requests go through ``need_keyframe``, which rate-limits them."""
        self.ssrc = packet.ssrc
        self._add(packet)
        return False, None

    def _add(self, packet: Any) -> None:
        raise NotImplementedError


class AudioAssembler(Assembler):
    """Each Opus RTP packet is one frame; late (reordered) packets are dropped."""

    def __init__(self, sink: FrameSink, need_keyframe: Callable[[], None] | None = None) -> None:
        super().__init__(sink, need_keyframe)
        self._last_seq: int | None = None

    def _add(self, packet: Any) -> None:
        seq = packet.sequence_number
        if self._last_seq is not None and not _seq_gt(seq, self._last_seq):
            return
        self._last_seq = seq
        data: bytes = packet._data
        if not data:
            return
        self.frames += 1
        extensions = getattr(packet, "extensions", None)
        audio_level = getattr(extensions, "audio_level", None)  # (voice activity, -dBov)
        level = audio_level[1] if audio_level is not None else None
        self.sink(EncodedFrame("audio", data, packet.timestamp, True, time.monotonic(), level))


class VideoAssembler(Assembler):
    """VP8 frames: complete from the packet with S=1, PID=0 to the marker, without gaps.

    Frames go out in order. When the oldest incomplete frame has waited behind
    ``MAX_PENDING_FRAMES`` others it is given up, and nothing goes out until the next
    keyframe (a PLI asks the publisher for one), so subscribers never get a broken chain.
    """

    def __init__(self, sink: FrameSink, need_keyframe: Callable[[], None] | None = None) -> None:
        super().__init__(sink, need_keyframe)
        self._pending: OrderedDict[int, _Partial] = OrderedDict()
        self._done: deque[int] = deque(maxlen=_DONE_REMEMBERED)
        self._broken = False

    def _add(self, packet: Any) -> None:
        timestamp = packet.timestamp
        if timestamp in self._done:
            return  # a retransmission of a frame already passed on or given up
        partial = self._pending.get(timestamp)
        if partial is None:
            partial = self._pending[timestamp] = _Partial()
        seq = packet.sequence_number
        partial.packets[seq] = packet._data
        payload: bytes = packet.payload
        if payload and payload[0] & 0x10 and not payload[0] & 0x07:
            partial.first = seq
        if packet.marker:
            partial.last = seq
        self._flush()

    def _flush(self) -> None:
        while self._pending:
            timestamp, oldest = next(iter(self._pending.items()))
            if oldest.complete():
                del self._pending[timestamp]
                self._done.append(timestamp)
                self._emit(timestamp, oldest.data())
            elif len(self._pending) > MAX_PENDING_FRAMES:
                del self._pending[timestamp]
                self._done.append(timestamp)
                self.lost_frames += 1
                self._broken = True
                self.need_keyframe()
            else:
                return

    def _emit(self, timestamp: int, data: bytes) -> None:
        keyframe = vp8_is_keyframe(data)
        if self._broken:
            if not keyframe:
                self.need_keyframe()
                return
            self._broken = False
        self.frames += 1
        self.sink(EncodedFrame("video", data, timestamp, keyframe, time.monotonic()))


def assembler_for(
    kind: str, sink: FrameSink, need_keyframe: Callable[[], None] | None = None
) -> Assembler:
    if kind == "video":
        return VideoAssembler(sink, need_keyframe)
    return AudioAssembler(sink, need_keyframe)
