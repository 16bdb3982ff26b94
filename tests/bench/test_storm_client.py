"""The storm's virtual student: where it comes back from, and how failed upgrades are told."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.storm.student import failure_reason, retry_address
from bench.storm.wire import HandshakeFailed, WebSocket


def test_retries_come_from_many_loopback_addresses_apart_from_other_workers() -> None:
    first = {retry_address("127.0.0.2") for _ in range(300)}
    second = {retry_address("127.0.0.3") for _ in range(300)}
    assert len(first) > 250 and len(second) > 250
    for address in first | second:
        assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")
        assert not address.startswith("127.0.0.")
    assert {a.split(".")[1] for a in first}.isdisjoint({a.split(".")[1] for a in second})


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
