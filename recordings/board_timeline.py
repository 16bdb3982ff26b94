"""The whiteboard during a recording: the board as it was when recording began, and the
effects applied while it ran, in order, so a player can show the board at any moment.

Effects are kept for good in ``board_op``; the board's snapshot is folded forward every few
hundred operations. When the snapshot is not newer than the recording's start, the start is
the snapshot plus the effects up to it. Otherwise the board's first state is rebuilt from the
snapshot (its items no stored effect added, on the pages no stored effect added) and every
effect up to the start is replayed over it.
"""

from __future__ import annotations

import datetime as dt
import logging

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.boards.document import (
    BOARD_HEIGHT,
    BOARD_WIDTH,
    Board,
    Effect,
    Item,
    Page,
    decode_effect,
    from_snapshot,
)
from classroom.storage.models import Board as BoardRow
from classroom.storage.models import BoardOp, BoardSnapshot

log = logging.getLogger(__name__)


class StartPage(msgspec.Struct, frozen=True):
    """A page when recording began: its items in drawing order, and which are hidden (an
    undo or redo during the recording may show them again)."""

    items: list[Item]
    hidden: list[str]


class BoardStart(msgspec.Struct, frozen=True):
    """The board when recording began."""

    width: int
    height: int
    version: int
    pages: list[StartPage]


class TimedEffect(msgspec.Struct, frozen=True):
    at: dt.datetime
    offset: int | None
    effect: Effect


async def board_during(
    session: AsyncSession, lesson_id: int, start: dt.datetime, end: dt.datetime
) -> tuple[BoardStart | None, list[TimedEffect]]:
    """The board at ``start`` and the effects until ``end``; (None, []) without a board."""
    row = await session.scalar(select(BoardRow).where(BoardRow.lesson_id == lesson_id))
    if row is None:
        return None, []
    stored = (
        await session.execute(
            select(BoardOp.seq, BoardOp.at, BoardOp.offset, BoardOp.effect)
            .where(BoardOp.board_id == row.id)
            .order_by(BoardOp.seq)
        )
    ).all()
    effects = [(at, offset, decode_effect(data)) for _, at, offset, data in stored]
    # In order of the board's versions: the effects before the first one made after the
    # start built the board the recording starts from.
    first = next((n for n, (at, _, _) in enumerate(effects) if at >= start), len(effects))
    before = [effect for _, _, effect in effects[:first]]
    during = [
        TimedEffect(at, offset, _public(effect))
        for at, offset, effect in effects[first:]
        if at <= end
    ]
    saved = await session.get_one(BoardSnapshot, row.id)
    doc = _at_start(from_snapshot(saved.data), before, [effect for _, _, effect in effects])
    if doc is None:
        log.warning("board of lesson %d: its state at the recording's start is unknown", lesson_id)
        return None, during
    pages = [StartPage(list(page.items.values()), sorted(page.hidden)) for page in doc.pages]
    return BoardStart(BOARD_WIDTH, BOARD_HEIGHT, doc.version, pages), during


def _at_start(snapshot: Board, before: list[Effect], stored: list[Effect]) -> Board | None:
    """The board after ``before`` (every effect up to the start, in order); ``stored`` is
    every effect of the board."""
    upto = before[-1].seq if before else 0
    try:
        if snapshot.version <= upto:
            doc = snapshot
            for effect in before:
                if effect.seq > snapshot.version:
                    doc.commit(effect)
            return doc
        doc = _first_state(snapshot, [e for e in stored if e.seq <= snapshot.version])
        for effect in before:
            doc.commit(effect)
        return doc
    except (ValueError, KeyError, IndexError):
        return None


def _first_state(snapshot: Board, folded: list[Effect]) -> Board:
    """The board before its first effect, as far as a snapshot that folded in ``folded``
    tells it: what no effect added."""
    added = {effect.item.id for effect in folded if effect.item is not None}
    pages_added = sum(1 for effect in folded if effect.kind == "page.add")
    first = snapshot.pages[: max(1, len(snapshot.pages) - pages_added)]
    return Board(
        pages=[
            Page(items={key: item for key, item in page.items.items() if key not in added})
            for page in first
        ]
    )


def _public(effect: Effect) -> Effect:
    """An effect as the player needs it (without the author's own request id)."""
    return msgspec.structs.replace(effect, client_id=None)
