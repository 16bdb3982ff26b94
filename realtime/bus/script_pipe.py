"""One Redis connection that runs a Lua script for many callers at once (pipelined).

Every room event is published with the bus's script. Through redis-py a call costs about
140 µs of CPU here (connection pool, retry wrapper, command packing, reply parsing), while
the round trip itself costs about 26. This connection writes each call as soon as it is
asked for, coalescing what is asked for in the same turn of the event loop into one
write, and hands replies back in order (Redis answers a connection's commands in order).
So calls keep the order in which they were asked for, and a burst is one round trip.

Only what the script needs is spoken: commands out, and simple replies in (a status, an
error, an integer or a bulk string). A Redis that keeps the connection open but stops
answering fails the waiting calls after ``reply_timeout`` seconds, as a lost connection does.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, cast

from redis.asyncio.connection import SSLConnection, parse_url


class ScriptError(Exception):
    """Redis refused a call (its error reply)."""


_Reply = bytes | int | None

DEFAULT_REPLY_TIMEOUT = 10.0
"""Seconds a call may wait for its reply before the connection is given up."""


def pack_command(*parts: bytes | str | int) -> bytes:
    """A command in the Redis serialization protocol (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        raw = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class _ReplyProtocol(asyncio.Protocol):
    """Reads replies and resolves the waiting calls in order; gives up on the connection
    when the oldest call has waited ``reply_timeout`` seconds."""

    def __init__(self, reply_timeout: float = DEFAULT_REPLY_TIMEOUT) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[_Reply]] = deque()
        self.lost = False
        self._buffer = bytearray()
        self._outgoing: list[bytes] = []
        self._reply_timeout = reply_timeout
        self._sent_at: deque[float] = deque()  # when each waiting call was asked for
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, command: bytes) -> asyncio.Future[_Reply]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Reply] = loop.create_future()
        self.waiting.append(future)
        self._sent_at.append(loop.time())
        if self._watch is None:
            self._watch = loop.call_later(self._reply_timeout, self._check_overdue)
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(command)
        return future

    def _check_overdue(self) -> None:
        # One timer per connection, not per call: it looks at the oldest waiting call only.
        self._watch = None
        if not self._sent_at or self.lost:
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - self._sent_at[0]
        if waited >= self._reply_timeout:
            self._fail(TimeoutError(f"Redis did not answer within {self._reply_timeout:g} s"))
        else:
            self._watch = loop.call_later(self._reply_timeout - waited, self._check_overdue)

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self.transport is not None and not self.lost:
            self.transport.write(b"".join(outgoing))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\r\n", start)
            if end < 0:
                break
            kind, line = buffer[start], bytes(buffer[start + 1 : end])
            reply: _Reply | ScriptError
            if kind == 0x24:  # $ bulk string
                length = int(line)
                if length < 0:
                    reply, start = None, end + 2
                elif len(buffer) < end + 2 + length + 2:
                    break
                else:
                    reply = bytes(buffer[end + 2 : end + 2 + length])
                    start = end + 2 + length + 2
            elif kind == 0x2B:  # + status
                reply, start = line, end + 2
            elif kind == 0x3A:  # : integer
                reply, start = int(line), end + 2
            elif kind == 0x2D:  # - error
                reply, start = ScriptError(line.decode(errors="replace")), end + 2
            else:  # nothing this connection asks for answers with anything else
                self._fail(ConnectionError("unexpected reply from Redis"))
                return
            if not self.waiting:
                self._fail(ConnectionError("a reply from Redis that nobody asked for"))
                return
            future = self.waiting.popleft()
            self._sent_at.popleft()
            if not future.done():
                if isinstance(reply, ScriptError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        del buffer[:start]

    def _fail(self, exc: Exception) -> None:
        self.connection_lost(exc)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._sent_at.clear()
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(ConnectionError(f"the Redis connection closed: {exc}"))
                future.exception()  # the caller may be gone


class ScriptPipe:
    """Runs one Lua script over one pipelined connection, connecting again when it drops."""

    def __init__(
        self,
        url: str,
        script: str,
        *,
        client_name: str = "",
        connect_timeout: float = 10.0,
        reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
    ) -> None:
        self._options: dict[str, Any] = dict(parse_url(url))
        self._client_name = client_name
        self._script = script.encode()
        self._timeout = connect_timeout
        self._reply_timeout = reply_timeout
        self._protocol: _ReplyProtocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def call(self, keys: list[str], args: list[Any]) -> _Reply:
        """Run the script; its reply, ``ScriptError`` if Redis refused it,
        ``ConnectionError`` if the connection was lost (or Redis stopped answering) before
        the reply."""
        # EVAL with the script's text rather than EVALSHA: Redis finds it by its digest all
        # the same, and a Redis that lost its scripts (a restart) needs no reloading, which
        # would let a call overtake those asked for before it.
        command = pack_command(b"EVAL", self._script, len(keys), *keys, *args)
        return await (await self._connected()).send(command)

    async def _connected(self) -> _ReplyProtocol:
        protocol = self._protocol
        if protocol is not None and not protocol.lost:
            return protocol
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            protocol = self._protocol
            if protocol is None or protocol.lost:
                protocol = self._protocol = await asyncio.wait_for(self._connect(), self._timeout)
        return protocol

    async def _connect(self) -> _ReplyProtocol:
        loop = asyncio.get_running_loop()
        options = self._options

        def make_protocol() -> _ReplyProtocol:
            return _ReplyProtocol(self._reply_timeout)

        if "path" in options:
            _, protocol = await loop.create_unix_connection(make_protocol, options["path"])
        else:
            _, protocol = await loop.create_connection(
                make_protocol,
                options.get("host", "localhost"),
                options.get("port", 6379),
                ssl=self._tls_context(),
            )
        try:
            if options.get("password"):
                user = options.get("username")
                login = (user, options["password"]) if user else (options["password"],)
                await protocol.send(pack_command(b"AUTH", *login))
            if options.get("db"):
                await protocol.send(pack_command(b"SELECT", options["db"]))
            if self._client_name:
                await protocol.send(pack_command(b"CLIENT", b"SETNAME", self._client_name))
        except BaseException:
            if protocol.transport is not None:
                protocol.transport.abort()
            raise
        return protocol

    def _tls_context(self) -> ssl.SSLContext | None:
        """For ``rediss://``: verified TLS unless the URL says ``ssl_cert_reqs=none``."""
        if self._options.get("connection_class") is not SSLConnection:
            return None
        context = ssl.create_default_context()
        if str(self._options.get("ssl_cert_reqs", "required")).lower() in ("none", "optional"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
