"""Boards in the database, with a per-process copy of each board in use.

The database is the authority. Operations of one board that arrive while it is being
written are stored together by the next write (a group commit): one transaction first
writes the board's row (which serialises writers of one board across nodes), brings the
local copy up to date from ``board_op`` if another node wrote in between, answers resends
by client id from what is stored, resolves the new operations in order, inserts them and
sets the board's version. Only after the commit are the effects published, in ``seq``
order, and their senders answered: nothing is shown that a crash could take back. The room
offsets they got are written by the board's next transaction. An
effect that could not be published stays stored; members notice the gap in ``seq`` and
load it. Every ``compact_every`` operations the whole document is written to
``board_snapshot`` (a table of its own: the board's row, written by every batch, stays
small), so loading a board reads one snapshot and at most that many operations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec
from sqlalchemy import bindparam, insert, select, text, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from classroom.boards.document import (
    Actor,
    Board,
    Effect,
    Op,
    carried_over,
    decode_effect,
    encode_effect,
    from_snapshot,
    snapshot,
)
from classroom.rooms import LessonFacts
from classroom.storage.database import Database
from classroom.storage.models import Board as BoardRow
from classroom.storage.models import BoardOp, BoardSnapshot, LessonOccurrence

COMPACT_EVERY = 500
MAX_CATCH_UP = 1000
MAX_BATCH = 200

log = logging.getLogger(__name__)

Publish = Callable[[Effect], Awaitable[int]]
"""Delivers an accepted effect to the room and returns its channel offset."""


class Applied(msgspec.Struct, frozen=True):
    """The reply to an operation: its number on the board and its room offset."""

    seq: int
    offset: int | None
    repeated: bool


@dataclass(slots=True, eq=False)
class _Pending:
    """An operation waiting for its batch."""

    actor: Actor
    page: int
    op: Op
    client_id: str | None
    now: dt.datetime
    publish: Publish
    taken: bool = False
    board_id: int = 0
    effect: Effect | None = None
    result: Applied | None = None
    error: Exception | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def _interrupted() -> Exception:
    return RuntimeError("the board write was interrupted; send the operation again")


@dataclass(slots=True)
class _Held:
    board_id: int
    doc: Board
    snapshot_version: int
    checked_at: float


class Boards:
    """The boards of this process's lessons, kept up to date with the database."""

    def __init__(
        self,
        db: Database,
        *,
        compact_every: int = COMPACT_EVERY,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._db = db
        self._compact_every = compact_every
        self._max_batch = max_batch
        self._held: dict[int, _Held] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._queue: dict[int, list[_Pending]] = {}
        self._last_turn: dict[int, asyncio.Future[None]] = {}
        # Room offsets of published effects, stored by the board's next transaction.
        self._offsets: dict[int, list[dict[str, int]]] = {}

    def _lock(self, lesson_id: int) -> asyncio.Lock:
        lock = self._locks.get(lesson_id)
        if lock is None:
            lock = self._locks[lesson_id] = asyncio.Lock()
        return lock

    def forget(self, lesson_id: int) -> None:
        """Drop the local copy (the lesson ended here, or a write failed half-way)."""
        self._held.pop(lesson_id, None)

    async def document(
        self, lesson: LessonFacts, now: dt.datetime, *, max_age: float = 0.0
    ) -> Board:
        """The board of a lesson, at most ``max_age`` seconds behind the database."""
        async with self._lock(lesson.id):
            held = await self._load(lesson, now)
            if time.monotonic() - held.checked_at > max_age:
                async with self._db.session() as session:
                    version = await session.scalar(
                        select(BoardRow.version).where(BoardRow.id == held.board_id)
                    )
                    await self._catch_up(session, held, int(version or 0))
                held.checked_at = time.monotonic()
            return held.doc

    async def since(
        self, lesson: LessonFacts, version: int, now: dt.datetime
    ) -> list[Effect] | None:
        """Effects after ``version`` in order, or None when a full reload is cheaper."""
        doc = await self.document(lesson, now)
        if version > doc.version or doc.version - version > MAX_CATCH_UP:
            return None
        held = self._held[lesson.id]
        async with self._db.session() as session:
            return await _effects(session, held.board_id, version, doc.version)

    async def apply(
        self,
        lesson: LessonFacts,
        actor: Actor,
        page: int,
        op: Op,
        *,
        client_id: str | None,
        now: dt.datetime,
        publish: Publish,
    ) -> Applied:
        """Check, store and publish one operation; a resend with a known client id is
        answered with the first outcome and changes nothing.

        Operations that arrive while a write of the same board is under way wait for it
        and are then stored together in one transaction (a group commit). The reply comes
        once the operation is stored and published."""
        pending = _Pending(actor, page, op, client_id, now, publish)
        queue = self._queue.setdefault(lesson.id, [])
        queue.append(pending)
        try:
            while not pending.taken:
                async with self._lock(lesson.id):
                    if pending.taken:
                        break
                    batch = self._take(lesson.id)
                    previous, turn = await self._write(lesson, batch)
                # Outside the lock: the next batch is written while this one is published.
                await asyncio.shield(self._publish(lesson.id, batch, previous, turn))
        except BaseException:
            if not pending.taken and pending in self._queue.get(lesson.id, ()):
                self._queue[lesson.id].remove(pending)
            raise
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _take(self, lesson_id: int) -> list[_Pending]:
        queue = self._queue.pop(lesson_id, [])
        batch, rest = queue[: self._max_batch], queue[self._max_batch :]
        if rest:
            self._queue[lesson_id] = rest
        for pending in batch:
            pending.taken = True
        return batch

    async def _write(
        self, lesson: LessonFacts, batch: list[_Pending]
    ) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
        """Store a batch in one transaction and take its place in the publishing line
        (before the board's lock is let go, so batches are published in order)."""
        try:
            held = await self._load(lesson, batch[0].now)
            await self._store(held, batch)
        except BaseException as exc:
            # The copy may be ahead of what was stored: read it again next time.
            self.forget(lesson.id)
            for pending in batch:
                pending.effect = None
                if pending.result is None:
                    pending.error = exc if isinstance(exc, Exception) else _interrupted()
            if not isinstance(exc, Exception):
                for pending in batch:
                    pending.done.set()
                raise
        previous = self._last_turn.get(lesson.id)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last_turn[lesson.id] = turn
        return previous, turn

    async def _publish(
        self,
        lesson_id: int,
        batch: list[_Pending],
        previous: asyncio.Future[None] | None,
        turn: asyncio.Future[None],
    ) -> None:
        """Publish a stored batch after the batches stored before it, then answer."""
        try:
            if previous is not None:
                await previous
            for pending in batch:
                if pending.effect is None:
                    continue
                offset: int | None = None
                try:
                    offset = await pending.publish(pending.effect)
                except Exception:
                    # Stored but not delivered: members see the gap in ``seq`` at the next
                    # operation and load what they missed.
                    log.warning("board.op %d not published", pending.effect.seq, exc_info=True)
                if offset is not None:
                    self._offsets.setdefault(pending.board_id, []).append(
                        {"board_id": pending.board_id, "seq": pending.effect.seq, "offset": offset}
                    )
                pending.result = Applied(seq=pending.effect.seq, offset=offset, repeated=False)
        finally:
            turn.set_result(None)
            if self._last_turn.get(lesson_id) is turn:
                del self._last_turn[lesson_id]
            for pending in batch:
                if pending.result is None and pending.error is None:
                    pending.error = _interrupted()
                pending.done.set()

    async def _store(self, held: _Held, batch: list[_Pending]) -> None:
        async with self._db.session() as session:
            # Writers of one board on every node go one at a time: PostgreSQL locks the
            # board's row; SQLite takes its write lock by writing the row first.
            if self._db.engine.dialect.name == "postgresql":
                # Plans made for these statements' parameters each time: a pooled
                # connection keeps a statement's generic plan, and one made while the
                # table was nearly empty (a new school, before any ANALYZE) may reach a
                # row through an index on ``board_id`` alone, reading every operation of
                # the board to find one: the cost grew with the lesson.
                await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
                version = (
                    await session.execute(
                        select(BoardRow.version)
                        .where(BoardRow.id == held.board_id)
                        .with_for_update()
                    )
                ).scalar_one()
            else:
                version = (
                    await session.execute(
                        update(BoardRow)
                        .where(BoardRow.id == held.board_id)
                        .values(updated_at=batch[-1].now)
                        .returning(BoardRow.version)
                    )
                ).scalar_one()
            await self._catch_up(session, held, version)
            known = await self._known(session, held.board_id, batch)
            rows: list[dict[str, object]] = []
            for pending in batch:
                key = (pending.actor.person_id, pending.client_id)
                if pending.client_id is not None and key in known:
                    pending.result = known[key]
                    continue
                try:
                    effect = held.doc.resolve(
                        pending.op, pending.actor, pending.page, pending.client_id
                    )
                except Exception as exc:
                    pending.error = exc
                    continue
                held.doc.commit(effect)
                pending.effect = effect
                pending.board_id = held.board_id
                if pending.client_id is not None:
                    known[key] = Applied(seq=effect.seq, offset=None, repeated=True)
                rows.append(
                    {
                        "board_id": held.board_id,
                        "seq": effect.seq,
                        "author_id": pending.actor.person_id,
                        "client_id": pending.client_id,
                        "kind": effect.kind,
                        "effect": encode_effect(effect),
                        "at": pending.now,
                    }
                )
            if rows:
                await session.execute(insert(BoardOp), rows)
                published = self._offsets.pop(held.board_id, None)
                if published:
                    await session.execute(update(BoardOp), published)
                await session.execute(
                    update(BoardRow)
                    .where(BoardRow.id == held.board_id)
                    .values(version=held.doc.version, updated_at=batch[-1].now)
                )
                compact = held.doc.version - held.snapshot_version >= self._compact_every
                if compact:
                    held.doc.forget_unreachable()
                    await session.execute(
                        update(BoardSnapshot)
                        .where(BoardSnapshot.board_id == held.board_id)
                        .values(version=held.doc.version, data=snapshot(held.doc))
                    )
                await session.commit()
                if compact:
                    held.snapshot_version = held.doc.version
            else:
                await session.rollback()
            held.checked_at = time.monotonic()

    async def _known(
        self, session: AsyncSession, board_id: int, batch: list[_Pending]
    ) -> dict[tuple[int, str | None], Applied]:
        """What was answered before to the resends in ``batch`` (by author and client id)."""
        wanted = sorted(
            {
                (pending.actor.person_id, pending.client_id)
                for pending in batch
                if pending.client_id is not None
            }
        )
        if not wanted:
            return {}
        rows = await session.execute(*resend_lookup(board_id, wanted))
        return {
            (author, client): Applied(seq=seq, offset=offset, repeated=True)
            for author, client, seq, offset in rows
        }

    async def _catch_up(self, session: AsyncSession, held: _Held, version: int) -> None:
        if version <= held.doc.version:
            return
        for effect in await _effects(session, held.board_id, held.doc.version, version):
            held.doc.commit(effect)

    async def _load(self, lesson: LessonFacts, now: dt.datetime) -> _Held:
        held = self._held.get(lesson.id)
        if held is not None:
            return held
        async with self._db.session() as session:
            row = await session.scalar(select(BoardRow).where(BoardRow.lesson_id == lesson.id))
            if row is None:
                row = await self._create(session, lesson, now)
            saved = await session.get_one(BoardSnapshot, row.id)
            held = _Held(row.id, from_snapshot(saved.data), saved.version, time.monotonic())
            await self._catch_up(session, held, row.version)
        self._held[lesson.id] = held
        return held

    async def _create(
        self, session: AsyncSession, lesson: LessonFacts, now: dt.datetime
    ) -> BoardRow:
        subject_id = await session.scalar(
            select(LessonOccurrence.subject_id).where(LessonOccurrence.id == lesson.id)
        )
        assert subject_id is not None
        start = Board()
        previous = await session.scalar(
            select(BoardRow)
            .where(
                BoardRow.class_id == lesson.class_id,
                BoardRow.subject_id == subject_id,
                BoardRow.starts_at < lesson.starts_at,
            )
            .order_by(BoardRow.starts_at.desc())
            .limit(1)
        )
        if previous is not None:
            earlier = from_snapshot((await session.get_one(BoardSnapshot, previous.id)).data)
            for effect in await _effects(session, previous.id, earlier.version, previous.version):
                earlier.commit(effect)
            start = carried_over(earlier)
        row = BoardRow(
            lesson_id=lesson.id,
            class_id=lesson.class_id,
            subject_id=subject_id,
            starts_at=lesson.starts_at,
            version=0,
            updated_at=now,
        )
        session.add(row)
        try:
            await session.flush()
            session.add(BoardSnapshot(board_id=row.id, version=0, data=snapshot(start)))
            await session.commit()
        except IntegrityError:
            # Another node made it at the same moment: take theirs.
            await session.rollback()
            made = await session.scalar(select(BoardRow).where(BoardRow.lesson_id == lesson.id))
            assert made is not None
            return made
        return row


def resend_lookup(
    board_id: int, keys: list[tuple[int, str]]
) -> tuple[Executable, dict[str, object]]:
    """Stored operations of a board by (author, client id), as a statement and its
    parameters: one lookup per key, by the whole unique key. A list of client ids (IN or
    ANY) leaves the client id out of the index condition on PostgreSQL while the table has
    no statistics yet (a new board), so each batch read every operation of its author and
    the cost grew with the lesson; an OR of keys scans the board's operations on SQLite."""
    params: dict[str, object] = {"board": board_id}
    for n, (author, client) in enumerate(keys):
        params[f"a{n}"] = author
        params[f"c{n}"] = client
    return _lookup_of(len(keys)), params


@functools.lru_cache(maxsize=MAX_BATCH)
def _lookup_of(count: int) -> Executable:
    """The lookup of ``count`` keys, made once per count (building a union of many
    selects costs more than running it on SQLite)."""
    lookups = [
        select(BoardOp.author_id, BoardOp.client_id, BoardOp.seq, BoardOp.offset).where(
            BoardOp.board_id == bindparam("board"),
            BoardOp.author_id == bindparam(f"a{n}"),
            BoardOp.client_id == bindparam(f"c{n}"),
        )
        for n in range(count)
    ]
    return lookups[0] if count == 1 else union_all(*lookups)


async def _effects(session: AsyncSession, board_id: int, after: int, upto: int) -> list[Effect]:
    rows = await session.scalars(
        select(BoardOp.effect)
        .where(BoardOp.board_id == board_id, BoardOp.seq > after, BoardOp.seq <= upto)
        .order_by(BoardOp.seq)
    )
    return [decode_effect(data) for data in rows]
