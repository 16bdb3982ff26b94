"""``urok bench media``: what forwarding costs the server per subscriber, against aiortc's
``MediaRelay``.

One aiortc publisher sends a pre-encoded VP8 + Opus clip (640×480, ~600 kbit/s) to a media
server running in its own process; N aiortc subscribers receive it without decoding. The
server's CPU time (all its threads) is read from that process before and after a window.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.clip import make_clip
from bench.media_server import Mode, run
from bench.peers import ClipPublisher, FrameSubscriber
from media.config import use_loopback_only


@dataclass(frozen=True, slots=True)
class RunResult:
    mode: str
    subscribers: int
    core_publisher_only: float
    core_total: float
    core_per_subscriber: float
    rss_mb_per_subscriber: float
    packets_out_per_s: float
    added_latency_ms_p50: float | None
    added_latency_ms_p95: float | None
    end_to_end_latency_ms_p50: float | None
    video_fps_per_subscriber: float


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    def __init__(self, mode: Mode) -> None:
        self.port = _free_port()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=run, args=(mode, self.port), daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.process.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                await self.stats(http)
                return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        raise RuntimeError("the media server process did not start")

    async def stats(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(f"{self.url}/stats") as response:
            result: dict[str, Any] = await response.json()
            return result

    def signal(self, http: aiohttp.ClientSession, path: str) -> Any:
        async def send(offer: str) -> str:
            async with http.post(f"{self.url}{path}", data=offer) as response:
                response.raise_for_status()
                return await response.text()

        return send

    async def stop(self, http: aiohttp.ClientSession) -> None:
        try:
            async with http.post(f"{self.url}/quit"):
                pass
        except aiohttp.ClientError:
            pass
        await asyncio.to_thread(self.process.join, 10)
        if self.process.is_alive():
            self.process.terminate()


async def _window(
    server: ServerProcess, http: aiohttp.ClientSession, seconds: float
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    await server.stats(http)  # clears latency samples
    before = await server.stats(http)
    await asyncio.sleep(seconds)
    after = await server.stats(http)
    core = (after["cpu"] - before["cpu"]) / (after["wall"] - before["wall"])
    return core, before, after


async def measure(mode: Mode, subscribers: int, seconds: float) -> RunResult:
    """One run: the publisher alone, then with ``subscribers`` subscribers."""
    use_loopback_only()
    clip = make_clip()
    sent: dict[bytes, float] = {}

    def on_sent(kind: str, data: bytes, at: float) -> None:
        if kind == "video":
            sent[data] = at

    server = ServerProcess(mode)
    async with aiohttp.ClientSession() as http:
        await server.start(http)
        publisher = ClipPublisher(clip, on_sent)
        receivers: list[FrameSubscriber] = []
        try:
            await publisher.start(server.signal(http, "/publish"))
            warm_up = min(2.0, seconds)
            await asyncio.sleep(warm_up)
            idle_core, _, idle = await _window(server, http, min(seconds, 4))
            for _ in range(subscribers):
                receiver = FrameSubscriber(keep_arrivals=mode == "sfu")
                receivers.append(receiver)
                await receiver.start(server.signal(http, "/subscribe"))
            deadline = time.monotonic() + 20
            while any(r.received["video"].frames < 1 for r in receivers):
                if time.monotonic() > deadline:
                    raise RuntimeError("subscribers got no video within 20 s")
                await asyncio.sleep(0.1)
            await asyncio.sleep(warm_up)
            frames_before = sum(r.received["video"].frames for r in receivers)
            for receiver in receivers:
                receiver.received["video"].arrivals.clear()
            sent.clear()
            core, before, after = await _window(server, http, seconds)
            frames = sum(r.received["video"].frames for r in receivers) - frames_before
            elapsed = after["wall"] - before["wall"]
            delays = [
                (arrived - sent[data]) * 1000
                for r in receivers
                for data, arrived in r.received["video"].arrivals.items()
                if data in sent and 0 <= arrived - sent[data] < 1
            ]
        finally:
            for receiver in receivers:
                await receiver.close()
            await publisher.close()
            await server.stop(http)
    n = max(subscribers, 1)
    return RunResult(
        mode=mode,
        subscribers=subscribers,
        core_publisher_only=round(idle_core, 4),
        core_total=round(core, 4),
        core_per_subscriber=round((core - idle_core) / n, 5),
        rss_mb_per_subscriber=round((after["rss_mb"] - idle["rss_mb"]) / n, 3),
        packets_out_per_s=round((after["packets_sent"] - before["packets_sent"]) / elapsed, 1),
        added_latency_ms_p50=_round(after["latency_ms_p50"]),
        added_latency_ms_p95=_round(after["latency_ms_p95"]),
        end_to_end_latency_ms_p50=_round(statistics.median(delays)) if delays else None,
        video_fps_per_subscriber=round(frames / elapsed / n, 1),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def bench_media(
    subscribers: int, baseline_subscribers: int, seconds: float
) -> dict[str, Any]:
    sfu = await measure("sfu", subscribers, seconds)
    relay = await measure("relay", baseline_subscribers, seconds)
    cost = sfu.core_per_subscriber
    ratio = relay.core_per_subscriber / cost if cost > 0 else None
    return {
        "core_per_subscriber": sfu.core_per_subscriber,
        "baseline_core_per_subscriber": relay.core_per_subscriber,
        "baseline_ratio": round(ratio, 1) if ratio else None,
        "rss_mb_per_subscriber": sfu.rss_mb_per_subscriber,
        "packets_out_per_s": sfu.packets_out_per_s,
        "added_latency_ms_p50": sfu.added_latency_ms_p50,
        "subscribers": subscribers,
        "baseline_subscribers": baseline_subscribers,
        "window_seconds": seconds,
        "cpus": multiprocessing.cpu_count(),
        "runs": {"sfu": asdict(sfu), "baseline_media_relay": asdict(relay)},
    }


def main(
    subscribers: int, json_path: Path | None, baseline_subscribers: int, seconds: float
) -> int:
    result = asyncio.run(bench_media(subscribers, baseline_subscribers, seconds))
    text = json.dumps(result, indent=2)
    print(text)
    if json_path is not None:
        json_path.write_text(text + "\n")
    return 0
