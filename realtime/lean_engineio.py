"""Engine.IO over WebSocket with one task per connection.

python-engineio's WebSocket socket keeps four tasks per connection (the request handler, a
writer draining a queue, a task waiting for the next frame, a sleeping ping task) and makes
a new task and timer for every frame received and every packet sent; its service task wakes
once per connection per ping timeout. Under a storm of joins and a room's fan-out that is
much of a worker's CPU and memory. Here, for WebSocket connections:

- frames are read in the request handler's own loop, with no timeout around each read;
- packets are written to the WebSocket at once, with no queue and no writer task. The
  transport may buffer up to ``MAX_BACKLOG`` bytes for a slow client, so a write never waits
  and one slow member never holds up a room's fan-out; a client that falls further behind is
  disconnected (it comes back and resumes from its last offset);
- pings are timers, not sleeping tasks: a ping is sent every ``ping_interval`` after the
  client's last pong, and a client that has not answered within ``ping_timeout`` is closed;
  the timers fire on a grid of ``TIMER_GRID``, so that a worker wakes once for the pings of
  many connections rather than once for each (an idle wake-up costs a virtual machine's
  process tens of microseconds);
- a room's event is framed once (``websocket_frame``) and the same bytes are written to
  every member (``write_frame``): no per-member encoding, framing or awaiting;
- WebSocket compression (permessage-deflate) is not offered: room events are small, each
  compressing connection keeps a zlib state of a few hundred kilobytes, and a compressed
  stream cannot share one frame among members.

The Engine.IO protocol (packets, handshake, the events python-socketio handles) is
python-engineio's own: only how a WebSocket connection is served changes. The library is
pinned; ``tests/realtime/test_lean_engineio.py`` covers what this relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import struct
import time
from collections.abc import Coroutine
from typing import Any

import engineio
import socketio
from aiohttp import web
from engineio import exceptions, packet
from engineio.async_drivers import aiohttp as engineio_aiohttp
from engineio.async_socket import AsyncSocket

log = logging.getLogger(__name__)

DOOR_KEY = "urok.door"
"""The environment key of a connection served by ``realtime.front_door`` (its protocol)."""

MAX_BACKLOG = 1 << 20
"""Bytes a connection's transport may hold unsent before the client counts as gone."""

_running: set[asyncio.Future[None]] = set()

_BINARY, _TEXT = 0x2, 0x1
_FINAL = 0x80


def _dropped_if_behind(transport: asyncio.Transport) -> bool:
    """Abort a connection whose client holds more than ``MAX_BACKLOG`` bytes unread."""
    if transport.get_write_buffer_size() <= MAX_BACKLOG:
        return False
    log.info("a client fell %d bytes behind; closing it", MAX_BACKLOG)
    transport.abort()
    return True


class _DrainedQueue:
    """Stands for a socket's packet queue once its WebSocket is ready: lean sockets write at
    once, so the queue is needed only during the handshake. An ``asyncio.Queue`` with its
    deques and event is about 3 KB per connection."""

    def put_nowait(self, _item: object) -> None:
        """A packet for a connection that is going away: dropped."""

    async def put(self, _item: object) -> None:
        """As ``put_nowait``."""

    def empty(self) -> bool:
        return True

    def task_done(self) -> None:
        """Nothing was taken."""

    async def join(self) -> None:
        """Nothing to wait for."""


_DRAINED = _DrainedQueue()


def websocket_frame(encoded: bytes | str) -> bytes:
    """One unmasked, uncompressed WebSocket frame (RFC 6455 §5.2) of an encoded Engine.IO
    packet: binary for bytes, text for a string; ready to write to any connection."""
    if isinstance(encoded, str):
        payload, opcode = encoded.encode(), _TEXT
    else:
        payload, opcode = encoded, _BINARY
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", _FINAL | opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", _FINAL | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", _FINAL | opcode, 127, length)
    return header + payload


TIMER_GRID = 0.1
"""Seconds: ping and pong timers fire on multiples of this (see ``LeanSocket._set_timer``);
a ping comes at most this much later than its interval."""

_PING_FRAME = websocket_frame(packet.Packet(packet.PING).encode())
PONG = packet.Packet(packet.PONG).encode()
"""An encoded Engine.IO pong: what a held connection sends most."""


def spawn(work: Coroutine[Any, Any, None]) -> None:
    """Run a short piece of work (a ping, a close) without waiting for it; the task is
    referenced until it ends."""
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_running.discard)


class LeanSocket(AsyncSocket):  # type: ignore[misc]
    """A WebSocket Engine.IO connection served by its request handler alone."""

    last_ping: float | None
    connected: bool
    queue: Any  # the stock socket's ``asyncio.Queue``, then ``_DRAINED``
    _ws: Any
    _transport: asyncio.Transport | None
    _timer: asyncio.TimerHandle | None

    def adopt(self) -> None:
        """Make a freshly created stock socket a lean one (its class is switched)."""
        self._ws = None
        self._transport = None
        self._timer = None

    async def send(self, pkt: packet.Packet) -> None:
        if self.closed:
            raise exceptions.SocketIsClosedError()
        ws = self._ws
        if ws is None:  # before the WebSocket is ready (the handshake's OPEN packet)
            self.queue.put_nowait(pkt)
            return
        transport = self._transport
        if transport is not None and _dropped_if_behind(transport):
            return
        try:
            await ws.send(pkt.encode())
        except Exception:  # the connection is going away; the reader loop ends it
            return

    def write_frame(self, frame: bytes) -> bool:
        """Write a frame made by ``websocket_frame``; ``False`` if this connection cannot
        take one yet (still in its handshake), so the caller sends the packet instead."""
        transport = self._transport
        if self._ws is None or transport is None or self.closed:
            return False
        if not transport.is_closing() and not _dropped_if_behind(transport):
            transport.write(frame)
        return True  # written, or the connection is going away (the reader loop ends it)

    def schedule_ping(self) -> None:
        if self.last_ping:  # answered (or never asked): ask again after an interval
            self.last_ping = None
            self._set_timer(self.server.ping_interval, self._ping_due)

    def _set_timer(self, delay: float, callback: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        # On a grid, so that the timers of many connections fire together: one wake-up of
        # the worker pings them all, and their pongs come back together.
        when = math.ceil((loop.time() + delay) / TIMER_GRID) * TIMER_GRID
        self._timer = loop.call_at(when, callback)

    def _ping_due(self) -> None:
        self._timer = None
        if self.closing or self.closed:
            return
        self.last_ping = time.time()
        # Every held connection is pinged: the frame is made once and written at once,
        # with no task or packet per ping (most of an idle worker's CPU before).
        if not self.write_frame(_PING_FRAME):
            spawn(self._send_quietly(packet.Packet(packet.PING)))
        self._set_timer(self.server.ping_timeout, self._pong_due)

    def _pong_due(self) -> None:
        self._timer = None
        if self.last_ping and not (self.closing or self.closed):
            spawn(self._time_out())

    async def _time_out(self) -> None:
        transport = self._transport
        await self.close(wait=False, abort=True, reason=self.server.reason.PING_TIMEOUT)
        if transport is not None:
            transport.abort()

    async def _send_quietly(self, pkt: packet.Packet) -> None:
        with contextlib.suppress(exceptions.SocketIsClosedError):
            await self.send(pkt)

    async def _websocket_handler(self, ws: Any) -> None:
        if self.connected:  # an upgrade from long-polling: served the stock way
            await super()._websocket_handler(ws)
            return
        self.connected = True
        self.upgraded = True
        door = ws.environ.get(DOOR_KEY)
        if door is not None:
            self._transport = door.transport
        else:
            self._transport = getattr(ws.environ.get("aiohttp.request"), "transport", None)
        if self._transport is not None:
            self._transport.set_write_buffer_limits(high=MAX_BACKLOG)
        while not self.queue.empty():
            await ws.send(self.queue.get_nowait().encode())
            self.queue.task_done()
        self.queue = _DRAINED
        self._ws = ws
        if door is not None:  # the door's protocol reads the connection from now on
            door.hand_over(self)
            return
        try:
            await self._read(ws)
        finally:
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
            self._ws = None
            await ws.close()

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        await super().close(wait=wait, abort=abort, reason=reason)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ws = self._ws
        if ws is not None and not abort:
            # The server ended the connection: end the WebSocket too (the stock socket
            # waits for the client to go, up to a ping interval and timeout).
            self._ws = None
            spawn(ws.close())

    async def _read(self, ws: Any) -> None:
        limit = self.server.max_http_buffer_size
        while True:
            try:
                data = await ws.wait()
            except Exception:  # a close frame, an error frame, a lost connection
                return
            if data is None or len(data) > limit:
                return
            if data == PONG:  # the commonest packet of a held connection, handled directly
                self.schedule_ping()
                continue
            try:
                await self.receive(packet.Packet(encoded_packet=data))
            except exceptions.UnknownPacketError:
                continue
            except exceptions.SocketIsClosedError:
                return
            except Exception:
                log.exception("an Engine.IO packet could not be handled")


class PlainWebSocket(engineio_aiohttp.WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp WebSocket, accepted without compression."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse | None:
        door = environ.get(DOOR_KEY)
        if door is not None:  # accepted and read by ``realtime.front_door``
            self.environ = environ
            await door.serve(self.handler)
            return None
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        self.server.open_websockets += 1
        try:
            try:
                await self._sock.prepare(request)
            except Exception:
                await self._forget_socket()
                raise
            self.environ = environ
            await self.handler(self)
        finally:
            self.server.open_websockets -= 1
        return self._sock

    async def _forget_socket(self) -> None:
        """The upgrade was refused (a malformed request): python-engineio has already made
        the connection's socket, which would otherwise stay in ``sockets`` for good."""
        socket = getattr(self.handler, "__self__", None)
        if isinstance(socket, AsyncSocket):
            await socket.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)
            self.server.sockets.pop(socket.sid, None)


class LeanEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server whose WebSocket connections are ``LeanSocket``s.

    With ``connection_ceiling`` set, a new connection that would pass it is refused at once
    with 503 and a ``Retry-After``: a process that runs out of file descriptors can no longer
    accept (the event loop then drops connections unanswered) nor open anything else, while a
    quick refusal sends the client back to try again, on another worker of the shared port
    or later.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.async_mode == "aiohttp":
            drivers: dict[str, Any] = self.__dict__["_async"]  # set by the base class
            translate = drivers["translate_request"]

            def translate_request(request: Any) -> dict[str, Any]:
                # ``realtime.front_door`` passes the environment it made from the request.
                return request if isinstance(request, dict) else translate(request)

            self.__dict__["_async"] = {
                **drivers,
                "websocket": PlainWebSocket,
                "translate_request": translate_request,
            }
        self.connection_ceiling: int | None = None
        self.open_websockets = 0
        self.refused_at_ceiling = 0

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        ceiling = self.connection_ceiling
        if ceiling is not None and self.open_websockets >= ceiling:
            request = args[0] if args else None
            if isinstance(request, dict) or (
                isinstance(request, web.Request) and "sid" not in request.query
            ):
                return self._refuse_at_ceiling()
        return await super().handle_request(*args, **kwargs)

    def _refuse_at_ceiling(self) -> web.Response:
        self.refused_at_ceiling += 1
        if self.refused_at_ceiling == 1 or self.refused_at_ceiling % 1000 == 0:
            log.warning(
                "at the connection ceiling (%d): %d new connections refused so far",
                self.connection_ceiling,
                self.refused_at_ceiling,
            )
        response = web.json_response(
            {"error": {"code": "overloaded", "message": "this server is full; try again"}},
            status=503,
        )
        response.headers["Retry-After"] = str(random.randint(1, 3))
        return response

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "connect":
            socket = self.sockets.get(args[0])
            if type(socket) is AsyncSocket:
                socket.__class__ = LeanSocket
                socket.adopt()
        return await super()._trigger_event(event, *args, **kwargs)

    async def _service_task(self) -> None:
        """Lean sockets watch their own pongs: only forget closed ones now and then."""
        self.service_task_event = self.create_event()
        while not self.service_task_event.is_set():
            try:
                await asyncio.wait_for(self.service_task_event.wait(), self.ping_timeout)
            except TimeoutError:
                for sid, socket in list(self.sockets.items()):
                    if socket.closed:
                        self.sockets.pop(sid, None)


class LeanSocketIOServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio with ``LeanEngineServer`` underneath."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return LeanEngineServer
