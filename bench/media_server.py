"""The server side of ``urok bench media``: runs in a process of its own, so that its CPU
time is the media server's alone. ``sfu`` forwards through ``media``; ``relay`` is the
baseline, aiortc's stock ``MediaRelay`` (decode once, encode for every subscriber)."""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
from typing import Any, Literal

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from media.codecs import preferred_codecs
from media.config import MediaConfig, use_loopback_only
from media.peers import new_peer_connection
from media.server import MediaServer

Mode = Literal["sfu", "relay"]
PUBLISHER = 1


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RelayBaseline:
    """Stock aiortc: one receiving peer, ``MediaRelay``, one encoding sender per subscriber."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.tracks: dict[str, Any] = {}
        self.pcs: list[RTCPeerConnection] = []
        self.latencies: list[float] = []

    async def publish(self, offer: str) -> str:
        pc = new_peer_connection(MediaConfig())
        self.pcs.append(pc)
        for kind in ("audio", "video"):
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(preferred_codecs(kind))

        @pc.on("track")
        def on_track(track: Any) -> None:
            self.tracks[track.kind] = track

        return await _answer(pc, offer)

    async def subscribe(self, offer: str) -> str:
        pc = new_peer_connection(MediaConfig())
        self.pcs.append(pc)
        for kind in ("audio", "video"):
            track = self.relay.subscribe(self.tracks[kind])
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(preferred_codecs(kind))
        return await _answer(pc, offer)

    def subscriber_pcs(self) -> list[RTCPeerConnection]:
        return self.pcs[1:]

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


class SfuUnderTest:
    def __init__(self) -> None:
        self.server = MediaServer(MediaConfig(loopback_only=True))
        self.room = self.server.room(1)
        self.latencies = self.server.latencies
        self._count = 0

    async def publish(self, offer: str) -> str:
        return await self.room.publish(PUBLISHER, "publisher", offer, teacher=True)

    async def subscribe(self, offer: str) -> str:
        self._count += 1
        return await self.room.subscribe(f"subscriber-{self._count}", PUBLISHER, offer)

    def subscriber_pcs(self) -> list[RTCPeerConnection]:
        return [subscription.pc for subscription in self.room.subscriptions.values()]

    async def close(self) -> None:
        await self.server.close()


async def _answer(pc: RTCPeerConnection, offer: str) -> str:
    await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return str(pc.localDescription.sdp)


async def packets_sent(pcs: list[RTCPeerConnection]) -> int:
    total = 0
    for pc in pcs:
        for sender in pc.getSenders():
            for stats in (await sender.getStats()).values():
                if getattr(stats, "type", "") == "outbound-rtp":
                    total += int(stats.packetsSent)
    return total


def build_app(target: SfuUnderTest | RelayBaseline, stop: asyncio.Event) -> web.Application:
    async def publish(request: web.Request) -> web.Response:
        return web.Response(text=await target.publish(await request.text()))

    async def subscribe(request: web.Request) -> web.Response:
        return web.Response(text=await target.subscribe(await request.text()))

    async def stats(_request: web.Request) -> web.Response:
        latencies = list(target.latencies)
        target.latencies.clear()
        return web.json_response(
            {
                "cpu": time.process_time(),
                "wall": time.monotonic(),
                "rss_mb": rss_mb(),
                "packets_sent": await packets_sent(target.subscriber_pcs()),
                "latency_ms_p50": statistics.median(latencies) * 1000 if latencies else None,
                "latency_ms_p95": (
                    statistics.quantiles(latencies, n=20)[-1] * 1000
                    if len(latencies) >= 20
                    else None
                ),
            }
        )

    async def quit_(_request: web.Request) -> web.Response:
        stop.set()
        return web.Response(text="bye")

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/publish", publish)
    app.router.add_post("/subscribe", subscribe)
    app.router.add_get("/stats", stats)
    app.router.add_post("/quit", quit_)
    return app


async def serve(mode: Mode, port: int) -> None:
    use_loopback_only()
    target: SfuUnderTest | RelayBaseline = SfuUnderTest() if mode == "sfu" else RelayBaseline()
    stop = asyncio.Event()
    runner = web.AppRunner(build_app(target, stop), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await stop.wait()
    finally:
        await target.close()
        await runner.cleanup()


def run(mode: Mode, port: int) -> None:
    """Entry point of the server process."""
    asyncio.run(serve(mode, port))
