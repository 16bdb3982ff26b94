"""The wire codec: Socket.IO packets in msgpack, with browser binary and a size bound.

Binary sent by socket.io-msgpack-parser (browsers, Node) arrives as msgpack ext type 0;
it is turned into ``bytes``. A packet larger than the bound is not handed to handlers:
its payload is replaced by an ``OversizePayload`` marker so the router can refuse it
with a clear error instead of dropping the connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
from socketio.msgpack_packet import MsgPackPacket

BROWSER_BINARY_EXT = 0


@dataclass(frozen=True, slots=True)
class OversizePayload:
    """Stands in for an event payload that was larger than allowed."""

    size: int


class MalformedPayload:
    """Stands in for a packet whose body could not be decoded."""


def _ext_hook(code: int, data: bytes) -> Any:
    return data if code == BROWSER_BINARY_EXT else msgpack.ExtType(code, data)


def packet_class(max_event_bytes: int) -> type[Any]:
    """A Socket.IO packet class for msgpack with this size bound on inbound events."""

    class BoundedMsgPackPacket(MsgPackPacket):  # type: ignore[misc]
        dumps_default = None
        ext_hook = staticmethod(_ext_hook)

        def decode(self, encoded_packet: bytes) -> None:
            super().decode(encoded_packet)
            data: Any = vars(self).get("data")
            if (
                len(encoded_packet) > max_event_bytes
                and isinstance(data, list)
                and data
                and isinstance(data[0], str)
            ):
                self.data = [data[0], OversizePayload(len(encoded_packet))]

    return BoundedMsgPackPacket


def encode(value: Any) -> bytes:
    """msgpack bytes of a value (used for bus payloads)."""
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def decode(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, ext_hook=_ext_hook)
