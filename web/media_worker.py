"""A media worker process: owns the media rooms of the lessons that fall to it.

It serves ``media:<index>`` requests relayed by the socket processes over Redis, runs the
aiortc peer connections of its lessons and publishes their media events on the lessons' room
channels through the bus, from where every socket process delivers them to its members.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import msgspec

from classroom.rooms import room_channel
from media.server import MediaServer
from realtime import codec
from realtime.bus import create_bus
from realtime.bus.rpc import RedisRequests
from realtime.router import WIRE_TYPES
from web.media_rooms import MediaOps, worker_name
from web.settings import Settings

log = logging.getLogger(__name__)


def encode_event(event: str, data: Any) -> bytes:
    """A room event as the socket processes' ``RealtimeServer.publish`` encodes it."""
    return codec.encode([event, msgspec.to_builtins(data, builtin_types=WIRE_TYPES)])


async def serve_media(settings: Settings, index: int, stop: asyncio.Event) -> None:
    """Serve the rooms of media worker ``index`` until ``stop`` is set."""
    bus = create_bus(
        settings.bus_url,
        lambda _channel, _offset, _payload: None,
        prefix=settings.bus_prefix,
        history_length=settings.bus_history,
    )
    requests = RedisRequests(settings.bus_url, prefix=settings.bus_prefix)
    await requests.start()
    if await requests.servers(worker_name(index)):
        await requests.close()
        raise SystemExit(f"urok: media worker {index} is already running")
    await bus.start()
    media = MediaServer(settings.media)

    async def announce(lesson_id: int, event: str, data: Any) -> None:
        await bus.publish(room_channel(lesson_id), encode_event(event, data))

    ops = MediaOps(media, announce)
    await requests.serve(worker_name(index), ops.handle)
    log.info("media worker %d of %d is serving", index, settings.media_workers)
    try:
        await stop.wait()
    finally:
        await requests.close()
        await media.close()
        await bus.close()


def run_media_worker(settings: Settings, index: int) -> int:
    """Run media worker ``index`` until SIGINT or SIGTERM."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve_media(settings, index, stop)

    asyncio.run(main())
    return 0
