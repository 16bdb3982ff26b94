"""The board store on SQLite and PostgreSQL: group commits, publishing after the commit,
resends applied once, snapshots, and two processes writing one board."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update

from classroom.boards.document import (
    Actor,
    AddOp,
    ClearOp,
    Effect,
    Item,
    Standing,
    encode_effect,
    from_snapshot,
    snapshot,
)
from classroom.boards.store import Applied, Boards
from classroom.demo import add_lesson
from classroom.errors import Forbidden
from classroom.rooms import LessonFacts, load_room
from classroom.storage.database import Database
from classroom.storage.models import Board as BoardRow
from classroom.storage.models import BoardOp, BoardSnapshot
from tests.conftest import table_counts

NOW = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)


def stroke(item_id: str) -> AddOp:
    return AddOp(Item(id=item_id, tool="pen", color="#123456", width=4, points=[1, 2, 50]))


async def lesson_and_teacher(db: Database) -> tuple[LessonFacts, Actor]:
    lesson_id = await add_lesson(db, starts_at=NOW)
    room = await load_room(db, lesson_id, 1)
    return room.lesson, Actor(room.lesson.teacher_id, Standing.TEACHER)


class Channel:
    """Stands in for the room channel: records what was published, with offsets."""

    def __init__(self) -> None:
        self.effects: list[Effect] = []

    async def publish(self, effect: Effect) -> int:
        self.effects.append(effect)
        return len(self.effects)


async def strokes_together(
    boards: Boards, lesson: LessonFacts, teacher: Actor, channel: Channel, numbers: range
) -> list[Applied]:
    """Strokes ``s<n>`` with client ids ``k<n>`` sent at the same moment."""
    return await asyncio.gather(
        *(
            boards.apply(
                lesson,
                teacher,
                0,
                stroke(f"s{n}"),
                client_id=f"k{n}",
                now=NOW,
                publish=channel.publish,
            )
            for n in numbers
        )
    )


def op_row(
    board_id: int, seq: int, author_id: int, client_id: str, effect: bytes, kind: str = "add"
) -> dict[str, Any]:
    """A ``board_op`` row as another node would have stored it."""
    return {
        "board_id": board_id,
        "seq": seq,
        "author_id": author_id,
        "client_id": client_id,
        "kind": kind,
        "effect": effect,
        "at": NOW,
    }


async def stored_ops(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(BoardOp)) or 0)


async def test_operations_arriving_together_are_stored_in_one_transaction(db: Database) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)
    channel = Channel()
    await boards.apply(
        lesson, teacher, 0, stroke("first"), client_id="k0", now=NOW, publish=channel.publish
    )
    commits: list[int] = []

    def committed(_connection: object) -> None:
        commits.append(1)

    event.listen(db.engine.sync_engine, "commit", committed)
    try:
        replies = await strokes_together(boards, lesson, teacher, channel, range(1, 41))
    finally:
        event.remove(db.engine.sync_engine, "commit", committed)
    # The first of them writes alone; the 39 that queued behind it go in one batch.
    assert len(commits) == 2
    assert [reply.seq for reply in replies] == list(range(2, 42))
    assert [effect.seq for effect in channel.effects] == list(range(1, 42))
    assert [reply.offset for reply in replies] == list(range(2, 42))
    assert await stored_ops(db) == 41


async def test_a_refused_operation_does_not_spoil_its_batch(db: Database) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    student = Actor(teacher.person_id + 1000, Standing.STUDENT)
    boards = Boards(db)
    channel = Channel()
    results = await asyncio.gather(
        boards.apply(
            lesson, teacher, 0, stroke("a"), client_id="a", now=NOW, publish=channel.publish
        ),
        boards.apply(
            lesson, student, 0, stroke("b"), client_id="b", now=NOW, publish=channel.publish
        ),
        boards.apply(
            lesson, teacher, 0, stroke("c"), client_id="c", now=NOW, publish=channel.publish
        ),
        return_exceptions=True,
    )
    assert isinstance(results[1], Forbidden)
    assert [getattr(r, "seq", None) for r in results] == [1, None, 2]
    assert [e.item.id for e in channel.effects if e.item] == ["a", "c"]
    assert await stored_ops(db) == 2


async def test_resends_are_answered_once_within_a_batch_and_after_it(db: Database) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)
    channel = Channel()

    def send(item: str, client_id: str) -> Any:
        return boards.apply(
            lesson, teacher, 0, stroke(item), client_id=client_id, now=NOW, publish=channel.publish
        )

    first, again, other = await asyncio.gather(send("x", "same"), send("x", "same"), send("y", "o"))
    assert (first.seq, first.repeated) == (1, False)
    assert (again.seq, again.repeated) == (1, True)
    assert other.seq == 2
    # A process that never saw the first answer (a restart) answers from the database.
    later = await Boards(db).apply(
        lesson, teacher, 0, stroke("x"), client_id="same", now=NOW, publish=channel.publish
    )
    assert (later.seq, later.repeated) == (1, True)
    assert len(channel.effects) == 2
    assert await stored_ops(db) == 2


async def test_an_effect_is_published_only_once_it_is_stored(db: Database) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)
    seen_stored: list[int] = []

    async def publish(effect: Effect) -> int:
        # Another connection reads the database: the operation must already be there.
        async with db.session() as session:
            seq = await session.scalar(select(BoardOp.seq).where(BoardOp.seq == effect.seq))
        seen_stored.append(int(seq or 0))
        return effect.seq

    await asyncio.gather(
        *(
            boards.apply(
                lesson, teacher, 0, stroke(f"s{n}"), client_id=f"{n}", now=NOW, publish=publish
            )
            for n in range(10)
        )
    )
    assert seen_stored == list(range(1, 11))


async def test_a_failed_publish_keeps_the_stored_operation(db: Database) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)

    async def broken(_effect: Effect) -> int:
        raise ConnectionError("the bus is away")

    reply = await boards.apply(
        lesson, teacher, 0, stroke("kept"), client_id="k", now=NOW, publish=broken
    )
    assert (reply.seq, reply.offset) == (1, None)
    doc = await Boards(db).document(lesson, NOW)
    assert [item.id for item in doc.pages[0].visible()] == ["kept"]


async def test_snapshots_are_compacted_and_late_loads_read_snapshot_plus_tail(
    db: Database,
) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db, compact_every=25)
    channel = Channel()
    for n in range(60):
        op = ClearOp() if n == 30 else stroke(f"s{n}")
        await boards.apply(
            lesson, teacher, 0, op, client_id=f"k{n}", now=NOW, publish=channel.publish
        )
    async with db.session() as session:
        row = await session.scalar(select(BoardRow).where(BoardRow.lesson_id == lesson.id))
        assert row is not None
        saved = await session.get(BoardSnapshot, row.id)
    assert row.version == 60
    assert saved is not None and saved.version == 50
    assert from_snapshot(saved.data).version == 50
    fresh = await Boards(db).document(lesson, NOW)
    held = await boards.document(lesson, NOW)
    assert fresh.version == held.version == 60
    assert [i.id for i in fresh.pages[0].visible()] == [f"s{n}" for n in range(31, 60)]
    assert fresh.views() == held.views()


async def test_two_processes_write_one_board_in_turn(db: Database) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    node_a, node_b = Boards(db), Boards(db)
    channel = Channel()

    async def write(node: Boards, name: str, count: int) -> None:
        for n in range(count):
            await node.apply(
                lesson,
                teacher,
                0,
                stroke(f"{name}{n}"),
                client_id=f"{name}{n}",
                now=NOW,
                publish=channel.publish,
            )

    await asyncio.gather(write(node_a, "a", 15), write(node_b, "b", 15))
    seqs = sorted(effect.seq for effect in channel.effects)
    assert seqs == list(range(1, 31))
    doc_a = await node_a.document(lesson, NOW)
    doc_b = await node_b.document(lesson, NOW)
    assert doc_a.version == doc_b.version == 30
    assert doc_a.views() == doc_b.views()
    assert len(doc_a.pages[0].visible()) == 30


@pytest.mark.parametrize("cancel_after", [0, 1])
async def test_a_cancelled_sender_leaves_the_others_answered(
    db: Database, cancel_after: int
) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)
    channel = Channel()
    calls = [
        asyncio.ensure_future(
            boards.apply(
                lesson,
                teacher,
                0,
                stroke(f"s{n}"),
                client_id=f"{n}",
                now=NOW,
                publish=channel.publish,
            )
        )
        for n in range(6)
    ]
    for _ in range(cancel_after):
        await asyncio.sleep(0)
    calls[3].cancel()
    results = await asyncio.gather(*calls, return_exceptions=True)
    answered = [r for r in results if not isinstance(r, BaseException)]
    assert len(answered) >= 5
    doc = await Boards(db).document(lesson, NOW)
    # What was answered is stored, once; nothing is stored twice.
    assert {r.seq for r in answered} <= set(range(1, doc.version + 1))
    assert len({i.id for i in doc.pages[0].visible()}) == doc.version


async def test_the_snapshot_table_migration_keeps_the_board_both_ways(db: Database) -> None:
    from alembic import command
    from sqlalchemy import text

    from classroom.storage.database import _alembic_config

    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db, compact_every=5)
    channel = Channel()
    for n in range(7):
        await boards.apply(
            lesson, teacher, 0, stroke(f"s{n}"), client_id=f"{n}", now=NOW, publish=channel.publish
        )
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda c: command.downgrade(_alembic_config(c), "0007"))
    async with db.engine.connect() as connection:
        version, data = (
            await connection.execute(text("SELECT snapshot_version, snapshot FROM board"))
        ).one()
    assert version == 5 and from_snapshot(data).version == 5
    await db.migrate()
    doc = await Boards(db).document(lesson, NOW)
    assert doc.version == 7
    assert [i.id for i in doc.pages[0].visible()] == [f"s{n}" for n in range(7)]


async def test_room_offsets_are_stored_by_the_next_transaction(db: Database) -> None:
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)
    channel = Channel()
    for n in range(3):
        await boards.apply(
            lesson, teacher, 0, stroke(f"s{n}"), client_id=f"{n}", now=NOW, publish=channel.publish
        )
    async with db.session() as session:
        offsets = list(await session.scalars(select(BoardOp.offset).order_by(BoardOp.seq)))
    assert offsets == [1, 2, None]  # the last one's offset waits for the next write
    again = await Boards(db).apply(
        lesson, teacher, 0, stroke("s0"), client_id="0", now=NOW, publish=channel.publish
    )
    assert (again.seq, again.offset, again.repeated) == (1, 1, True)


async def _rows_read_by(session: Any, statement: Any, values: dict[str, Any]) -> int:
    """Rows the database reads to answer ``statement`` with its generic plan (PostgreSQL)
    or, on SQLite, the number of its steps on ``board_op`` that do not use the whole
    unique key."""
    connection = await session.connection()
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    bound = compiled.construct_params(values)
    if connection.dialect.name == "sqlite":
        rows = await connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled),
            tuple(bound[name] for name in compiled.positiontup),
        )
        return sum("board_op" in row[-1] and "client_id=?" not in row[-1] for row in rows)
    raw = (await connection.get_raw_connection()).driver_connection
    await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    params = [bound[name] for name in compiled.positiontup]
    plan = await raw.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), *params)

    def read(node: dict[str, Any]) -> int:
        own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        return own + sum(read(child) for child in node.get("Plans", ()))

    # The dialect sets a JSON codec on its connections; a plain connection gives text.
    tree = json.loads(plan) if isinstance(plan, str) else plan
    return read(tree[0]["Plan"])


async def test_the_resend_lookup_reads_only_the_operations_asked_for(db: Database) -> None:
    """A long lesson must not make each batch slower: the lookup of resends goes by the
    whole unique key even before the database has statistics of the new board."""
    from classroom.boards.store import resend_lookup

    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)
    channel = Channel()
    await boards.apply(
        lesson, teacher, 0, stroke("first"), client_id="c0", now=NOW, publish=channel.publish
    )
    async with db.session() as session:
        board_id = await session.scalar(select(BoardRow.id).where(BoardRow.lesson_id == lesson.id))
        assert board_id is not None
        await session.execute(
            BoardOp.__table__.insert(),
            [op_row(board_id, 1 + n, teacher.person_id, f"c{n}", b"") for n in range(1, 3000)],
        )
        await session.commit()
    keys = [(teacher.person_id, f"c{n}") for n in (5, 1500, 2999, 9999)]
    async with db.session() as session:
        found = (await session.execute(*resend_lookup(board_id, keys))).all()
        assert sorted(row.client_id for row in found) == ["c1500", "c2999", "c5"]
        if db.engine.dialect.name == "postgresql":
            await session.execute(
                text("DELETE FROM pg_statistic WHERE starelid = 'board_op'::regclass")
            )
            assert await _rows_read_by(session, *resend_lookup(board_id, keys)) <= 2 * len(keys)
        else:
            assert await _rows_read_by(session, *resend_lookup(board_id, keys)) == 0


async def _board_op_rows_read(db: Database) -> int:
    """Rows of ``board_op`` read so far (PostgreSQL's own count)."""
    counts = await table_counts(db, "board_op")
    return counts["seq_tup_read"] + counts["idx_tup_fetch"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_long_lesson_does_not_make_each_write_read_more(db: Database) -> None:
    """Each write reads a few rows whatever the length of the lesson: no lookup of resends
    and no statement prepared while the board was nearly empty reaches its rows through
    ``board_id`` alone (that read the whole board at every write on PostgreSQL)."""
    lesson, teacher = await lesson_and_teacher(db)
    boards = Boards(db)
    channel = Channel()
    for first in range(0, 24, 8):  # batches of 8: PostgreSQL settles on a generic plan
        await strokes_together(boards, lesson, teacher, channel, range(first, first + 8))
    # 5,000 more operations stored as another node would store them.
    doc = from_snapshot(snapshot(await boards.document(lesson, NOW)))
    async with db.session() as session:
        board_id = await session.scalar(select(BoardRow.id).where(BoardRow.lesson_id == lesson.id))
        assert board_id is not None
        rows = []
        for n in range(24, 5024):
            op = ClearOp() if n % 400 == 0 else stroke(f"s{n}")
            effect = doc.resolve(op, teacher, 0, f"c{n}")
            doc.commit(effect)
            rows.append(
                op_row(
                    board_id,
                    effect.seq,
                    teacher.person_id,
                    f"c{n}",
                    encode_effect(effect),
                    kind=effect.kind,
                )
            )
        await session.execute(BoardOp.__table__.insert(), rows)
        await session.execute(update(BoardRow).values(version=doc.version))
        await session.commit()
    before = await _board_op_rows_read(db)
    for n in range(5024, 5034):
        await boards.apply(
            lesson, teacher, 0, stroke(f"s{n}"), client_id=f"c{n}", now=NOW, publish=channel.publish
        )
    read = await _board_op_rows_read(db) - before
    # The first write catches up with the 5,000 operations once; the rest read a few rows
    # each. A plan that reaches rows by ``board_id`` alone reads the board at every write.
    assert read < 6_000, f"ten writes read {read} rows of a 5,000-operation board"
