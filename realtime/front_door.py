"""The front door of a listening port: new Socket.IO WebSockets served below aiohttp.

Every connection to the port is read here first. A request that opens a new Engine.IO
WebSocket (``GET /socket.io/?EIO=4&transport=websocket`` with a well-formed WebSocket
upgrade and no session id) is answered here and the connection is then served by this
protocol alone: frames are parsed as they arrive and handed to the connection's
``LeanSocket``; between messages nothing waits for an idle connection (no task, no coroutine
frames, no request or response objects). Any other request (pages, the API, long-polling,
an unusual or malformed upgrade) is handed to aiohttp with the bytes read so far, so aiohttp
and python-engineio answer it exactly as without this door.

Why: served through aiohttp's request handler, a held connection kept about 13 KB of Python
heap in aiohttp's protocol, request, WebSocket response and the chain of coroutines waiting
on it (``python -m bench.conn_memory``, docs/benchmarks.md).

The Engine.IO handshake itself is python-engineio's (``LeanEngineServer.handle_request``):
origin checks, the connection ceiling and the OPEN packet work as on the aiohttp path.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from engineio import exceptions, packet

from realtime.lean_engineio import (
    DOOR_KEY,
    PONG,
    LeanEngineServer,
    LeanSocket,
    spawn,
    websocket_frame,
)

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 8192
"""A longer request head goes to aiohttp, which applies its own limits."""
HEAD_TIMEOUT = 30.0
"""Seconds a new connection may take to send its request head."""
MAX_PENDING = 32
"""Messages read but not yet handled; past this the connection is not read until they are."""

_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG_FRAME = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_PROTOCOL_ERROR, _INVALID_DATA, _TOO_BIG, _NORMAL = 1002, 1007, 1009, 1000

_HEAD, _HANDSHAKE, _OPEN, _CLOSING = range(4)


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _ACCEPT_GUID).digest()).decode()


def unmask(payload: bytes | bytearray, mask: bytes | bytearray) -> bytes:
    """XOR a client frame's payload with its 4-byte mask (RFC 6455 §5.3)."""
    length = len(payload)
    if length == 0:
        return b""
    key = (bytes(mask) * (length // 4 + 1))[:length]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(length, "little")


def close_frame(code: int) -> bytes:
    """An unmasked close frame carrying ``code``."""
    return struct.pack("!BBH", 0x80 | _CLOSE, 2, code)


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
    """Request line and headers (names lower-cased, repeats joined by commas) of an HTTP/1
    request head without its final empty line; ``None`` if it is not plainly well-formed."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or not name.isascii() or any(c in name for c in " \t"):
            return None
        key = name.lower()
        value = value.strip(" \t")
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return method, target, version, headers


def _is_websocket_upgrade(headers: dict[str, str]) -> bool:
    if headers.get("upgrade", "").lower() != "websocket":
        return False
    if "upgrade" not in (
        token.strip().lower() for token in headers.get("connection", "").split(",")
    ):
        return False
    if headers.get("sec-websocket-version") != "13" or "host" not in headers:
        return False
    if "content-length" in headers or "transfer-encoding" in headers:
        return False
    try:
        return len(base64.b64decode(headers.get("sec-websocket-key", ""), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


class FrontDoor:
    """Serves new Engine.IO WebSockets of ``engine`` on ``path``; hands the rest to aiohttp."""

    def __init__(
        self,
        engine: LeanEngineServer,
        path: str = "/socket.io/",
        *,
        head_timeout: float = HEAD_TIMEOUT,
    ) -> None:
        self.engine = engine
        self.path = path
        self.head_timeout = head_timeout
        self.prefix = f"GET {path}?".encode()
        """How every request this door may serve begins."""
        self.waiting: set[DoorProtocol] = set()
        """Connections that have not yet sent a request head (closed when the site stops)."""

    def protocol_factory(self, http: Callable[[], asyncio.Protocol]) -> Callable[[], DoorProtocol]:
        """A protocol factory for ``loop.create_server``; ``http`` makes aiohttp's protocol."""
        return lambda: DoorProtocol(self, http)

    def close_waiting(self) -> None:
        """Close the connections still on their request head."""
        for protocol in list(self.waiting):
            if protocol.transport is not None:
                protocol.transport.close()
        self.waiting.clear()

    def take(self, method: str, target: str, version: str, headers: dict[str, str]) -> str | None:
        """The query string of a request this door serves, or ``None`` for aiohttp's."""
        if method != "GET" or version != "HTTP/1.1":
            return None
        path, _, query = target.partition("?")
        if path != self.path:
            return None
        fields = parse_qs(query)
        if fields.get("EIO") != ["4"] or fields.get("transport") != ["websocket"]:
            return None
        if "sid" in fields or "j" in fields or not _is_websocket_upgrade(headers):
            return None
        return query


class DoorProtocol(asyncio.Protocol):
    """One connection: its request head, then (if this door serves it) its WebSocket.

    Once open, it is also the WebSocket object python-engineio's socket writes to
    (``send``, ``close``, ``environ``)."""

    __slots__ = (
        "_buffer",
        "_counted",
        "_door",
        "_ended",
        "_fragment_opcode",
        "_fragments",
        "_held",
        "_http",
        "_lost",
        "_paused",
        "_pending",
        "_reader",
        "_socket",
        "_state",
        "_timer",
        "environ",
        "transport",
    )

    def __init__(self, door: FrontDoor, http: Callable[[], asyncio.Protocol]) -> None:
        self._door = door
        self._http = http
        self.transport: asyncio.Transport | None = None
        self.environ: dict[str, Any] = {}
        self._state = _HEAD
        self._buffer = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._socket: LeanSocket | None = None
        self._pending: deque[bytes | str] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._paused = False
        self._fragments: bytearray | None = None
        self._fragment_opcode = 0
        self._held: bytearray | None = None
        self._lost = False
        self._counted = False
        self._ended = False

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._door.waiting.add(self)
        self._timer = asyncio.get_running_loop().call_later(
            self._door.head_timeout, self._head_timed_out
        )

    def data_received(self, data: bytes) -> None:
        state = self._state
        if state == _OPEN:
            self._buffer += data
            if self._socket is not None:
                self._read_frames()
        elif state == _HEAD:
            self._buffer += data
            self._read_head()
        elif state == _HANDSHAKE:
            self._buffer += data
            if len(self._buffer) > self._door.engine.max_http_buffer_size + 14:
                self._fail(_TOO_BIG)

    def eof_received(self) -> bool | None:
        if self._state == _HEAD and self._buffer:
            self._hand_to_http(eof=True)
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._lost:
            return
        self._lost = True
        if self._counted:
            self._counted = False
            self._door.engine.open_websockets -= 1
        if self._socket is not None and self._reader is None:
            spawn(self._end())

    # -- the request head ---------------------------------------------------------------

    def _stop_head_timer(self) -> None:
        self._door.waiting.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._state == _HEAD and self.transport is not None:
            self._door.waiting.discard(self)
            self.transport.close()

    def _read_head(self) -> None:
        buffer = self._buffer
        prefix = self._door.prefix
        if len(buffer) < len(prefix):
            if not prefix.startswith(buffer):
                self._hand_to_http()
            return
        if not buffer.startswith(prefix):
            self._hand_to_http()
            return
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                self._hand_to_http()
            return
        if end > MAX_HEAD_BYTES:
            self._hand_to_http()
            return
        parsed = parse_head(bytes(buffer[:end]))
        query = self._door.take(*parsed) if parsed is not None else None
        if parsed is None or query is None:
            self._hand_to_http()
            return
        self._stop_head_timer()
        del buffer[: end + 4]
        self._state = _HANDSHAKE
        self.environ = self._environ(parsed[1], query, parsed[3])
        spawn(self._handshake())

    def _hand_to_http(self, eof: bool = False) -> None:
        """Give the connection to aiohttp, with what it sent so far."""
        self._stop_head_timer()
        transport = self.transport
        assert transport is not None
        http = self._http()
        data = bytes(self._buffer)
        self._buffer = bytearray()
        self._state = _CLOSING
        self.transport = None
        transport.set_protocol(http)
        http.connection_made(transport)
        if data:
            http.data_received(data)
        if eof:
            http.eof_received()

    def _environ(self, target: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": query,
            "RAW_URI": target,
            "PATH_INFO": self._door.path,
            "SCRIPT_NAME": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": peer[0] if isinstance(peer, tuple) else "",
            "wsgi.url_scheme": headers.get("x-forwarded-proto", "http"),
            DOOR_KEY: self,
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return environ

    async def _handshake(self) -> None:
        try:
            result = await self._door.engine.handle_request(self.environ)
        except Exception:
            log.exception("a WebSocket handshake failed")
            result = None  # answered with 500 below
        if self._state == _HANDSHAKE:  # refused before the WebSocket opened
            self._respond(result)

    def _respond(self, response: Any) -> None:
        """Write an HTTP response (python-engineio's refusal) and close."""
        transport = self.transport
        self._state = _CLOSING
        if transport is None:
            return
        if not isinstance(response, web.Response):
            response = web.Response(status=500, text="the connection could not be set up")
        body = response.body if isinstance(response.body, bytes) else b""
        lines = [f"HTTP/1.1 {response.status} {response.reason}"]
        for name, value in response.headers.items():
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                lines.append(f"{name}: {value}")
        lines += [
            f"Content-Length: {len(body)}",
            "Connection: close",
            "X-Content-Type-Options: nosniff",
            "Cache-Control: no-store",
        ]
        self._write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        transport.close()

    # -- the WebSocket, as python-engineio's socket sees it -----------------------------

    async def serve(self, handler: Callable[[Any], Awaitable[None]]) -> None:
        """Accept the WebSocket and give it to the socket's ``handler`` (called from the
        Engine.IO handshake, in place of aiohttp's WebSocket response)."""
        transport = self.transport
        if self._state == _HANDSHAKE and transport is not None:
            key = self.environ["HTTP_SEC_WEBSOCKET_KEY"]
            # Held until the socket's first packets (the OPEN) are written behind it: one
            # write(2) for both (a write to a loopback connection costs the writer ~10 µs).
            self._held = bytearray(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n"
                + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n".encode()
            )
            self._state = _OPEN
        if not self._lost:
            self._counted = True
            self._door.engine.open_websockets += 1
        try:
            await handler(self)
        finally:
            self._release()

    def hand_over(self, socket: LeanSocket) -> None:
        """From now on this protocol reads the connection for ``socket``."""
        self._socket = socket
        self._release()
        if self._lost:
            spawn(self._end())
        elif self._buffer:
            self._read_frames()

    async def send(self, message: bytes | str) -> None:
        if self._state == _OPEN:
            self._write(websocket_frame(message))

    async def close(self) -> None:
        """End the WebSocket from the server's side."""
        self._close(_NORMAL)

    async def wait(self) -> bytes | str:
        """Reading is this protocol's own: frames are never awaited."""
        raise OSError("frames of this WebSocket are read by its protocol")

    # -- frames ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            held += data
            return
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _release(self) -> None:
        """Write what was held behind the 101 response."""
        held = self._held
        if held is not None:
            self._held = None
            self._write(bytes(held))

    def _close(self, code: int) -> None:
        transport = self.transport
        if self._state == _OPEN and transport is not None:
            self._state = _CLOSING
            self._write(close_frame(code))
            self._release()
            transport.close()

    def _fail(self, code: int) -> None:
        if self._state == _OPEN:
            self._close(code)
        elif self.transport is not None:  # before the 101: no close frame
            self._state = _CLOSING
            self.transport.close()

    def _read_frames(self) -> None:
        buffer = self._buffer
        limit = self._door.engine.max_http_buffer_size
        while self._state == _OPEN and len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            opcode, length = first & 0x0F, second & 0x7F
            if first & 0x70 or not second & 0x80:  # extension bits, or a client frame unmasked
                self._fail(_PROTOCOL_ERROR)
                return
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if opcode >= _CLOSE and (length > 125 or not first & 0x80):
                self._fail(_PROTOCOL_ERROR)
                return
            if length > limit:
                self._fail(_TOO_BIG)
                return
            end = start + 4 + length
            if len(buffer) < end:
                return
            payload = unmask(buffer[start + 4 : end], buffer[start : start + 4])
            del buffer[:end]
            self._frame(opcode, bool(first & 0x80), payload, limit)
        if not buffer and self._buffer is buffer:
            self._buffer = bytearray()  # not the room a large message once took

    def _frame(self, opcode: int, final: bool, payload: bytes, limit: int) -> None:
        if opcode == _PING:
            self._write(struct.pack("!BB", 0x80 | _PONG_FRAME, len(payload)) + payload)
            return
        if opcode == _PONG_FRAME:
            return
        if opcode == _CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else _NORMAL
            self._close(code if 1000 <= code < 5000 and code not in (1004, 1005, 1006) else _NORMAL)
            return
        if opcode == _CONTINUATION:
            fragments = self._fragments
            if fragments is None:
                self._fail(_PROTOCOL_ERROR)
                return
            if len(fragments) + len(payload) > limit:
                self._fail(_TOO_BIG)
                return
            fragments += payload
            if not final:
                return
            self._fragments = None
            opcode, payload = self._fragment_opcode, bytes(fragments)
        elif opcode in (_TEXT, _BINARY):
            if self._fragments is not None:
                self._fail(_PROTOCOL_ERROR)
                return
            if not final:
                self._fragments, self._fragment_opcode = bytearray(payload), opcode
                return
        else:
            self._fail(_PROTOCOL_ERROR)
            return
        if opcode == _TEXT:
            try:
                self._message(payload.decode("utf-8"))
            except UnicodeDecodeError:
                self._fail(_INVALID_DATA)
        else:
            self._message(payload)

    def _message(self, data: bytes | str) -> None:
        socket = self._socket
        assert socket is not None
        if data == PONG:  # the commonest message of a held connection, handled at once
            socket.schedule_ping()
            return
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        pending.append(data)
        if len(pending) >= MAX_PENDING and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._handle_pending(socket, pending))

    async def _handle_pending(self, socket: LeanSocket, pending: deque[bytes | str]) -> None:
        try:
            while pending:
                data = pending.popleft()
                if self._paused and len(pending) <= MAX_PENDING // 2:
                    self._paused = False
                    if self.transport is not None and not self._lost:
                        self.transport.resume_reading()
                try:
                    await socket.receive(packet.Packet(encoded_packet=data))
                except (exceptions.UnknownPacketError, ValueError, IndexError):
                    continue  # not an Engine.IO packet: ignored, as on the aiohttp path
                except exceptions.SocketIsClosedError:
                    pending.clear()
                except Exception:
                    log.exception("an Engine.IO packet could not be handled")
        finally:
            self._reader = None
            if not pending and self._pending is pending:
                self._pending = None  # a deque's block is ~600 bytes: not kept while idle
            if self._lost:
                await self._end()

    async def _end(self) -> None:
        """The connection is gone: close its Engine.IO socket (Socket.IO's disconnect)."""
        socket = self._socket
        if self._ended or socket is None:
            return
        self._ended = True
        self.transport = None
        self.environ = {}
        await socket.close(wait=False, abort=True, reason=socket.server.reason.TRANSPORT_CLOSE)
        if socket.server.sockets.get(socket.sid) is socket:
            del socket.server.sockets[socket.sid]


class DoorSite(web.TCPSite):
    """aiohttp's TCP site with a ``FrontDoor`` in front of its request handler."""

    def __init__(self, runner: web.BaseRunner, door: FrontDoor, *args: Any, **kwargs: Any) -> None:
        super().__init__(runner, *args, **kwargs)
        self._door = door

    async def start(self) -> None:
        await web.BaseSite.start(self)
        http = self._runner.server
        assert http is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._door.protocol_factory(http),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port

    async def stop(self) -> None:
        await super().stop()
        self._door.close_waiting()
