"""The Redis bus: many processes or machines share channels through one Redis.

A publish is one Lua script (offset, capped history stream, pub/sub message), so history
and delivery can never disagree. Publishes go over a connection of their own
(``script_pipe``): those asked for together (a storm's joins announcing presence, a batch of
chat messages) reach Redis in one write and in the order they were asked for. One pub/sub
connection per node carries every channel the node is subscribed to; a single reader
delivers in order, fills gaps from the history (after a reconnect, say) and drops
duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime.bus.base import (
    DEFAULT_HISTORY_LENGTH,
    ONCE_KEY_SECONDS,
    Bus,
    BusEvent,
    History,
    MessageHandler,
)
from realtime.bus.script_pipe import ScriptPipe

log = logging.getLogger(__name__)

DEFAULT_KEY_TTL_SECONDS = 7 * 24 * 3600
MAX_BACKOFF_SECONDS = 5.0
MAX_CONNECTIONS = 64

# KEYS: offset key, history key, pub/sub channel. ARGV: payload, history length, ttl.
# A channel Redis does not know (new, expired or lost in a restart) starts at the server's
# time in microseconds, above any offset it had before. Offsets are formatted with %d: Lua
# numbers are doubles and would otherwise print in exponent notation.
# KEYS: offset key. ARGV: ttl. The head of a channel without messages is fixed at the
# server's time in microseconds minus one, so that its first message follows it without a
# gap: a member who attached to the empty channel resumes from the head like any other.
HEAD_SCRIPT = """
local head = redis.call('GET', KEYS[1])
if not head then
  local now = redis.call('TIME')
  head = string.format('%d', tonumber(now[1]) * 1000000 + tonumber(now[2]) - 1)
  redis.call('SET', KEYS[1], head, 'EX', ARGV[1])
end
return head
"""

# KEYS[4], ARGV[4] (publish_once): a key remembering the offset for ARGV[4] seconds; a
# publish with a remembered key sends nothing and answers its offset negated.
PUBLISH_SCRIPT = """
if KEYS[4] then
  local earlier = redis.call('GET', KEYS[4])
  if earlier then return '-' .. earlier end
end
local offset = redis.call('INCR', KEYS[1])
if offset == 1 then
  local now = redis.call('TIME')
  offset = tonumber(now[1]) * 1000000 + tonumber(now[2])
  redis.call('SET', KEYS[1], string.format('%d', offset))
end
local id = string.format('%d', offset)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id .. '-1', 'p', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[3], id .. '|' .. ARGV[1])
if KEYS[4] then redis.call('SET', KEYS[4], id, 'EX', ARGV[4]) end
return id
"""


class RedisBus(Bus):
    """Channels shared through Redis pub/sub, with offsets and a capped stream per channel."""

    def __init__(
        self,
        url: str,
        handler: MessageHandler,
        *,
        prefix: str = "urok:",
        history_length: int = DEFAULT_HISTORY_LENGTH,
        key_ttl_seconds: int = DEFAULT_KEY_TTL_SECONDS,
    ) -> None:
        super().__init__(handler, history_length)
        self._url = url
        self._prefix = prefix
        self._ttl = key_ttl_seconds
        self._redis: aioredis.Redis | None = None
        self._pubsub_redis: aioredis.Redis | None = None
        self._node_id = uuid.uuid4().hex[:12]
        self._publisher = ScriptPipe(
            url, PUBLISH_SCRIPT, client_name=f"{prefix}publish:{self._node_id}".replace(" ", "_")
        )
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribed: set[str] = set()
        self._last: dict[str, int] = {}
        self._confirm: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._pubsub_lock = asyncio.Lock()
        self._closing = False

    # -- names ----------------------------------------------------------------------------

    def _offset_key(self, channel: str) -> str:
        return f"{self._prefix}offset:{channel}"

    def _history_key(self, channel: str) -> str:
        return f"{self._prefix}history:{channel}"

    def _wire(self, channel: str) -> str:
        return f"{self._prefix}{channel}"

    @property
    def pubsub_client_name(self) -> str:
        """The CLIENT SETNAME of this node's pub/sub connection (unique per bus)."""
        return f"{self._prefix}pubsub:{self._node_id}".replace(" ", "_")

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        # Callers wait for a free connection rather than fail when a burst exceeds the pool.
        pool = aioredis.BlockingConnectionPool.from_url(
            self._url, max_connections=MAX_CONNECTIONS, timeout=10, health_check_interval=10
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        # The pub/sub connection is made again only by the reader (``_resubscribe``, a new
        # one under the lock that (un)subscribing takes): the client's own retries would
        # reconnect it from the reader and from a (UN)SUBSCRIBE at once, and two reads of
        # one connection make asyncio fail one of them and leave it half set up.
        self._pubsub_redis = aioredis.Redis.from_url(
            self._url,
            client_name=self.pubsub_client_name,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 0, supported_errors=()),
        )
        await self._redis.ping()
        self._pubsub = self._new_pubsub()
        self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")

    def _new_pubsub(self) -> PubSub:
        assert self._pubsub_redis is not None
        return self._pubsub_redis.pubsub(ignore_subscribe_messages=False)

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
        if self._pubsub_redis is not None:
            await self._pubsub_redis.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        await self._publisher.close()
        for future in self._confirm.values():
            if not future.done():
                future.cancel()
        self._confirm.clear()

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("the bus is not started")
        return self._redis

    # -- publish and history --------------------------------------------------------------

    async def publish(self, channel: str, payload: bytes) -> int:
        self._client()
        keys = [self._offset_key(channel), self._history_key(channel), self._wire(channel)]
        offset = await self._publisher.call(keys, [payload, self.history_length, self._ttl])
        if not isinstance(offset, bytes):
            raise ConnectionError(f"the publish script answered {offset!r}")
        return int(offset)

    async def publish_once(self, channel: str, payload: bytes, key: str) -> tuple[int, bool]:
        self._client()
        keys = [
            self._offset_key(channel),
            self._history_key(channel),
            self._wire(channel),
            f"{self._prefix}once:{channel}:{key}",
        ]
        args = [payload, self.history_length, self._ttl, ONCE_KEY_SECONDS]
        offset = await self._publisher.call(keys, args)
        if not isinstance(offset, bytes):
            raise ConnectionError(f"the publish script answered {offset!r}")
        number = int(offset)
        return abs(number), number > 0

    async def head(self, channel: str) -> int:
        raw = await self._client().eval(HEAD_SCRIPT, 1, self._offset_key(channel), self._ttl)
        return int(raw)

    async def history(self, channel: str, since: int, limit: int | None = None) -> History:
        limit = self.history_length if limit is None else limit
        client = self._client()
        async with client.pipeline(transaction=True) as pipe:
            pipe.get(self._offset_key(channel))
            pipe.xrange(self._history_key(channel), min=f"{since + 1}-0", count=limit + 1)
            raw_head, entries = await pipe.execute()
        head = int(raw_head) if raw_head is not None else 0
        if since > head or since < 0:
            return History(head, (), False)
        events = tuple(
            BusEvent(int(entry_id.split(b"-", 1)[0]), fields[b"p"]) for entry_id, fields in entries
        )
        if since == head:
            return History(head, (), True)
        complete = bool(events) and events[0].offset == since + 1 and len(events) <= limit
        return History(head, events[:limit], complete)

    # -- subscriptions --------------------------------------------------------------------

    @property
    def subscriptions(self) -> frozenset[str]:
        return frozenset(self._subscribed)

    async def subscribe(self, channel: str) -> None:
        if channel in self._subscribed:
            return
        await self._change("subscribe", channel)
        self._subscribed.add(channel)
        self._last[channel] = await self.head(channel)

    async def unsubscribe(self, channel: str) -> None:
        if channel not in self._subscribed:
            return
        self._subscribed.discard(channel)
        self._last.pop(channel, None)
        try:
            await self._change("unsubscribe", channel)
        except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError):
            # The pub/sub connection is lost: the next one subscribes only the channels still
            # wanted, and until then messages of this one are ignored.
            log.debug("a channel left while the pub/sub connection was lost")

    async def _change(self, kind: str, channel: str) -> None:
        """Send (UN)SUBSCRIBE and wait until Redis confirms it on the pub/sub connection."""
        wire = self._wire(channel)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm[(kind, wire)] = future
        try:
            async with self._pubsub_lock:
                assert self._pubsub is not None
                if kind == "subscribe":
                    await self._pubsub.subscribe(wire)
                else:
                    await self._pubsub.unsubscribe(wire)
            await asyncio.wait_for(asyncio.shield(future), timeout=10)
        finally:
            self._confirm.pop((kind, wire), None)

    # -- the reader -----------------------------------------------------------------------

    async def _read_forever(self) -> None:
        backoff = 0.05
        while not self._closing:
            try:
                assert self._pubsub is not None
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.01)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.05
                if message is not None:
                    await self._on_message(message)
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("bus connection lost; reconnecting in %.2f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                await self._resubscribe()
            except Exception:
                log.exception("bus reader failed; continuing")
                await asyncio.sleep(backoff)

    async def _resubscribe(self) -> None:
        """A new pub/sub connection with every channel again, then fill what was missed."""
        async with self._pubsub_lock:
            old = self._pubsub
            self._pubsub = self._new_pubsub()
            if old is not None:
                with contextlib.suppress(Exception):
                    await old.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            # Channels left while the old connection was lost are not on the new one.
            for (kind, _wire), future in self._confirm.items():
                if kind == "unsubscribe" and not future.done():
                    future.set_result(None)
            try:
                if self._subscribed:
                    await self._pubsub.subscribe(*(self._wire(c) for c in self._subscribed))
            except (RedisConnectionError, RedisTimeoutError, OSError):
                return  # the reader retries with a longer pause
        for channel in list(self._subscribed):
            try:
                await self._fill_gap(channel, await self.head(channel))
            except (RedisConnectionError, RedisTimeoutError, OSError):
                return

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        wire = message["channel"].decode() if isinstance(message["channel"], bytes) else ""
        if kind in (b"subscribe", b"unsubscribe", "subscribe", "unsubscribe"):
            name = kind.decode() if isinstance(kind, bytes) else kind
            future = self._confirm.get((name, wire))
            if future is not None and not future.done():
                future.set_result(None)
            return
        if kind not in (b"message", "message"):
            return
        channel = wire[len(self._prefix) :]
        if channel not in self._subscribed:
            return
        data: bytes = message["data"]
        raw_offset, _, payload = data.partition(b"|")
        offset = int(raw_offset)
        last = self._last.get(channel, 0)
        if offset <= last:
            return
        if offset > last + 1:
            await self._fill_gap(channel, offset - 1)
        await self._deliver(channel, offset, payload)

    async def _fill_gap(self, channel: str, upto: int) -> None:
        last = self._last.get(channel, 0)
        if upto <= last:
            return
        history = await self.history(channel, last, limit=upto - last)
        if not history.complete:
            log.warning("bus history of %s no longer reaches offset %d", channel, last)
        for event in history.events:
            if event.offset <= upto and channel in self._subscribed:
                await self._deliver(channel, event.offset, event.payload)

    async def _deliver(self, channel: str, offset: int, payload: bytes) -> None:
        if offset <= self._last.get(channel, 0):
            return
        self._last[channel] = offset
        try:
            delivered = self._handler(channel, offset, payload)
            if inspect.isawaitable(delivered):
                await delivered
        except Exception:
            log.exception("bus handler failed for %s", channel)
