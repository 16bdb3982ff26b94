"""A WebM file written from encoded VP8 and Opus frames: remuxed, never decoded or encoded.

Clusters close every second of media and each is written out as it closes (the muxer's
``flush_packets``), so a recorder that dies leaves a file playable up to its last cluster:
the segment's size stays "unknown" and the index is missing, which players accept.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av

MILLISECOND = Fraction(1, 1000)
CLUSTER_MS = 1000
"""A cluster per second of media: what a crash can lose at most."""

DEFAULT_SIZE = (640, 480)


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe's header (RFC 6386, 9.1), if it is one."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


class WebmWriter:
    """One WebM file with a VP8 video and an Opus audio track; times in milliseconds.

    The streams are declared with the codecs' parameters only (the encoders are opened once to
    fill in the stream headers, such as Opus's ``OpusHead``; no frame ever goes through them).
    """

    def __init__(self, path: Path, size: tuple[int, int] = DEFAULT_SIZE) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container: Any = av.open(
            str(path),
            "w",
            format="webm",
            options={"cluster_time_limit": str(CLUSTER_MS), "flush_packets": "1"},
        )
        video: Any = self._container.add_stream("libvpx", rate=30)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.time_base = MILLISECOND
        audio: Any = self._container.add_stream("libopus", rate=48_000)
        audio.layout = "stereo"
        audio.time_base = MILLISECOND
        self._streams: dict[str, Any] = {"video": video, "audio": audio}
        self._container.start_encoding()
        self._last: dict[str, int] = {"video": -1, "audio": -1}
        self.packets = 0
        self.closed = False

    def write(self, kind: str, data: bytes, pts_ms: int, *, keyframe: bool) -> int:
        """Mux one frame at ``pts_ms`` (moved on to keep each track's times increasing);
        returns the time it was written at."""
        pts = max(pts_ms, self._last[kind] + 1)
        self._last[kind] = pts
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = MILLISECOND
        packet.stream = self._streams[kind]
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        self.packets += 1
        return pts

    @property
    def last_ms(self) -> int:
        return max(self._last.values())

    def close(self) -> None:
        """Write the index and the segment's size (the file is playable without them too)."""
        if not self.closed:
            self.closed = True
            self._container.close()


def media_seconds(path: Path) -> float:
    """Seconds of media in a file, read by demuxing it (for files whose recorder died)."""
    last = 0.0
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
    return last
