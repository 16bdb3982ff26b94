"""The message bus: per-channel ordered events with offsets and resumable history."""

from __future__ import annotations

from realtime.bus.base import DEFAULT_HISTORY_LENGTH, Bus, BusEvent, History, MessageHandler
from realtime.bus.memory import MemoryBus
from realtime.bus.redis import RedisBus

__all__ = [
    "DEFAULT_HISTORY_LENGTH",
    "Bus",
    "BusEvent",
    "History",
    "MemoryBus",
    "MessageHandler",
    "RedisBus",
    "create_bus",
]

REDIS_SCHEMES = ("redis", "rediss", "unix")


def create_bus(
    url: str,
    handler: MessageHandler,
    *,
    prefix: str = "urok:",
    history_length: int = DEFAULT_HISTORY_LENGTH,
) -> Bus:
    """The bus for a URL: ``memory://`` in-process, ``redis://…`` shared through Redis."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryBus(handler, history_length)
    if scheme in REDIS_SCHEMES:
        return RedisBus(url, handler, prefix=prefix, history_length=history_length)
    raise ValueError(f"unsupported bus URL {url!r}: use memory:// or redis://host:port/db")
