"""Who is speaking, from the audio levels publishers put in their RTP packets.

Browsers add the RFC 6464 ``ssrc-audio-level`` header extension to every Opus packet: the
level of the packet's sound in -dBov, 0 the loudest and 127 silence. The media server
negotiates it in its answers (aiortc parses it) and never decodes the audio: a
``LevelMeter`` smooths each publisher's levels, and a ``SpeakerTracker`` picks the loudest
active publisher, with hysteresis so that two people talking at once do not flicker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

SILENCE = 127
"""The RFC 6464 level of digital silence (-127 dBov)."""

ACTIVE_LEVEL = 50
"""Louder than -50 dBov counts as speaking (room noise and breathing are quieter)."""

ATTACK = 0.3
"""How fast the smoothed loudness rises towards a louder packet (per 20 ms packet)."""

RELEASE = 0.025
"""How fast it falls towards a quieter one: about half in 27 packets (half a second), so
that the short pauses between words do not end a person's turn."""

STALE_AFTER = 0.4
"""Seconds without packets after which a publisher counts as silent (muted, gone, DTX)."""

SWITCH_MARGIN = 6.0
"""How much louder (in dB) another publisher must be to take over from the current one."""


def loudness(level: int) -> float:
    """Loudness above silence, 0 (silence) to 127 (full scale), from an RFC 6464 level."""
    return float(SILENCE - min(max(level, 0), SILENCE))


class LevelMeter:
    """One publisher's smoothed loudness, from the levels of its audio packets."""

    __slots__ = ("last", "packets", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.last = -math.inf
        self.packets = 0

    def add(self, level: int, at: float) -> None:
        """One packet's RFC 6464 level (0 loudest … 127 silence) that arrived at ``at``."""
        x = loudness(level)
        if at - self.last > STALE_AFTER:
            self.value = 0.0  # after a pause, start from silence
        rate = ATTACK if x > self.value else RELEASE
        self.value += rate * (x - self.value)
        self.last = at
        self.packets += 1

    def current(self, now: float) -> float:
        """The smoothed loudness now: 0 once no packet came for ``STALE_AFTER`` seconds."""
        return 0.0 if now - self.last > STALE_AFTER else self.value


class SpeakerTracker:
    """The loudest active speaker of a room, changed only for a clearly louder one."""

    def __init__(self, active_level: int = ACTIVE_LEVEL, margin: float = SWITCH_MARGIN) -> None:
        self.threshold = loudness(active_level)
        self.margin = margin
        self.current: int | None = None

    def update(self, levels: Mapping[int, float]) -> bool:
        """Choose from the publishers' loudness now; returns whether the speaker changed."""
        active = {person: value for person, value in levels.items() if value >= self.threshold}
        chosen: int | None = None
        if active:
            loudest = max(active, key=lambda person: (active[person], -person))
            current = self.current
            if (
                current is not None
                and current in active
                and active[loudest] < active[current] + self.margin
            ):
                chosen = current
            else:
                chosen = loudest
        changed = chosen != self.current
        self.current = chosen
        return changed
