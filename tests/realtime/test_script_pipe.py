"""The bus's publishing connection: a Lua script run for many callers over one pipelined
connection to a real Redis, replies in order, and back after Redis drops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from realtime.bus.script_pipe import ScriptError, ScriptPipe, _ReplyProtocol, pack_command

# KEYS[1]: a counter. ARGV[1]: "fail" to make the script fail.
COUNT = """
if ARGV[1] == 'fail' then return redis.error_reply('ERR told to fail') end
return tostring(redis.call('INCR', KEYS[1]))
"""


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert pack_command(b"EVALSHA", "ab", 1, b"k\r\n") == (
        b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$3\r\nk\r\n\r\n"
    )


async def test_replies_split_anywhere_reach_their_callers_in_order() -> None:
    protocol = _ReplyProtocol()
    asked = [protocol.send(b"") for _ in range(5)]
    stream = b"$3\r\nabc\r\n:42\r\n+OK\r\n-ERR no\r\n$-1\r\n"
    for i in range(0, len(stream), 3):
        protocol.data_received(stream[i : i + 3])
    assert [future.result() for future in asked[:3]] == [b"abc", 42, b"OK"]
    with pytest.raises(ScriptError, match="ERR no"):
        asked[3].result()
    assert asked[4].result() is None


async def test_a_reply_nobody_asked_for_fails_the_connection() -> None:
    protocol = _ReplyProtocol()
    waiting = protocol.send(b"")
    protocol.data_received(b"*1\r\n")  # an array: never asked for here
    assert protocol.lost
    with pytest.raises(ConnectionError):
        waiting.result()


async def test_calls_keep_their_order_and_errors_stay_their_own(
    redis_url: str, redis_prefix: str
) -> None:
    pipe = ScriptPipe(redis_url, COUNT)
    key = f"{redis_prefix}counter"
    try:
        replies = await asyncio.gather(
            *(pipe.call([key], ["fail" if n == 5 else "go"]) for n in range(20)),
            return_exceptions=True,
        )
    finally:
        await pipe.close()
    assert isinstance(replies[5], ScriptError)
    assert [int(r) for r in replies if isinstance(r, bytes)] == list(range(1, 20))


async def test_the_connection_comes_back_after_redis_drops_it(
    redis_url: str, redis_prefix: str, admin: aioredis.Redis
) -> None:
    name = f"{redis_prefix}pipe".replace(":", "-")
    pipe = ScriptPipe(redis_url, COUNT, client_name=name)
    key = f"{redis_prefix}counter"
    try:
        assert await pipe.call([key], ["go"]) == b"1"
        clients = await admin.client_list()
        (mine,) = [c for c in clients if c["name"] == name]
        await admin.client_kill_filter(_id=mine["id"])
        await asyncio.sleep(0.05)
        assert await pipe.call([key], ["go"]) == b"2"
        await admin.script_flush()  # Redis restarted: the script is loaded again
        assert await pipe.call([key], ["go"]) == b"3"
    finally:
        await pipe.close()


async def test_the_database_of_the_url_is_used(redis_prefix: str, admin: aioredis.Redis) -> None:
    pipe = ScriptPipe("redis://127.0.0.1:6379/3", COUNT)
    key = f"{redis_prefix}counter"
    other = aioredis.Redis.from_url("redis://127.0.0.1:6379/3")
    try:
        await pipe.call([key], ["go"])
        assert await other.get(key) == b"1"
        assert await admin.get(key) is None
    finally:
        await other.delete(key)
        await other.aclose()
        await pipe.close()


async def test_refused_credentials_are_an_error_not_a_hang(redis_prefix: str) -> None:
    pipe = ScriptPipe("redis://someone:wrong@127.0.0.1:6379/0", COUNT)
    try:
        with pytest.raises(ScriptError):
            await asyncio.wait_for(pipe.call([f"{redis_prefix}k"], ["go"]), 5)
    finally:
        await pipe.close()


async def test_a_redis_that_stops_answering_fails_the_calls_then_they_work_again(
    redis_url: str, redis_prefix: str, admin: aioredis.Redis
) -> None:
    pipe = ScriptPipe(redis_url, COUNT, reply_timeout=0.3)
    key = f"{redis_prefix}paused"
    try:
        assert await pipe.call([key], ["go"]) == b"1"
        await admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionError, match=r"did not answer within 0\.3 s"):
            await asyncio.wait_for(pipe.call([key], ["go"]), 5)
        assert asyncio.get_running_loop().time() - started < 1.2  # not the whole pause
        await asyncio.sleep(1.5)  # the pause is over
        # 3 if Redis ran the abandoned call when the pause ended, before its connection closed.
        assert await asyncio.wait_for(pipe.call([key], ["go"]), 5) in (b"2", b"3")
    finally:
        await pipe.close()
        await admin.delete(key)


async def test_a_slow_reply_within_the_deadline_is_kept(
    redis_url: str, redis_prefix: str, admin: aioredis.Redis
) -> None:
    pipe = ScriptPipe(redis_url, COUNT, reply_timeout=1.5)
    key = f"{redis_prefix}slow"
    try:
        assert await pipe.call([key], ["go"]) == b"1"
        await admin.execute_command("CLIENT", "PAUSE", 400, "ALL")
        first = asyncio.ensure_future(pipe.call([key], ["go"]))
        await asyncio.sleep(0.2)
        second = asyncio.ensure_future(pipe.call([key], ["go"]))
        assert await asyncio.wait_for(asyncio.gather(first, second), 5) == [b"2", b"3"]
    finally:
        await pipe.close()
        await admin.delete(key)
