"""aiortc peers playing the roles of a teacher's and students' browsers (bench and tests).

A publisher sends the pre-encoded clip; a subscriber records the frames it receives by
tapping its own receivers (nothing is decoded, so many subscribers fit in one process).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.clip import Clip, ClipTrack, SentHook
from media import aiortc_hooks
from media.assembler import assembler_for
from media.codecs import preferred_codecs
from media.frames import EncodedFrame

Signal = Callable[[str], Awaitable[str]]
"""Sends an offer to the media server and returns its answer."""


def peer_connection() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class ClipPublisher:
    """Publishes the clip's video and audio; a PLI makes the video jump to a keyframe."""

    def __init__(self, clip: Clip, on_sent: SentHook | None = None) -> None:
        self.pc = peer_connection()
        self.tracks = {kind: ClipTrack(kind, clip, on_sent) for kind in ("audio", "video")}
        for kind, track in self.tracks.items():
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(preferred_codecs(kind))
            aiortc_hooks.use_packer(transceiver.sender, kind)
            aiortc_hooks.on_keyframe_request(transceiver.sender, track.keyframe_now)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def start(self, signal: Signal) -> None:
        answer = await signal(await self.offer())
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    @property
    def keyframe_requests(self) -> int:
        return self.tracks["video"].keyframe_requests

    async def close(self) -> None:
        await self.pc.close()


@dataclass
class Received:
    """What one subscriber got of one kind."""

    frames: int = 0
    first_keyframe: bool | None = None
    keyframes: int = 0
    arrivals: dict[bytes, float] = field(default_factory=dict)


class FrameSubscriber:
    """Receives one publisher through the media server and counts whole frames."""

    def __init__(self, keep_arrivals: bool = False) -> None:
        self.pc = peer_connection()
        self.received = {"audio": Received(), "video": Received()}
        self._keep = keep_arrivals
        for kind in ("audio", "video"):
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(preferred_codecs(kind))
            aiortc_hooks.tap_receiver(transceiver.receiver, assembler_for(kind, self._got))

    def _got(self, frame: EncodedFrame) -> None:
        got = self.received[frame.kind]
        got.frames += 1
        got.keyframes += frame.keyframe
        if got.first_keyframe is None:
            got.first_keyframe = frame.keyframe
        if self._keep:
            got.arrivals[frame.data] = time.monotonic()  # the latest, as the clip loops

    async def start(self, signal: Signal) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await signal(str(self.pc.localDescription.sdp))
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def close(self) -> None:
        await self.pc.close()
