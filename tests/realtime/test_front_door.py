"""The front door over real loopback sockets: new Socket.IO WebSockets served below aiohttp,
everything else handed to aiohttp, and bad input answered with a close code or a status."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgpack
import pytest
from aiohttp import web

from bench.storm.socketio_wire import ACK, CONNECT, EVENT, PATH, encode
from bench.storm.wire import OP_BINARY, OP_TEXT, WebSocket, frame
from realtime.bus import MemoryBus
from realtime.front_door import DoorSite, FrontDoor, accept_key, parse_head, unmask
from realtime.router import EventRouter
from realtime.server import RealtimeServer
from tests.conftest import free_port

ORIGIN = "http://school.example"


class Node:
    def __init__(self, realtime: RealtimeServer, door: FrontDoor, port: int) -> None:
        self.realtime = realtime
        self.door = door
        self.port = port


async def _accept_anyone(token: Any) -> Any:
    return {"token": token}


async def _echo(_call: Any, payload: Any) -> Any:
    return payload


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    router = EventRouter(events_per_second=1000, event_burst=1000)
    router.register("echo", int, _echo)
    realtime = RealtimeServer(
        router=router,
        authenticate=_accept_anyone,
        translate_error=lambda _exc: None,
        cors_allowed_origins=[ORIGIN],
    )
    realtime.use_bus(MemoryBus(realtime.deliver))
    app = web.Application()
    app.router.add_get("/hello", _hello)
    realtime.attach_to(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    door = realtime.front_door()
    door.head_timeout = 0.5
    await DoorSite(runner, door, "127.0.0.1", port).start()
    try:
        yield Node(realtime, door, port)
    finally:
        await realtime.close()
        await runner.cleanup()


async def _hello(_request: web.Request) -> web.Response:
    return web.Response(text="hello")


def _upgrade(key: bytes, *, path: str = PATH, extra: str = "") -> bytes:
    return (
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n{extra}"
        ).encode()
        + b"Sec-WebSocket-Key: "
        + key
        + b"\r\n\r\n"
    )


class Raw:
    """A bare TCP client: writes whatever it is given and reads unmasked server frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def opened(cls, port: int) -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        key = base64.b64encode(os.urandom(16))
        writer.write(_upgrade(key))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert f"Sec-WebSocket-Accept: {accept_key(key.decode())}".encode() in head
        opcode, body = await raw.frame()
        assert opcode == OP_TEXT and body.startswith(b"0{"), body
        return raw

    async def frame(self) -> tuple[int, bytes]:
        first, second = await asyncio.wait_for(self.reader.readexactly(2), 5)
        assert not second & 0x80, "a server frame is never masked"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    async def close_code(self) -> int:
        opcode, body = await self.frame()
        assert opcode == 0x8, (opcode, body)
        (code,) = struct.unpack("!H", body[:2])
        assert await asyncio.wait_for(self.reader.read(), 5) == b""  # then the server hangs up
        return code


async def _eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_the_accept_key_is_the_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_unmasking_is_its_own_inverse() -> None:
    payload, mask = os.urandom(1001), os.urandom(4)
    assert unmask(unmask(payload, mask), mask) == payload
    assert unmask(b"", mask) == b""


def test_a_head_that_is_not_plain_http_is_not_parsed() -> None:
    assert parse_head(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2") == (
        "GET",
        "/",
        "HTTP/1.1",
        {"host": "a", "x-a": "1,2"},
    )
    assert parse_head(b"GET /  HTTP/1.1\r\nHost: a") is None
    assert parse_head(b"GET / HTTP/1.1\r\n folded: a") is None
    assert parse_head(b"GET / HTTP/1.1\r\nno colon") is None


async def test_a_student_connects_calls_and_is_answered_through_the_door(node: Node) -> None:
    ws = await WebSocket.connect("127.0.0.1", node.port, PATH, source="127.0.0.1")
    opcode, body = await ws.receive()
    assert opcode == OP_TEXT and json.loads(body[1:])["pingInterval"] == 25000
    ws.send_binary(encode(CONNECT, {"token": "t"}))
    opcode, body = await ws.receive()
    assert msgpack.unpackb(body)["type"] == CONNECT
    ws.send_binary(encode(EVENT, ["echo", 41], ack_id=7))
    opcode, body = await ws.receive()
    reply = msgpack.unpackb(body)
    assert reply["type"] == ACK and reply["id"] == 7
    assert reply["data"] == [{"ok": True, "data": 41}]
    assert node.realtime.connection_count == 1
    assert node.realtime.sio.eio.open_websockets == 1
    ws.abort()
    await _eventually(lambda: node.realtime.connection_count == 0)
    await _eventually(lambda: node.realtime.sio.eio.open_websockets == 0)
    await _eventually(lambda: not node.realtime.sio.eio.sockets)


async def test_pages_and_other_requests_on_the_same_port_are_aiohttps(node: Node) -> None:
    base = f"http://127.0.0.1:{node.port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(2):  # the second over the same kept-alive connection
            async with http.get(f"{base}/hello") as response:
                assert response.status == 200 and await response.text() == "hello"
        # Long-polling is not offered: python-engineio's own refusal, through aiohttp.
        async with http.get(f"{base}/socket.io/?EIO=4&transport=polling") as response:
            assert response.status == 400
            assert "Invalid transport" in await response.text()
        async with http.get(f"{base}/missing") as response:
            assert response.status == 404


async def test_a_malformed_upgrade_gets_aiohttps_answer(node: Node) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(_upgrade(b"not-a-key"))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 400 "), head
    writer.close()
    assert node.realtime.sio.eio.sockets == {}


async def test_a_foreign_origin_is_refused_with_a_reason(node: Node) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(
        _upgrade(base64.b64encode(os.urandom(16)), extra="Origin: http://evil.example\r\n")
    )
    response = await asyncio.wait_for(reader.read(), 5)
    assert response.startswith(b"HTTP/1.1 400 "), response
    assert b"http://evil.example is not an accepted origin" in response
    writer.close()
    assert node.realtime.sio.eio.sockets == {}


async def test_at_the_ceiling_the_door_answers_503_with_retry_after(node: Node) -> None:
    node.realtime.sio.eio.connection_ceiling = 1
    held = await Raw.opened(node.port)
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(_upgrade(base64.b64encode(os.urandom(16))))
    response = await asyncio.wait_for(reader.read(), 5)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 "), head
    assert b"Retry-After: " in head
    assert json.loads(body)["error"]["code"] == "overloaded"
    assert node.realtime.sio.eio.refused_at_ceiling == 1
    held.writer.close()


async def test_an_unmasked_client_frame_is_a_protocol_error(node: Node) -> None:
    raw = await Raw.opened(node.port)
    raw.writer.write(struct.pack("!BB", 0x81, 1) + b"2")
    assert await raw.close_code() == 1002
    await _eventually(lambda: not node.realtime.sio.eio.sockets)
    assert node.realtime.sio.eio.open_websockets == 0


async def test_a_frame_over_the_size_cap_closes_with_1009(node: Node) -> None:
    raw = await Raw.opened(node.port)
    cap = node.realtime.sio.eio.max_http_buffer_size
    raw.writer.write(struct.pack("!BBQ", 0x82, 0x80 | 127, cap + 1) + os.urandom(4))
    assert await raw.close_code() == 1009


async def test_text_that_is_not_utf8_closes_with_1007(node: Node) -> None:
    raw = await Raw.opened(node.port)
    raw.writer.write(frame(OP_TEXT, b"4\xff\xfe"))
    assert await raw.close_code() == 1007


async def test_a_message_in_fragments_is_put_together(node: Node) -> None:
    raw = await Raw.opened(node.port)
    connect = encode(CONNECT, {"token": "t"})
    first, rest = connect[:3], connect[3:]
    opening = bytearray(frame(OP_BINARY, first))
    opening[0] &= 0x7F  # not final
    raw.writer.write(bytes(opening) + frame(0x0, rest))
    opcode, body = await raw.frame()
    assert opcode == OP_BINARY and msgpack.unpackb(body)["type"] == CONNECT


async def test_a_websocket_ping_is_answered_and_a_close_echoed(node: Node) -> None:
    raw = await Raw.opened(node.port)
    raw.writer.write(frame(0x9, b"are you there"))
    assert await raw.frame() == (0xA, b"are you there")
    raw.writer.write(frame(0x8, struct.pack("!H", 1001)))
    assert await raw.close_code() == 1001
    await _eventually(lambda: not node.realtime.sio.eio.sockets)


async def test_many_messages_at_once_are_all_handled_in_order(node: Node) -> None:
    raw = await Raw.opened(node.port)
    raw.writer.write(frame(OP_BINARY, encode(CONNECT, {"token": "t"})))
    opcode, body = await raw.frame()
    assert opcode == OP_BINARY and msgpack.unpackb(body)["type"] == CONNECT
    count = 150  # several times what is read before the connection pauses
    raw.writer.write(
        b"".join(frame(OP_BINARY, encode(EVENT, ["echo", n], ack_id=n)) for n in range(count))
    )
    acks = []
    for _ in range(count):
        opcode, body = await raw.frame()
        reply = msgpack.unpackb(body)
        assert opcode == OP_BINARY and reply["type"] == ACK
        acks.append((reply["id"], reply["data"][0]["data"]))
    assert acks == [(n, n) for n in range(count)]


async def test_a_request_head_that_never_ends_is_closed(node: Node) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: a\r\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert not node.door.waiting


class _CountedWrites(asyncio.Protocol):
    """Stands between the event loop and a door's protocol, keeping what it writes."""

    def __init__(self, door_protocol: asyncio.Protocol, writes: list[bytes]) -> None:
        self.inner = door_protocol
        self.writes = writes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(_WriteRecorder(transport, self.writes))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)


class _WriteRecorder:
    def __init__(self, transport: asyncio.BaseTransport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def test_the_101_and_the_open_packet_leave_in_one_write(node: Node) -> None:
    writes: list[bytes] = []
    make = node.door.protocol_factory(lambda: asyncio.Protocol())
    server = await asyncio.get_running_loop().create_server(
        lambda: _CountedWrites(make(), writes), "127.0.0.1", 0
    )
    try:
        port = server.sockets[0].getsockname()[1]
        raw = await Raw.opened(port)  # reads the 101 and the OPEN, and checks them
        assert len(writes) == 1
        assert writes[0].startswith(b"HTTP/1.1 101 ")
        _head, _, open_frame = writes[0].partition(b"\r\n\r\n")
        assert open_frame[0] == 0x80 | OP_TEXT and open_frame[1] == len(open_frame) - 2
        assert open_frame[2:].startswith(b"0{")
        raw.writer.write(frame(OP_BINARY, encode(CONNECT, {"token": "t"})))
        opcode, body = await raw.frame()
        assert opcode == OP_BINARY
        assert msgpack.unpackb(body)["type"] == CONNECT
        assert len(writes) == 2
        raw.writer.write(frame(0x8, struct.pack("!H", 1000)))
        assert await raw.close_code() == 1000
    finally:
        server.close()
        await server.wait_closed()
