"""Boards in the database, with a per-process copy of each board in use.

The database is the authority. Each accepted operation bumps the board's version with a
conditional ``UPDATE … RETURNING`` (which serialises writers of one board across nodes), is
resolved against the local copy (brought up to date from ``board_op`` first if another
node wrote in between), stored, and published inside the same transaction, as chat
messages are: an operation that could not be delivered is not kept. Every
``compact_every`` operations the whole document is folded into the board's snapshot, so
loading a board reads one snapshot and at most that many operations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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
from classroom.storage.models import BoardOp, LessonOccurrence

COMPACT_EVERY = 500
MAX_CATCH_UP = 1000

Publish = Callable[[Effect], Awaitable[int]]
"""Delivers an accepted effect to the room and returns its channel offset."""


class Applied(msgspec.Struct, frozen=True):
    """The reply to an operation: its number on the board and its room offset."""

    seq: int
    offset: int | None
    repeated: bool


@dataclass(slots=True)
class _Held:
    board_id: int
    doc: Board
    snapshot_version: int
    checked_at: float


class Boards:
    """The boards of this process's lessons, kept up to date with the database."""

    def __init__(self, db: Database, *, compact_every: int = COMPACT_EVERY) -> None:
        self._db = db
        self._compact_every = compact_every
        self._held: dict[int, _Held] = {}
        self._locks: dict[int, asyncio.Lock] = {}

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
        answered with the first outcome and changes nothing."""
        async with self._lock(lesson.id):
            held = await self._load(lesson, now)
            if client_id is not None:
                known = await self._known(held.board_id, actor.person_id, client_id)
                if known is not None:
                    return known
            try:
                return await self._apply(held, actor, page, op, client_id, now, publish)
            except IntegrityError:
                self.forget(lesson.id)
                if client_id is not None:
                    known = await self._known(held.board_id, actor.person_id, client_id)
                    if known is not None:
                        return known
                raise
            except BaseException:
                # The copy may be ahead of what was stored: read it again next time.
                self.forget(lesson.id)
                raise

    async def _apply(
        self,
        held: _Held,
        actor: Actor,
        page: int,
        op: Op,
        client_id: str | None,
        now: dt.datetime,
        publish: Publish,
    ) -> Applied:
        async with self._db.session() as session:
            version = (
                await session.execute(
                    update(BoardRow)
                    .where(BoardRow.id == held.board_id)
                    .values(version=BoardRow.version + 1, updated_at=now)
                    .returning(BoardRow.version)
                )
            ).scalar_one()
            await self._catch_up(session, held, version - 1)
            try:
                effect = held.doc.resolve(op, actor, page, client_id)
            except Exception:
                await session.rollback()
                raise
            row = BoardOp(
                board_id=held.board_id,
                seq=effect.seq,
                author_id=actor.person_id,
                client_id=client_id,
                kind=effect.kind,
                effect=encode_effect(effect),
                at=now,
            )
            session.add(row)
            await session.flush()
            row.offset = await publish(effect)
            held.doc.commit(effect)
            if effect.seq - held.snapshot_version >= self._compact_every:
                await session.execute(
                    update(BoardRow)
                    .where(BoardRow.id == held.board_id)
                    .values(snapshot=snapshot(held.doc), snapshot_version=effect.seq)
                )
                held.snapshot_version = effect.seq
            await session.commit()
            held.checked_at = time.monotonic()
            return Applied(seq=effect.seq, offset=row.offset, repeated=False)

    async def _known(self, board_id: int, author_id: int, client_id: str) -> Applied | None:
        async with self._db.session() as session:
            row = (
                await session.execute(
                    select(BoardOp.seq, BoardOp.offset).where(
                        BoardOp.board_id == board_id,
                        BoardOp.author_id == author_id,
                        BoardOp.client_id == client_id,
                    )
                )
            ).first()
        return None if row is None else Applied(seq=row[0], offset=row[1], repeated=True)

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
            doc = from_snapshot(row.snapshot)
            held = _Held(row.id, doc, row.snapshot_version, time.monotonic())
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
            earlier = from_snapshot(previous.snapshot)
            for effect in await _effects(session, previous.id, earlier.version, previous.version):
                earlier.commit(effect)
            start = carried_over(earlier)
        row = BoardRow(
            lesson_id=lesson.id,
            class_id=lesson.class_id,
            subject_id=subject_id,
            starts_at=lesson.starts_at,
            version=0,
            snapshot_version=0,
            snapshot=snapshot(start),
            updated_at=now,
        )
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:
            # Another node made it at the same moment: take theirs.
            await session.rollback()
            made = await session.scalar(select(BoardRow).where(BoardRow.lesson_id == lesson.id))
            assert made is not None
            return made
        return row


async def _effects(session: AsyncSession, board_id: int, after: int, upto: int) -> list[Effect]:
    rows = await session.scalars(
        select(BoardOp.effect)
        .where(BoardOp.board_id == board_id, BoardOp.seq > after, BoardOp.seq <= upto)
        .order_by(BoardOp.seq)
    )
    return [decode_effect(data) for data in rows]
