"""Media settings the server passes in, and the loopback-only switch."""

from __future__ import annotations

from dataclasses import dataclass, field

import aioice.ice


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN or TURN server offered to the media server's peer connections."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True, slots=True)
class MediaConfig:
    ice_servers: tuple[IceServer, ...] = ()
    """None by default: no STUN server is asked (aiortc would otherwise ask Google's)."""
    loopback_only: bool = False
    pli_interval: float = 1.0
    queue_frames: dict[str, int] = field(default_factory=dict)


def _loopback_addresses(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"]


def use_loopback_only() -> None:
    """Gather only 127.0.0.1 as a host candidate (aioice leaves loopback out by default).

    For tests and loopback-only deployments; it changes aioice for the whole process.
    """
    aioice.ice.get_host_addresses = _loopback_addresses
