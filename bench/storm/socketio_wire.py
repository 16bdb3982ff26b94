"""Engine.IO v4 / Socket.IO v5 with the msgpack parser, spoken directly over ``wire``.

Engine.IO packets are text frames (``0`` open, ``2`` ping → ``3`` pong, ``1`` close);
Socket.IO packets are binary frames holding one msgpack map ``{type, nsp, data, id}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import msgpack

from bench.storm.wire import OP_BINARY, OP_TEXT, WebSocket, WireClosed

PATH = "/socket.io/?EIO=4&transport=websocket"
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR = 0, 1, 2, 3, 4

EventHandler = Callable[[str, Any], None]


class Refused(ConnectionError):
    """The server refused the Socket.IO connection; ``code`` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class AckTimeout(TimeoutError):
    """No acknowledgement came in time."""


def encode(packet_type: int, data: Any, ack_id: int | None = None) -> bytes:
    packet: dict[str, Any] = {"type": packet_type, "nsp": "/", "data": data}
    if ack_id is not None:
        packet["id"] = ack_id
    encoded: bytes = msgpack.packb(packet, use_bin_type=True)
    return encoded


class SocketIO:
    """One Socket.IO connection: ``call`` with an acknowledgement, events to a handler."""

    def __init__(self, ws: WebSocket, on_event: EventHandler) -> None:
        self._ws = ws
        self._on_event = on_event
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        auth: dict[str, Any],
        on_event: EventHandler,
        *,
        source: str,
        timeout: float,
    ) -> SocketIO:
        ws = await asyncio.wait_for(WebSocket.connect(host, port, PATH, source=source), timeout)
        try:
            opcode, body = await asyncio.wait_for(ws.receive(), timeout)
            if opcode != OP_TEXT or not body.startswith(b"0"):
                raise WireClosed("no Engine.IO open packet")
            json.loads(body[1:])
            ws.send_binary(encode(CONNECT, auth))
            while True:
                opcode, body = await asyncio.wait_for(ws.receive(), timeout)
                if opcode == OP_TEXT:
                    if body == b"2":
                        ws.send_text("3")
                    continue
                packet = msgpack.unpackb(body, raw=False)
                if packet.get("type") == CONNECT:
                    break
                if packet.get("type") == CONNECT_ERROR:
                    data = packet.get("data") or {}
                    detail = data.get("data") if isinstance(data, dict) else None
                    code = detail.get("code") if isinstance(detail, dict) else None
                    raise Refused(str(code or "connect_error"))
        except BaseException:
            ws.abort()
            raise
        connection = cls(ws, on_event)
        connection._task = asyncio.create_task(connection._read())
        return connection

    async def call(self, event: str, payload: Any, timeout: float) -> Any:
        """Send an event with an acknowledgement id and return the reply."""
        self._next_id += 1
        ack_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            self._ws.send_binary(encode(EVENT, [event, payload], ack_id))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise AckTimeout(event) from exc
        finally:
            self._acks.pop(ack_id, None)

    async def _read(self) -> None:
        try:
            while True:
                opcode, body = await self._ws.receive()
                if opcode == OP_TEXT:
                    if body == b"2":
                        self._ws.send_text("3")
                    elif body == b"1":
                        break
                    continue
                if opcode != OP_BINARY:
                    continue
                packet = msgpack.unpackb(body, raw=False)
                kind = packet.get("type")
                data = packet.get("data")
                if kind == EVENT and isinstance(data, list) and data:
                    self._on_event(data[0], data[1] if len(data) > 1 else None)
                elif kind == ACK:
                    future = self._acks.get(packet.get("id", -1))
                    if future is not None and not future.done():
                        future.set_result(data[0] if isinstance(data, list) and data else data)
                elif kind == DISCONNECT:
                    break
        except WireClosed:
            pass
        finally:
            self._ws.abort()
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(WireClosed("closed while waiting for a reply"))
            self.closed.set()

    async def leave(self, timeout: float) -> None:
        """Close as a browser leaving the page does: a WebSocket close frame, then wait for
        the server's (dropped after ``timeout``)."""
        self._ws.start_close()
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        self._ws.abort()
        if self._task is not None:
            self._task.cancel()
