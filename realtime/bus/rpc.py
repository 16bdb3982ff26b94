"""Requests and replies between processes through Redis pub/sub.

A process serves named endpoints (``media:0``) and calls others. A request carries a
correlation id and the caller's reply channel; the reply comes back on that channel. There is
no history and no retry: a request nobody serves fails at once, an unanswered one after a
timeout, and the caller decides what to tell its client. Bodies and the number of requests
waiting at either end are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[bytes]]

MAX_BODY_BYTES = 64 * 1024
"""The largest request or reply body (an SDP offer or answer is a few kilobytes)."""
MAX_PENDING = 256
"""Requests a process may wait on at once, and requests it may be handling at once."""
DEFAULT_TIMEOUT = 15.0
MAX_BACKOFF_SECONDS = 5.0


class RequestFailed(Exception):
    """The request was not answered: nobody serves the name, it timed out, or it is too big."""


class RedisRequests:
    """One process's end of request/reply over Redis: a caller and, optionally, a server."""

    def __init__(
        self, url: str, *, prefix: str = "urok:", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._url = url
        self._prefix = prefix
        self.timeout = timeout
        self._node = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._redis: aioredis.Redis | None = None
        self._sub_redis: aioredis.Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._handlers: dict[str, Handler] = {}
        self._handling: set[asyncio.Task[None]] = set()
        self._closing = False

    def _wire(self, name: str) -> str:
        return f"{self._prefix}rpc:{name}"

    @property
    def _reply_wire(self) -> str:
        return self._wire(f"reply:{self._node}")

    def _channels(self) -> list[str]:
        return [self._reply_wire, *(self._wire(name) for name in self._handlers)]

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self._url, health_check_interval=10)
        self._sub_redis = aioredis.Redis.from_url(self._url, health_check_interval=10)
        await self._redis.ping()
        self._pubsub = self._sub_redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(*self._channels())
        self._reader = asyncio.create_task(self._read_forever(), name="redis-requests")

    async def servers(self, name: str) -> int:
        """How many processes serve ``name`` now."""
        if self._redis is None:
            raise RuntimeError("requests are not started")
        ((_, count),) = await self._redis.pubsub_numsub(self._wire(name))
        return int(count)

    async def serve(self, name: str, handler: Handler) -> None:
        """Answer requests sent to ``name`` with ``handler`` (the body in, the reply out)."""
        self._handlers[name] = handler
        if self._pubsub is not None:
            await self._pubsub.subscribe(self._wire(name))

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for task in list(self._handling):
            task.cancel()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RequestFailed("closing"))
        self._waiting.clear()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
        for client in (self._sub_redis, self._redis):
            if client is not None:
                await client.aclose()

    async def call(self, name: str, body: bytes, timeout: float | None = None) -> bytes:
        """Send ``body`` to whoever serves ``name`` and return the reply body."""
        if self._redis is None:
            raise RuntimeError("requests are not started")
        if len(body) > MAX_BODY_BYTES:
            raise RequestFailed(f"the request is too big ({len(body)} bytes)")
        if len(self._waiting) >= MAX_PENDING:
            raise RequestFailed("too many requests are waiting")
        request_id = next(self._ids)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            message = msgspec.msgpack.encode(["q", request_id, self._reply_wire, body])
            receivers = await self._redis.publish(self._wire(name), message)
            if not receivers:
                raise RequestFailed(f"nobody serves {name}")
            try:
                return await asyncio.wait_for(future, timeout or self.timeout)
            except TimeoutError:
                raise RequestFailed(f"{name} did not answer in time") from None
        finally:
            self._waiting.pop(request_id, None)

    # -- the reader -----------------------------------------------------------------------

    async def _read_forever(self) -> None:
        backoff = 0.05
        while not self._closing:
            try:
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.05
                if message is not None and message.get("type") in ("message", b"message"):
                    self._on_message(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("request connection lost; reconnecting in %.2f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                await self._resubscribe()
            except Exception:
                log.exception("request reader failed; continuing")
                await asyncio.sleep(backoff)

    async def _resubscribe(self) -> None:
        assert self._sub_redis is not None
        old, self._pubsub = self._pubsub, self._sub_redis.pubsub(ignore_subscribe_messages=True)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.aclose()  # type: ignore[no-untyped-call, unused-ignore]
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
            await self._pubsub.subscribe(*self._channels())

    def _on_message(self, channel: bytes | str, data: bytes) -> None:
        if len(data) > MAX_BODY_BYTES + 512:
            log.warning("dropped an oversized request message (%d bytes)", len(data))
            return
        try:
            message: list[Any] = msgspec.msgpack.decode(data, type=list)
            kind, request_id = message[0], int(message[1])
        except (msgspec.DecodeError, IndexError, TypeError, ValueError):
            log.warning("dropped a malformed request message")
            return
        if kind == "a" and len(message) == 3 and isinstance(message[2], bytes):
            future = self._waiting.get(request_id)
            if future is not None and not future.done():
                future.set_result(message[2])
            return
        wire = channel.decode() if isinstance(channel, bytes) else channel
        name = wire[len(self._wire("")) :]
        handler = self._handlers.get(name)
        if kind != "q" or handler is None or len(message) != 4:
            return
        reply_to, body = message[2], message[3]
        if not isinstance(reply_to, str) or not isinstance(body, bytes):
            return
        if len(self._handling) >= MAX_PENDING:
            log.warning("too many requests being handled; one is left unanswered")
            return
        task = asyncio.ensure_future(self._handle(handler, request_id, reply_to, body))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, handler: Handler, request_id: int, reply_to: str, body: bytes) -> None:
        try:
            reply = await handler(body)
        except Exception:
            log.exception("a request handler failed")
            return
        if len(reply) > MAX_BODY_BYTES:
            log.warning("a reply of %d bytes is too big; left unanswered", len(reply))
            return
        assert self._redis is not None
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
            await self._redis.publish(reply_to, msgspec.msgpack.encode(["a", request_id, reply]))
