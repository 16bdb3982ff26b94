"""The bus contract, run against the in-process bus and a real Redis alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from realtime.bus import Bus, MemoryBus, RedisBus, create_bus

Delivery = tuple[str, int, bytes]


@dataclass
class Node:
    """A bus and what its handler received."""

    bus: Bus
    received: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, timeout: float = 5) -> list[Delivery]:
        async def enough() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.received


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture(params=["memory", "redis"])
async def make_node(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> AsyncIterator[NodeFactory]:
    """Makes bus nodes; for Redis every node of a test shares the test's own prefix.

    The in-process bus has one node per process, so tests of two nodes use Redis only.
    """
    made: list[Node] = []
    shared_memory: list[MemoryBus] = []

    async def factory(history_length: int = 1000) -> Node:
        node = Node(bus=MemoryBus(lambda *_: None))

        def handler(channel: str, offset: int, payload: bytes) -> None:
            node.received.append((channel, offset, payload))
            node.arrived.set()

        if request.param == "memory":
            if shared_memory:
                raise pytest.skip.Exception("the in-process bus has a single node")
            node.bus = MemoryBus(handler, history_length)
            shared_memory.append(node.bus)
        else:
            node.bus = RedisBus(
                redis_url, handler, prefix=redis_prefix, history_length=history_length
            )
        await node.bus.start()
        made.append(node)
        return node

    yield factory
    for node in made:
        await node.bus.close()


async def test_offsets_count_per_channel_from_one(make_node: NodeFactory) -> None:
    node = await make_node()
    assert await node.bus.head("room:1") == 0
    assert [await node.bus.publish("room:1", b"a") for _ in range(3)] == [1, 2, 3]
    assert await node.bus.publish("room:2", b"b") == 1
    assert await node.bus.head("room:1") == 3


async def test_delivery_only_while_subscribed(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.publish("room:1", b"before")
    await node.bus.subscribe("room:1")
    assert node.bus.subscriptions == frozenset({"room:1"})
    await node.bus.publish("room:1", b"during")
    await node.bus.publish("room:2", b"elsewhere")
    await node.wait_for(1)
    await node.bus.unsubscribe("room:1")
    await node.bus.publish("room:1", b"after")
    await asyncio.sleep(0.1)
    assert node.received == [("room:1", 2, b"during")]
    assert node.bus.subscriptions == frozenset()


async def test_a_burst_arrives_complete_and_in_order(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.subscribe("room:7")
    await asyncio.gather(*(node.bus.publish("room:7", str(n).encode()) for n in range(500)))
    received = await node.wait_for(500)
    assert [offset for _, offset, _ in received] == list(range(1, 501))
    assert sorted(int(payload) for _, _, payload in received) == list(range(500))


async def test_binary_payloads_round_trip(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.subscribe("room:1")
    payload = bytes(range(256)) + b"|\x00|"
    await node.bus.publish("room:1", payload)
    (delivered,) = await node.wait_for(1)
    assert delivered[2] == payload
    history = await node.bus.history("room:1", 0)
    assert history.events[0].payload == payload


async def test_history_after_an_offset(make_node: NodeFactory) -> None:
    node = await make_node()
    for n in range(1, 6):
        await node.bus.publish("room:1", f"m{n}".encode())
    everything = await node.bus.history("room:1", 0)
    assert everything.complete and everything.head == 5
    assert [e.offset for e in everything.events] == [1, 2, 3, 4, 5]
    tail = await node.bus.history("room:1", 3)
    assert tail.complete
    assert [(e.offset, e.payload) for e in tail.events] == [(4, b"m4"), (5, b"m5")]
    nothing = await node.bus.history("room:1", 5)
    assert nothing.complete and nothing.events == ()
    limited = await node.bus.history("room:1", 0, limit=2)
    assert not limited.complete


async def test_history_that_no_longer_reaches_back_is_incomplete(make_node: NodeFactory) -> None:
    node = await make_node(history_length=5)
    for n in range(300):
        await node.bus.publish("room:1", str(n).encode())
    assert not (await node.bus.history("room:1", 1)).complete
    recent = await node.bus.history("room:1", 297)
    assert recent.complete and [e.offset for e in recent.events] == [298, 299, 300]


async def test_an_offset_from_the_future_is_incomplete(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.publish("room:1", b"x")
    future = await node.bus.history("room:1", 50)
    assert not future.complete
    assert future.head == 1


async def test_two_nodes_share_channels_through_redis(make_node: NodeFactory) -> None:
    publisher = await make_node()
    subscriber = await make_node()
    bystander = await make_node()
    await subscriber.bus.subscribe("room:1")
    assert await publisher.bus.publish("room:1", b"hello") == 1
    assert await subscriber.wait_for(1) == [("room:1", 1, b"hello")]
    await asyncio.sleep(0.1)
    assert bystander.received == []


async def test_numsub_follows_subscriptions(
    make_node: NodeFactory, redis_url: str, redis_prefix: str
) -> None:
    node = await make_node()
    if isinstance(node.bus, MemoryBus):
        pytest.skip("PUBSUB NUMSUB is a Redis fact")
    client = aioredis.Redis.from_url(redis_url)
    try:
        channel = f"{redis_prefix}room:1"
        assert (await client.pubsub_numsub(channel))[0][1] == 0
        await node.bus.subscribe("room:1")
        assert (await client.pubsub_numsub(channel))[0][1] == 1
        await node.bus.unsubscribe("room:1")
        assert (await client.pubsub_numsub(channel))[0][1] == 0
    finally:
        await client.aclose()


async def test_nothing_is_lost_when_the_pubsub_connection_drops(
    make_node: NodeFactory, redis_url: str
) -> None:
    subscriber = await make_node()
    if not isinstance(subscriber.bus, RedisBus):
        pytest.skip("a dropped connection is a Redis matter")
    publisher = await make_node()
    await subscriber.bus.subscribe("room:1")
    await publisher.bus.publish("room:1", b"0")
    await subscriber.wait_for(1)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        name = subscriber.bus.pubsub_client_name
        ids = [c["id"] for c in clients if c.get("name") == name]
        assert ids, "the pub/sub connection carries the bus's client name"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()
    for n in range(1, 21):
        await publisher.bus.publish("room:1", str(n).encode())
    received = await subscriber.wait_for(21, timeout=15)
    await asyncio.sleep(0.2)
    assert [offset for _, offset, _ in received] == list(range(1, 22))
    assert [int(payload) for _, _, payload in received] == list(range(21))


def test_the_url_picks_the_bus() -> None:
    assert isinstance(create_bus("memory://", lambda *_: None), MemoryBus)
    assert isinstance(create_bus("redis://127.0.0.1:6379/0", lambda *_: None), RedisBus)
    with pytest.raises(ValueError, match="memory:// or redis://"):
        create_bus("http://x", lambda *_: None)
