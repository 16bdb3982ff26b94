"""The bus contract, run against the in-process bus and a real Redis alike."""

from __future__ import annotations

import asyncio
import time
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


async def test_offsets_grow_by_one_from_a_start_in_time(make_node: NodeFactory) -> None:
    node = await make_node()
    before = time.time_ns() // 1000
    empty_head = await node.bus.head("room:1")
    assert await node.bus.head("room:1") == empty_head, "an empty channel's head is fixed"
    offsets = [await node.bus.publish("room:1", b"a") for _ in range(3)]
    after = time.time_ns() // 1000
    first = offsets[0]
    assert offsets == [first, first + 1, first + 2]
    assert first == empty_head + 1, "the first message follows the empty channel's head"
    resumed = await node.bus.history("room:1", empty_head)
    assert resumed.complete and [e.offset for e in resumed.events] == offsets
    # Redis's clock is this machine's clock; a second of slack for rounding.
    assert before - 1_000_000 <= first <= after + 1_000_000
    assert first < 2**53, "JavaScript clients must read offsets exactly"
    other = await node.bus.publish("room:2", b"b")
    assert other > first + 2 and await node.bus.head("room:2") == other
    assert await node.bus.head("room:1") == first + 2


async def test_a_lost_channel_starts_again_above_its_old_offsets(
    make_node: NodeFactory, redis_url: str, redis_prefix: str
) -> None:
    node = await make_node()
    old = [await node.bus.publish("room:1", str(n).encode()) for n in range(50)]
    if isinstance(node.bus, MemoryBus):
        node.bus = MemoryBus(lambda *_: None)  # the process restarted
        await node.bus.start()
    else:
        admin = aioredis.Redis.from_url(redis_url)
        try:  # Redis restarted without persistence
            assert await admin.delete(*await admin.keys(f"{redis_prefix}*")) == 2
        finally:
            await admin.aclose()
    await asyncio.sleep(0.001)
    assert await node.bus.head("room:1") > old[-1], "a lost channel's head is above its past"
    new = await node.bus.publish("room:1", b"new")
    assert new > old[-1]
    stale = await node.bus.history("room:1", old[-1])
    assert not stale.complete, "a client resuming from an old offset must reload"
    assert stale.head == new


async def test_delivery_only_while_subscribed(make_node: NodeFactory) -> None:
    node = await make_node()
    first = await node.bus.publish("room:1", b"before")
    await node.bus.subscribe("room:1")
    assert node.bus.subscriptions == frozenset({"room:1"})
    await node.bus.publish("room:1", b"during")
    await node.bus.publish("room:2", b"elsewhere")
    await node.wait_for(1)
    await node.bus.unsubscribe("room:1")
    await node.bus.publish("room:1", b"after")
    await asyncio.sleep(0.1)
    assert node.received == [("room:1", first + 1, b"during")]
    assert node.bus.subscriptions == frozenset()


async def test_a_burst_arrives_complete_and_in_order(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.subscribe("room:7")
    await asyncio.gather(*(node.bus.publish("room:7", str(n).encode()) for n in range(500)))
    received = await node.wait_for(500)
    head = await node.bus.head("room:7")
    assert [offset for _, offset, _ in received] == list(range(head - 499, head + 1))
    assert sorted(int(payload) for _, _, payload in received) == list(range(500))


async def test_publishes_asked_for_together_keep_their_order(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.subscribe("room:7")
    offsets = await asyncio.gather(
        *(node.bus.publish("room:7", str(n).encode()) for n in range(300))
    )
    assert offsets == list(range(offsets[0], offsets[0] + 300)), "offsets in the asked order"
    received = await node.wait_for(300)
    assert [int(payload) for _, _, payload in received] == list(range(300))


async def test_a_publish_repeated_with_its_key_is_sent_once(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.subscribe("room:7")
    first = await node.bus.publish_once("room:7", b"hello", "chat:1:a")
    await node.bus.publish("room:7", b"between")
    again = await node.bus.publish_once("room:7", b"hello", "chat:1:a")
    other_key = await node.bus.publish_once("room:7", b"hello", "chat:1:b")
    other_channel = await node.bus.publish_once("room:8", b"hello", "chat:1:a")
    assert first[1] and not again[1] and other_key[1] and other_channel[1]
    assert again[0] == first[0], "a repeat answers the first publish's offset"
    assert other_key[0] == first[0] + 2
    await node.wait_for(3)
    await asyncio.sleep(0.05)
    assert [payload for _, _, payload in node.received] == [b"hello", b"between", b"hello"]


async def test_repeats_asked_for_together_are_sent_once(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.subscribe("room:7")
    answers = await asyncio.gather(
        *(node.bus.publish_once("room:7", b"hello", "chat:1:a") for _ in range(20))
    )
    assert [published for _, published in answers].count(True) == 1
    assert {offset for offset, _ in answers} == {answers[0][0]}
    await node.wait_for(1)
    await asyncio.sleep(0.05)
    assert len(node.received) == 1


async def test_publishing_goes_on_after_redis_forgets_its_script(
    redis_url: str, redis_prefix: str
) -> None:
    """Redis only: the in-process bus has no scripts to forget."""
    node = Node(bus=RedisBus(redis_url, lambda *_: None, prefix=redis_prefix))
    await node.bus.start()
    first = await node.bus.publish("room:3", b"first")
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await admin.script_flush()
        together = await asyncio.gather(
            *(node.bus.publish("room:3", str(n).encode()) for n in range(20))
        )
        await admin.script_flush()
        alone = await node.bus.publish("room:3", b"alone")
        history = await node.bus.history("room:3", first)
    finally:
        await admin.aclose()
        await node.bus.close()
    assert together == list(range(first + 1, first + 21))
    assert alone == first + 21
    assert [event.payload for event in history.events] == [
        *(str(n).encode() for n in range(20)),
        b"alone",
    ]


async def test_binary_payloads_round_trip(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.bus.subscribe("room:1")
    payload = bytes(range(256)) + b"|\x00|"
    offset = await node.bus.publish("room:1", payload)
    (delivered,) = await node.wait_for(1)
    assert delivered[2] == payload
    history = await node.bus.history("room:1", offset - 1)
    assert history.events[0].payload == payload


async def test_history_after_an_offset(make_node: NodeFactory) -> None:
    node = await make_node()
    offsets = [await node.bus.publish("room:1", f"m{n}".encode()) for n in range(1, 6)]
    start = offsets[0] - 1
    everything = await node.bus.history("room:1", start)
    assert everything.complete and everything.head == offsets[-1]
    assert [e.offset for e in everything.events] == offsets
    tail = await node.bus.history("room:1", offsets[2])
    assert tail.complete
    assert [(e.offset, e.payload) for e in tail.events] == [
        (offsets[3], b"m4"),
        (offsets[4], b"m5"),
    ]
    nothing = await node.bus.history("room:1", offsets[-1])
    assert nothing.complete and nothing.events == ()
    limited = await node.bus.history("room:1", start, limit=2)
    assert not limited.complete
    assert not (await node.bus.history("room:1", 0)).complete, "0 is no offset of this channel"


async def test_history_that_no_longer_reaches_back_is_incomplete(make_node: NodeFactory) -> None:
    node = await make_node(history_length=5)
    offsets = [await node.bus.publish("room:1", str(n).encode()) for n in range(300)]
    assert not (await node.bus.history("room:1", offsets[0])).complete
    recent = await node.bus.history("room:1", offsets[-4])
    assert recent.complete and [e.offset for e in recent.events] == offsets[-3:]


async def test_an_offset_from_the_future_is_incomplete(make_node: NodeFactory) -> None:
    node = await make_node()
    head = await node.bus.publish("room:1", b"x")
    future = await node.bus.history("room:1", head + 50)
    assert not future.complete
    assert future.head == head


async def test_two_nodes_share_channels_through_redis(make_node: NodeFactory) -> None:
    publisher = await make_node()
    subscriber = await make_node()
    bystander = await make_node()
    await subscriber.bus.subscribe("room:1")
    offset = await publisher.bus.publish("room:1", b"hello")
    assert await subscriber.wait_for(1) == [("room:1", offset, b"hello")]
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


async def redis_subscriber_and_publisher(
    make_node: NodeFactory, first: bytes, why: str
) -> tuple[Node, Node, int]:
    """Two Redis nodes, the first subscribed to ``room:1`` and holding the offset of ``first``
    (skips the test on the in-process bus: ``why`` says why)."""
    subscriber = await make_node()
    if not isinstance(subscriber.bus, RedisBus):
        pytest.skip(why)
    publisher = await make_node()
    await subscriber.bus.subscribe("room:1")
    offset = await publisher.bus.publish("room:1", first)
    await subscriber.wait_for(1)
    return subscriber, publisher, offset


async def test_nothing_is_lost_when_the_pubsub_connection_drops(
    make_node: NodeFactory, redis_url: str
) -> None:
    subscriber, publisher, first = await redis_subscriber_and_publisher(
        make_node, b"0", "a dropped connection is a Redis matter"
    )
    await drop_pubsub_connection(subscriber, redis_url)
    for n in range(1, 21):
        await publisher.bus.publish("room:1", str(n).encode())
    received = await subscriber.wait_for(21, timeout=15)
    await asyncio.sleep(0.2)
    assert [offset for _, offset, _ in received] == list(range(first, first + 21))
    assert [int(payload) for _, _, payload in received] == list(range(21))


async def test_a_channel_left_while_the_pubsub_connection_is_lost_stays_left(
    make_node: NodeFactory, redis_url: str
) -> None:
    subscriber, publisher, first = await redis_subscriber_and_publisher(
        make_node, b"0", "a dropped connection is a Redis matter"
    )
    await subscriber.bus.subscribe("room:2")
    await drop_pubsub_connection(subscriber, redis_url)
    # Neither an error nor a wait for a confirmation that the lost connection cannot bring
    # (its deadline is 10 s; this guard is only against a hang).
    await asyncio.wait_for(subscriber.bus.unsubscribe("room:2"), timeout=5)
    assert subscriber.bus.subscriptions == frozenset({"room:1"})
    await publisher.bus.publish("room:2", b"not for this node")
    for n in range(1, 4):
        await publisher.bus.publish("room:1", str(n).encode())
    received = await subscriber.wait_for(4, timeout=15)
    await asyncio.sleep(0.2)
    assert [(channel, offset) for channel, offset, _ in received] == [
        ("room:1", first + n) for n in range(4)
    ]


async def drop_pubsub_connection(node: Node, redis_url: str) -> None:
    """Have Redis close the node's pub/sub connection, as a restart or a network would."""
    assert isinstance(node.bus, RedisBus)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        name = node.bus.pubsub_client_name
        ids = [c["id"] for c in clients if c.get("name") == name]
        assert ids, "the pub/sub connection carries the bus's client name"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()


async def test_a_subscribed_node_goes_on_receiving_after_redis_loses_the_channel(
    make_node: NodeFactory, redis_url: str, redis_prefix: str
) -> None:
    subscriber, publisher, before = await redis_subscriber_and_publisher(
        make_node, b"before", "losing a channel under live subscribers is a Redis matter"
    )
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await admin.delete(*await admin.keys(f"{redis_prefix}*"))
    finally:
        await admin.aclose()
    after = await publisher.bus.publish("room:1", b"after")
    received = await subscriber.wait_for(2)
    assert received == [("room:1", before, b"before"), ("room:1", after, b"after")]
    assert after > before + 1


def test_the_url_picks_the_bus() -> None:
    assert isinstance(create_bus("memory://", lambda *_: None), MemoryBus)
    assert isinstance(create_bus("redis://127.0.0.1:6379/0", lambda *_: None), RedisBus)
    with pytest.raises(ValueError, match="memory:// or redis://"):
        create_bus("http://x", lambda *_: None)
