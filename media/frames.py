"""Encoded frames as the media server passes them on: never decoded, never re-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import av

Kind = Literal["audio", "video"]
KINDS: tuple[Kind, ...] = ("audio", "video")

CLOCK_RATES: dict[Kind, int] = {"audio": 48_000, "video": 90_000}
TIME_BASES: dict[Kind, Fraction] = {kind: Fraction(1, rate) for kind, rate in CLOCK_RATES.items()}


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One whole encoded frame taken from a publisher's receiver.

    ``timestamp`` is the publisher's RTP timestamp, ``arrived`` the monotonic time its last
    packet came in.
    """

    kind: Kind
    data: bytes
    timestamp: int
    keyframe: bool
    arrived: float
    level: int | None = None
    """Audio only: the RFC 6464 level the publisher sent with the packet (-dBov), if any."""


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A frame ready for subscribers' senders: one ``av.Packet`` shared by all of them."""

    packet: av.Packet[Any]
    keyframe: bool
    arrived: float


def vp8_is_keyframe(data: bytes) -> bool:
    """A VP8 frame is a keyframe when bit 0 of its first byte is clear (RFC 6386, 9.1)."""
    return bool(data) and not data[0] & 0x01


def to_packet(frame: EncodedFrame) -> Forwarded:
    """Wrap a frame in an ``av.Packet`` whose pts is the RTP timestamp (no copy per subscriber)."""
    packet = av.Packet(frame.data)
    packet.pts = frame.timestamp
    packet.time_base = TIME_BASES[frame.kind]
    return Forwarded(packet, frame.keyframe, frame.arrived)
