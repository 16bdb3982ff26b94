"""Peer connections of the media server: a publisher's, and a subscriber's to one publisher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

from media import aiortc_hooks
from media.assembler import Assembler, assembler_for
from media.codecs import preferred_codecs
from media.config import MediaConfig
from media.forwarding import ForwardedTrack, Publication
from media.frames import Kind

log = logging.getLogger(__name__)

Closed = Callable[[], Awaitable[None]]


def new_peer_connection(config: MediaConfig) -> RTCPeerConnection:
    servers = [
        RTCIceServer(list(server.urls), server.username, server.credential)
        for server in config.ice_servers
    ]
    return RTCPeerConnection(RTCConfiguration(iceServers=servers))


async def answer(pc: RTCPeerConnection, offer: str) -> str:
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return str(pc.localDescription.sdp)


def watch(pc: RTCPeerConnection, on_closed: Closed) -> None:
    """Call ``on_closed`` once when the connection fails or closes."""
    done = False

    async def changed() -> None:
        nonlocal done
        if pc.connectionState in {"failed", "closed"} and not done:
            done = True
            await on_closed()

    pc.on("connectionstatechange", changed)


@dataclass(eq=False)
class Publisher:
    """One person's published tracks in a room."""

    person_id: int
    connection: str
    pc: RTCPeerConnection
    publications: dict[Kind, Publication] = field(default_factory=dict)
    assemblers: dict[Kind, Assembler] = field(default_factory=dict)
    tasks: set[asyncio.Future[None]] = field(default_factory=set)
    name: str = ""
    """How the room knows the person (shown under their video)."""

    @classmethod
    def create(
        cls,
        person_id: int,
        connection: str,
        kinds: list[Kind],
        config: MediaConfig,
        on_latency: Callable[[float], None] | None = None,
    ) -> Publisher:
        publisher = cls(person_id, connection, new_peer_connection(config))
        for kind in kinds:
            transceiver = publisher.pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(preferred_codecs(kind))
            receiver = transceiver.receiver

            def send_pli(receiver: object = receiver, kind: Kind = kind) -> None:
                ssrc = publisher.assemblers[kind].ssrc
                if ssrc is not None:
                    task = asyncio.ensure_future(receiver._send_rtcp_pli(ssrc))  # type: ignore[attr-defined]
                    publisher.tasks.add(task)
                    task.add_done_callback(publisher.tasks.discard)

            publication = Publication(
                kind,
                send_pli,
                pli_interval=config.pli_interval,
                queue_frames=config.queue_frames.get(kind),
                on_latency=on_latency,
            )
            assembler = assembler_for(kind, publication.on_frame, publication.need_keyframe)
            aiortc_hooks.tap_receiver(receiver, assembler)
            publisher.publications[kind] = publication
            publisher.assemblers[kind] = assembler
        return publisher

    async def close(self) -> None:
        for publication in self.publications.values():
            publication.close()
        await self.pc.close()


@dataclass(eq=False)
class Subscription:
    """One subscriber connection's view of one publisher."""

    connection: str
    publisher: Publisher
    pc: RTCPeerConnection
    tracks: dict[Kind, ForwardedTrack] = field(default_factory=dict)
    subscriber_id: int = 0

    @classmethod
    def create(
        cls, connection: str, publisher: Publisher, kinds: list[Kind], config: MediaConfig
    ) -> Subscription:
        subscription = cls(connection, publisher, new_peer_connection(config))
        for kind in kinds:
            publication = publisher.publications.get(kind)
            if publication is None:
                transceiver = subscription.pc.addTransceiver(kind, direction="inactive")
                transceiver.setCodecPreferences(preferred_codecs(kind))
                continue
            track = publication.subscribe()
            transceiver = subscription.pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(preferred_codecs(kind))
            aiortc_hooks.use_packer(transceiver.sender, kind)
            aiortc_hooks.on_keyframe_request(transceiver.sender, publication.need_keyframe)
            subscription.tracks[kind] = track
        return subscription

    def pause_video(self, paused: bool) -> None:
        """Send this subscriber no video (audio only), or video again from a keyframe."""
        track = self.tracks.get("video")
        publication = self.publisher.publications.get("video")
        if track is not None and publication is not None:
            publication.pause(track, paused)

    async def close(self) -> None:
        for kind, track in self.tracks.items():
            publication = self.publisher.publications.get(kind)
            if publication is not None:
                publication.unsubscribe(track)
        await self.pc.close()
