"""A short pre-encoded VP8 + Opus clip made with PyAV, and a track that plays it.

The clip is encoded once (640×480, ~600 kbit/s, a keyframe a second); playing it only sends
packets, so a publisher costs almost nothing and can jump to the next keyframe on a PLI.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from aiortc.mediastreams import MediaStreamTrack

WIDTH, HEIGHT, FPS = 640, 480, 30
VIDEO_BITRATE = 600_000
AUDIO_RATE, AUDIO_SAMPLES = 48_000, 960  # 20 ms Opus frames


@dataclass(frozen=True, slots=True)
class ClipFrame:
    data: bytes
    keyframe: bool


@dataclass(frozen=True, slots=True)
class Clip:
    video: tuple[ClipFrame, ...]
    audio: tuple[ClipFrame, ...]


def _video_frame(index: int) -> av.VideoFrame:
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    shift = index * 8
    row = bytes((x + shift) & 0xFF for x in range(WIDTH))
    luma = bytearray(row * HEIGHT)
    top = (index * 6) % (HEIGHT - 64)
    for y in range(top, top + 64):  # a moving bar, so that frames differ
        luma[y * WIDTH + 200 : y * WIDTH + 264] = b"\xf0" * 64
    frame.planes[0].update(bytes(luma))
    frame.planes[1].update(bytes([(index * 3) & 0xFF]) * (WIDTH * HEIGHT // 4))
    frame.planes[2].update(bytes([128]) * (WIDTH * HEIGHT // 4))
    frame.pts = index
    frame.time_base = Fraction(1, FPS)
    return frame


def _encode_video(frames: int) -> tuple[ClipFrame, ...]:
    codec: Any = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = VIDEO_BITRATE
    codec.time_base = Fraction(1, FPS)
    codec.gop_size = FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[ClipFrame] = []
    for index in range(frames):
        for packet in codec.encode(_video_frame(index)):
            out.append(ClipFrame(bytes(packet), bool(packet.is_keyframe)))
    for packet in codec.encode(None):
        out.append(ClipFrame(bytes(packet), bool(packet.is_keyframe)))
    return tuple(out)


def _encode_audio(frames: int) -> tuple[ClipFrame, ...]:
    codec: Any = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.format, codec.layout = AUDIO_RATE, "s16", "stereo"
    codec.bit_rate = 48_000
    codec.time_base = Fraction(1, AUDIO_RATE)
    out: list[ClipFrame] = []
    for index in range(frames):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_SAMPLES)
        samples = bytearray()
        for n in range(AUDIO_SAMPLES):
            t = (index * AUDIO_SAMPLES + n) / AUDIO_RATE
            value = int(8000 * math.sin(2 * math.pi * 440 * t)).to_bytes(2, "little", signed=True)
            samples += value * 2
        frame.planes[0].update(bytes(samples))
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * AUDIO_SAMPLES
        frame.time_base = Fraction(1, AUDIO_RATE)
        for packet in codec.encode(frame):
            out.append(ClipFrame(bytes(packet), True))
    return tuple(out)


@functools.cache
def make_clip(seconds: int = 2) -> Clip:
    """Encode the clip (once per process; about a second of CPU)."""
    return Clip(_encode_video(seconds * FPS), _encode_audio(seconds * 50))


SentHook = Callable[[str, bytes, float], None]


class ClipTrack(MediaStreamTrack):
    """Plays one kind of a clip in a loop at its real pace, as encoded ``av.Packet`` s.

    ``keyframe_now()`` (wire it to the sender's PLI) jumps to the clip's next keyframe.
    """

    def __init__(self, kind: str, clip: Clip, on_sent: SentHook | None = None) -> None:
        super().__init__()
        self.kind = kind
        self._frames = clip.video if kind == "video" else clip.audio
        self._step = 1 / FPS if kind == "video" else AUDIO_SAMPLES / AUDIO_RATE
        self._ticks = 90_000 // FPS if kind == "video" else AUDIO_SAMPLES
        self._time_base = Fraction(1, 90_000 if kind == "video" else AUDIO_RATE)
        self._on_sent = on_sent
        self._position = 0
        self._count = 0
        self._start: float | None = None
        self.keyframe_requests = 0

    def keyframe_now(self) -> None:
        self.keyframe_requests += 1
        if self.kind != "video":
            return
        for offset in range(1, len(self._frames) + 1):
            position = (self._position + offset) % len(self._frames)
            if self._frames[position].keyframe:
                self._position = position
                return

    async def recv(self) -> av.Packet[Any]:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count * self._step
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = self._frames[self._position % len(self._frames)]
        self._position = (self._position + 1) % len(self._frames)
        packet = av.Packet(frame.data)
        packet.pts = self._count * self._ticks
        packet.time_base = self._time_base
        self._count += 1
        if self._on_sent is not None:
            self._on_sent(self.kind, frame.data, time.monotonic())
        return packet
