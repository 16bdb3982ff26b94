"""The storm's virtual student: where it comes back from, and how failed upgrades are told."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bench.storm.plan import ClientTuning, Seat, Target
from bench.storm.student import (
    CONNECTIONS_PER_ADDRESS,
    Student,
    failure_reason,
    first_address,
    retry_address,
)
from bench.storm.tally import Tally
from bench.storm.wire import HandshakeFailed, WebSocket
from classroom.errors import Overloaded
from realtime.bus import MemoryBus
from realtime.front_door import DoorSite
from realtime.router import Call, EventRouter
from realtime.server import RealtimeServer
from tests.conftest import free_port
from web import errors


def test_retries_come_from_many_loopback_addresses_apart_from_other_workers() -> None:
    first = {retry_address("127.0.0.2") for _ in range(300)}
    second = {retry_address("127.0.0.3") for _ in range(300)}
    assert len(first) > 250 and len(second) > 250
    for address in first | second:
        assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")
        assert not address.startswith("127.0.0.")
    assert {a.split(".")[1] for a in first}.isdisjoint({a.split(".")[1] for a in second})


def test_a_load_workers_students_spread_over_addresses_of_its_own() -> None:
    firsts = [first_address("127.0.0.2", n) for n in range(3 * CONNECTIONS_PER_ADDRESS)]
    assert firsts[0] == firsts[CONNECTIONS_PER_ADDRESS - 1] == "127.0.0.2"
    assert firsts[CONNECTIONS_PER_ADDRESS] == "127.1.2.1"
    assert firsts[-1] == "127.1.2.2"
    others = {first_address("127.0.0.3", n) for n in range(3 * CONNECTIONS_PER_ADDRESS)}
    assert others.isdisjoint(firsts)
    # Retries from a spread address still come from the worker's own retry range.
    assert {retry_address("127.1.2.2").split(".")[1] for _ in range(50)} == {
        retry_address("127.0.0.2").split(".")[1]
    }


@pytest.fixture
async def refusing_server() -> AsyncIterator[int]:
    async def full(_request: web.Request) -> web.Response:
        return web.Response(status=503, headers={"Retry-After": "2"})

    app = web.Application()
    app.router.add_get("/socket.io/", full)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port
    await runner.cleanup()


async def test_a_refused_upgrade_is_told_by_its_status(refusing_server: int) -> None:
    with pytest.raises(HandshakeFailed) as caught:
        await WebSocket.connect("127.0.0.1", refusing_server, "/socket.io/", source="127.0.0.1")
    assert caught.value.reason == "status503"
    assert failure_reason(caught.value) == "handshake:status503"


async def test_a_connection_dropped_unanswered_is_told_as_eof() -> None:
    async def drop(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(HandshakeFailed) as caught:
            await WebSocket.connect("127.0.0.1", port, "/socket.io/", source="127.0.0.1")
    finally:
        server.close()
        await server.wait_closed()
    assert failure_reason(caught.value) in {"handshake:eof", "handshake:reset"}


async def test_a_join_refused_as_overloaded_is_asked_again_on_the_same_connection() -> None:
    """As the lesson page does: the connection is kept and the join asked again after the
    ``retry_after`` the server gave (a new connection would cost the server a handshake)."""
    attempts: list[str] = []

    async def join(call: Call, _payload: dict[str, Any]) -> dict[str, Any]:
        attempts.append(call.sid)
        if len(attempts) < 3:
            raise Overloaded("too many people are joining right now", retry_after=0.5)
        return {"stream": {"offset": 4, "reload": False, "events": []}, "room": {}}

    async def anyone(token: Any) -> Any:
        return token

    router = EventRouter(translate_error=errors.translate)
    router.register("room.join", dict, join)
    realtime = RealtimeServer(router=router, authenticate=anyone, translate_error=errors.translate)
    realtime.use_bus(MemoryBus(realtime.deliver))
    app = web.Application()
    realtime.attach_to(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await DoorSite(runner, realtime.front_door(), "127.0.0.1", port).start()
    tally = Tally()
    student = Student(
        Seat(student_id=1, lesson_id=1, token="t", link="l", rank=2),
        Target("127.0.0.1", port),
        "127.0.0.1",
        tally,
        ClientTuning(join_timeout=10.0),
    )
    try:
        await student._enter(None)
        assert student.ready.is_set() and student.last_offset == 4
        assert len(attempts) == 3 and len(set(attempts)) == 1  # one connection throughout
        assert tally.join_waits == 2 and tally.rejoin_waits == 0
    finally:
        if student.conn is not None:
            student.conn.abort()
        await realtime.close()
        await runner.cleanup()
