"""A minimal WebSocket client over asyncio streams, enough for Engine.IO v4.

Client frames are masked; text, binary, ping, pong and close frames are understood, and
fragmented messages are reassembled. No extensions, no compression.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
MAX_MESSAGE = 16 << 20
GOING_AWAY = 1001


class WireClosed(ConnectionError):
    """The WebSocket closed (a close frame, EOF or a reset)."""


class HandshakeFailed(ConnectionError):
    """The server did not switch protocols; ``reason`` says how, in a word (for the tallies)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _no_answer_reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.IncompleteReadError):
        return "eof" if not exc.partial else "cut"
    if isinstance(exc, asyncio.LimitOverrunError):
        return "too_long"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, OSError):
        return f"os{exc.errno}"
    return type(exc).__name__


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    size = len(payload)
    repeated = (key * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return masked.to_bytes(size, "big")


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    size = len(payload)
    key = os.urandom(4)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + key + _mask(payload, key)


def _bound_socket(source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class WebSocket:
    """One client WebSocket; ``receive`` returns (opcode, payload) of whole messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.closed = False

    @classmethod
    async def connect(cls, host: str, port: int, path: str, *, source: str) -> WebSocket:
        sock = _bound_socket(source)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
        except BaseException:
            sock.close()
            raise
        key = base64.b64encode(os.urandom(16))
        request = (
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            ).encode()
            + b"Sec-WebSocket-Key: "
            + key
            + b"\r\n\r\n"
        )
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
            writer.close()
            raise HandshakeFailed("no answer to the upgrade", _no_answer_reason(exc)) from exc
        expected = base64.b64encode(hashlib.sha1(key + GUID).digest())
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if not head.startswith(b"HTTP/1.1 101") or expected not in head:
            writer.close()
            status = status_line.split(" ")[1] if status_line.count(" ") else "?"
            reason = "bad_accept" if status == "101" else f"status{status}"
            raise HandshakeFailed(status_line, reason)
        return cls(reader, writer)

    def send(self, opcode: int, payload: bytes) -> None:
        if self.closed:
            raise WireClosed("the socket is closed")
        self._writer.write(frame(opcode, payload))

    def send_text(self, text: str) -> None:
        self.send(OP_TEXT, text.encode())

    def send_binary(self, data: bytes) -> None:
        self.send(OP_BINARY, data)

    async def receive(self) -> tuple[int, bytes]:
        """The next text or binary message; answers pings; ``WireClosed`` at the end."""
        parts: list[bytes] = []
        first_opcode = 0
        try:
            while True:
                b0, b1 = await self._reader.readexactly(2)
                opcode = b0 & 0x0F
                size = b1 & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await self._reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await self._reader.readexactly(8))
                if size > MAX_MESSAGE:
                    raise WireClosed("message too large")
                key = await self._reader.readexactly(4) if b1 & 0x80 else b""
                payload = await self._reader.readexactly(size) if size else b""
                if key:
                    payload = _mask(payload, key)
                if opcode == OP_PING:
                    self.send(OP_PONG, payload)
                    continue
                if opcode == OP_PONG:
                    continue
                if opcode == OP_CLOSE:
                    self.abort()
                    raise WireClosed("closed by the server")
                if opcode != OP_CONT:
                    first_opcode = opcode
                parts.append(payload)
                if b0 & 0x80:
                    return first_opcode, parts[0] if len(parts) == 1 else b"".join(parts)
        except (asyncio.IncompleteReadError, OSError) as exc:
            self.abort()
            raise WireClosed(str(exc) or type(exc).__name__) from exc

    def start_close(self, code: int = GOING_AWAY) -> None:
        """Begin the close handshake (as a browser leaving the page does); the server's
        close frame, read by ``receive``, ends it."""
        if not self.closed:
            self._writer.write(frame(OP_CLOSE, struct.pack("!H", code)))

    def abort(self) -> None:
        """Drop the connection at once, without a close handshake."""
        if not self.closed:
            self.closed = True
            self._writer.transport.abort()
