"""Room visits: each connection's stay in a lesson room, recorded across nodes.

A node records a visit when one of its connections enters a room and closes it when the
connection leaves or drops. It says it is alive now and then (one row per node, not per
visit); an open visit whose node stopped (a crash) is taken to have ended when the node was
last seen, and is closed then by another node a day later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from classroom.storage.database import Database, Direct, DriverConnection
from classroom.storage.direct import AnySelect, DirectInsert, DirectRead, Row
from classroom.storage.models import NodeHeartbeat, RoomVisit

V = TypeVar("V", int, str)

HEARTBEAT = dt.timedelta(seconds=20)
STALE_AFTER = HEARTBEAT * 3
GONE_AFTER = dt.timedelta(days=1)
"""A node not seen for this long is gone: its open visits are closed at its last beat."""


@dataclass(frozen=True, slots=True)
class Departure:
    lesson_id: int
    person_id: int
    still_here: bool


@dataclass(frozen=True, slots=True)
class Arrival:
    """A connection entering a room."""

    lesson_id: int
    person_id: int
    connection_id: str
    node_id: str
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Leaving:
    """A connection leaving a room (``lesson_id``), or every room (``None``: it closed)."""

    connection_id: str
    lesson_id: int | None
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Stay:
    """An uninterrupted stay of one person (gaps shorter than the grace are bridged)."""

    joined_at: dt.datetime
    left_at: dt.datetime | None


def _last_seen(own: dt.datetime, node: dt.datetime | None) -> dt.datetime:
    """A visit was last seen at the later of its own time and its node's heartbeat."""
    return own if node is None or node < own else node


async def arrive(
    db: Database,
    *,
    lesson_id: int,
    person_id: int,
    connection_id: str,
    node_id: str,
    now: dt.datetime,
) -> bool:
    """Record a connection entering a room; ``True`` if the person was not there before
    (on any device, on any node)."""
    arrival = Arrival(lesson_id, person_id, connection_id, node_id, now)
    return (await arrive_many(db, [arrival]))[0]


# Every room entry reads the open visits of the people arriving (in batches), and building
# a statement costs more than running it: one is built per pair of list lengths, each
# length rounded up to a power of two (the last value repeated), so a few dozen statements
# serve every batch.
# The IN lists stay lists, not arrays: PostgreSQL keeps a generic plan for a prepared
# statement after five runs, and one for `= ANY($1)` made while `room_visit` was nearly
# empty (a storm's first joins) scans the whole table for as long as nothing analyses it
# again — 98 CPU-s of PostgreSQL for 40,000 joins where lists took a third of that. Lists
# have the same trap, more mildly; `classroom.storage.statistics` analyses the table as
# it fills, so that such plans are made again.
def _open_visits(lessons: int, people: int) -> DirectRead:
    return DirectRead(_open_visits_select(lessons, people))


def _open_visits_select(lessons: int, people: int) -> AnySelect:
    return (
        select(
            RoomVisit.lesson_id,
            RoomVisit.person_id,
            RoomVisit.connection_id,
            RoomVisit.seen_at,
            NodeHeartbeat.seen_at,
        )
        .outerjoin(NodeHeartbeat, NodeHeartbeat.node_id == RoomVisit.node_id)
        .where(
            RoomVisit.lesson_id.in_([bindparam(f"lesson{n}") for n in range(lessons)]),
            RoomVisit.person_id.in_([bindparam(f"person{n}") for n in range(people)]),
            RoomVisit.left_at.is_(None),
        )
    )


_OPEN_VISITS: dict[tuple[int, int], DirectRead] = {}


def _padded(values: set[V]) -> list[V]:
    """The values in order, the last repeated up to the next power of two."""
    ordered = sorted(values)
    return ordered + ordered[-1:] * ((1 << (len(ordered) - 1).bit_length()) - len(ordered))


async def _read_open_visits(connection: Direct, lessons: set[int], people: set[int]) -> list[Row]:
    lesson_ids, person_ids = _padded(lessons), _padded(people)
    shape = (len(lesson_ids), len(person_ids))
    read = _OPEN_VISITS.get(shape)
    if read is None:
        read = _OPEN_VISITS[shape] = _open_visits(*shape)
    params = {f"lesson{n}": value for n, value in enumerate(lesson_ids)}
    params.update((f"person{n}", value) for n, value in enumerate(person_ids))
    return await read.rows(connection, params)


_NEW_VISITS = DirectInsert(
    cast(Table, RoomVisit.__table__),
    ("lesson_id", "person_id", "connection_id", "node_id", "joined_at", "seen_at"),
)


async def arrive_many(db: Database, arrivals: Sequence[Arrival]) -> list[bool]:
    """Record many arrivals: a read of the open visits of the people arriving, and one
    insert of the new ones (on PostgreSQL one statement does both; no transaction around
    them, which would not make the read-then-insert atomic across nodes either). For each,
    ``True`` if the person was not in that room before on another connection (any device,
    any node, or an earlier arrival of the same batch)."""
    if not arrivals:
        return []
    lessons = {a.lesson_id for a in arrivals}
    people = {a.person_id for a in arrivals}
    async with db.direct() as connection:
        if isinstance(connection, DriverConnection):
            rows = await _read_open_visits_and_insert(connection, arrivals, lessons, people)
            return _firsts_and_new_visits(arrivals, rows)[0]
        rows = await _read_open_visits(connection, lessons, people)
        firsts, new_visits = _firsts_and_new_visits(arrivals, rows)
        await _NEW_VISITS.run(
            connection,
            [
                {
                    "lesson_id": a.lesson_id,
                    "person_id": a.person_id,
                    "connection_id": a.connection_id,
                    "node_id": a.node_id,
                    "joined_at": a.now,
                    "seen_at": a.now,
                }
                for a in new_visits
            ],
        )
    return firsts


def _firsts_and_new_visits(
    arrivals: Sequence[Arrival], open_rows: Sequence[Row]
) -> tuple[list[bool], list[Arrival]]:
    """From the open visits of the people arriving: whether each arrival is the person's
    first device in the room, and the arrivals that open a visit (one per connection not in
    it yet)."""
    open_visits: dict[tuple[int, int], list[tuple[str, dt.datetime]]] = {}
    for lesson, person, connection, own_seen, node_seen in open_rows:
        seen = _last_seen(own_seen, node_seen)
        open_visits.setdefault((lesson, person), []).append((connection, seen))
    firsts: list[bool] = []
    new_visits: list[Arrival] = []
    for a in arrivals:
        visits = open_visits.setdefault((a.lesson_id, a.person_id), [])
        fresh_since = a.now - STALE_AFTER
        firsts.append(
            not any(
                connection != a.connection_id and seen_at >= fresh_since
                for connection, seen_at in visits
            )
        )
        if all(connection != a.connection_id for connection, _seen in visits):
            visits.append((a.connection_id, a.now))
            new_visits.append(a)
    return firsts, new_visits


def _open_visits_and_insert(lessons: int, people: int) -> DirectRead:
    """The read of open visits (as ``_open_visits``) with, in the same statement, the insert
    of a visit for each arriving connection that has none open yet (its first arrival in
    the batch), from arrays ``new_*`` in arrival order. The read does not see the rows the
    insert adds: both see the database as the statement began."""
    opened = _open_visits_select(lessons, people).cte("opened")
    arriving = (
        func.unnest(
            bindparam("new_lessons", type_=ARRAY(Integer)),
            bindparam("new_people", type_=ARRAY(Integer)),
            bindparam("new_connections", type_=ARRAY(String)),
            bindparam("new_nodes", type_=ARRAY(String)),
            bindparam("new_times", type_=ARRAY(DateTime())),
        )
        .table_valued(
            "lesson_id", "person_id", "connection_id", "node_id", "at", with_ordinality="n"
        )
        .render_derived(with_types=False)
        .alias("arriving")
    )
    already_open: AnySelect = (
        select(literal_column("1"))
        .select_from(opened)
        .where(
            opened.c[0] == arriving.c.lesson_id,
            opened.c[1] == arriving.c.person_id,
            opened.c[2] == arriving.c.connection_id,
        )
    )
    first_of_each = (
        select(
            arriving.c.lesson_id,
            arriving.c.person_id,
            arriving.c.connection_id,
            arriving.c.node_id,
            arriving.c.at,
            arriving.c.at,
        )
        .ext(
            postgresql.distinct_on(
                arriving.c.lesson_id, arriving.c.person_id, arriving.c.connection_id
            )
        )
        .where(~exists(already_open))
        .order_by(
            arriving.c.lesson_id, arriving.c.person_id, arriving.c.connection_id, arriving.c.n
        )
    )
    inserted = (
        postgresql.insert(RoomVisit)
        .from_select(
            ["lesson_id", "person_id", "connection_id", "node_id", "joined_at", "seen_at"],
            first_of_each,
        )
        .cte("inserted")
    )
    return DirectRead(select(opened).add_cte(inserted))


_OPEN_VISITS_AND_INSERT: dict[tuple[int, int], DirectRead] = {}


async def _read_open_visits_and_insert(
    connection: DriverConnection,
    arrivals: Sequence[Arrival],
    lessons: set[int],
    people: set[int],
) -> list[Row]:
    lesson_ids, person_ids = _padded(lessons), _padded(people)
    shape = (len(lesson_ids), len(person_ids))
    read = _OPEN_VISITS_AND_INSERT.get(shape)
    if read is None:
        read = _OPEN_VISITS_AND_INSERT[shape] = _open_visits_and_insert(*shape)
    params: dict[str, object] = {f"lesson{n}": value for n, value in enumerate(lesson_ids)}
    params.update((f"person{n}", value) for n, value in enumerate(person_ids))
    params.update(
        new_lessons=[a.lesson_id for a in arrivals],
        new_people=[a.person_id for a in arrivals],
        new_connections=[a.connection_id for a in arrivals],
        new_nodes=[a.node_id for a in arrivals],
        # Stored without zone, as ``UtcDateTime`` stores them.
        new_times=[a.now.astimezone(dt.UTC).replace(tzinfo=None) for a in arrivals],
    )
    return await read.rows(connection, params)


async def depart(
    db: Database, *, connection_id: str, now: dt.datetime, lesson_id: int | None = None
) -> list[Departure]:
    """Close a connection's open visits (of one lesson, or all); say for each person
    whether they are still in the room on another device."""
    return (await depart_many(db, [Leaving(connection_id, lesson_id, now)]))[0]


def _close_connections(count: int) -> DirectRead:
    return DirectRead(
        update(RoomVisit)
        .where(
            RoomVisit.connection_id.in_([bindparam(f"connection{n}") for n in range(count)]),
            RoomVisit.left_at.is_(None),
        )
        .values(left_at=bindparam("now"), seen_at=bindparam("now"))
        .returning(RoomVisit.connection_id, RoomVisit.lesson_id, RoomVisit.person_id)
    )


_CLOSE_CONNECTIONS: dict[int, DirectRead] = {}
_CLOSE_IN_LESSON = DirectRead(
    update(RoomVisit)
    .where(
        RoomVisit.connection_id == bindparam("connection"),
        RoomVisit.lesson_id == bindparam("lesson"),
        RoomVisit.left_at.is_(None),
    )
    .values(left_at=bindparam("now"), seen_at=bindparam("now"))
    .returning(RoomVisit.connection_id, RoomVisit.lesson_id, RoomVisit.person_id)
)


async def _close_connections_of(
    connection: Direct, connection_ids: set[str], now: dt.datetime
) -> list[Row]:
    padded = _padded(connection_ids)
    close = _CLOSE_CONNECTIONS.get(len(padded))
    if close is None:
        close = _CLOSE_CONNECTIONS[len(padded)] = _close_connections(len(padded))
    params: dict[str, object] = {f"connection{n}": value for n, value in enumerate(padded)}
    params["now"] = now
    return await close.rows(connection, params)


async def depart_many(db: Database, leavings: Sequence[Leaving]) -> list[list[Departure]]:
    """Close the open visits of many leaving connections: one statement for the
    connections that closed, one per room left on a connection that stays, and one read of
    who is still in those rooms on another device (no transaction around them, as for
    arrivals). All are closed at the latest of their times (they were gathered while the
    batch before was written). For each leaving, its departures in order; a person whose
    last devices leave in the same batch is said gone by the last of them only."""
    if not leavings:
        return []
    now = max(leaving.now for leaving in leavings)
    closed: dict[int, list[tuple[int, int]]] = {}  # by index in leavings
    async with db.direct() as connection:
        # Rooms left first: a connection that leaves a room and then closes, in one batch,
        # leaves that room by the first.
        for index, leaving in enumerate(leavings):
            if leaving.lesson_id is not None:
                params = {
                    "connection": leaving.connection_id,
                    "lesson": leaving.lesson_id,
                    "now": now,
                }
                rows = await _CLOSE_IN_LESSON.rows(connection, params)
                closed[index] = [(lesson, person) for _c, lesson, person in rows]
        gone = {
            leaving.connection_id: index
            for index, leaving in reversed(list(enumerate(leavings)))
            if leaving.lesson_id is None
        }
        if gone:
            for connection_id, lesson, person in await _close_connections_of(
                connection, set(gone), now
            ):
                closed.setdefault(gone[connection_id], []).append((lesson, person))
        left = {pair for pairs in closed.values() for pair in pairs}
        still_here: set[tuple[int, int]] = set()
        if left:
            fresh_since = now - STALE_AFTER
            lessons = {lesson for lesson, _person in left}
            people = {person for _lesson, person in left}
            for lesson, person, _c, own, node in await _read_open_visits(
                connection, lessons, people
            ):
                if (lesson, person) in left and _last_seen(own, node) >= fresh_since:
                    still_here.add((lesson, person))
    # A room left by several connections of one person in this batch: the last says gone.
    last_to_leave = {pair: index for index in sorted(closed) for pair in closed[index]}
    return [
        [
            Departure(
                lesson,
                person,
                (lesson, person) in still_here or last_to_leave[(lesson, person)] != index,
            )
            for lesson, person in closed.get(index, [])
        ]
        for index in range(len(leavings))
    ]


async def remove_person(db: Database, *, lesson_id: int, person_id: int, now: dt.datetime) -> None:
    """Close a person's open visits of a lesson on every node (they were removed)."""
    await _close(db, now, RoomVisit.lesson_id == lesson_id, RoomVisit.person_id == person_id)


async def refresh(db: Database, node_id: str, now: dt.datetime) -> None:
    """Tell other nodes this node's open visits are still going (one row, however many
    visits), and close the visits of nodes gone for a day."""
    async with db.session() as session:
        beat = await session.execute(
            update(NodeHeartbeat).where(NodeHeartbeat.node_id == node_id).values(seen_at=now)
        )
        if not beat.rowcount:  # type: ignore[attr-defined]
            session.add(NodeHeartbeat(node_id=node_id, seen_at=now))
        gone = await session.execute(
            select(NodeHeartbeat.node_id, NodeHeartbeat.seen_at).where(
                NodeHeartbeat.seen_at < now - GONE_AFTER
            )
        )
        for gone_id, last_beat in gone.all():
            ended = case((RoomVisit.seen_at > last_beat, RoomVisit.seen_at), else_=last_beat)
            await session.execute(
                update(RoomVisit)
                .where(RoomVisit.node_id == gone_id, RoomVisit.left_at.is_(None))
                .values(left_at=ended, seen_at=ended)
            )
            await session.execute(
                delete(NodeHeartbeat).where(
                    NodeHeartbeat.node_id == gone_id, NodeHeartbeat.seen_at == last_beat
                )
            )
        await session.commit()


async def close_node(db: Database, node_id: str, now: dt.datetime) -> None:
    """Close every open visit of a node that is shutting down."""
    await _close(db, now, RoomVisit.node_id == node_id)
    async with db.session() as session:
        await session.execute(delete(NodeHeartbeat).where(NodeHeartbeat.node_id == node_id))
        await session.commit()


async def _close(db: Database, now: dt.datetime, *conditions: ColumnElement[bool]) -> None:
    async with db.session() as session:
        await session.execute(
            update(RoomVisit)
            .where(*conditions, RoomVisit.left_at.is_(None))
            .values(left_at=now, seen_at=now)
        )
        await session.commit()


async def open_count(db: Database) -> int:
    """How many visits are open, on every node."""
    async with db.autocommit() as connection:
        found = await connection.execute(
            select(func.count()).select_from(RoomVisit).where(RoomVisit.left_at.is_(None))
        )
        return int(found.scalar_one())


async def visits_of(
    db: Database, lesson_id: int, person_ids: Sequence[int] | None = None
) -> dict[int, list[tuple[dt.datetime, dt.datetime | None, dt.datetime]]]:
    """Every visit of a lesson by person: (joined, left or None, last seen)."""
    query = (
        select(
            RoomVisit.person_id,
            RoomVisit.joined_at,
            RoomVisit.left_at,
            RoomVisit.seen_at,
            NodeHeartbeat.seen_at,
        )
        .outerjoin(NodeHeartbeat, NodeHeartbeat.node_id == RoomVisit.node_id)
        .where(RoomVisit.lesson_id == lesson_id)
    )
    if person_ids is not None:
        query = query.where(RoomVisit.person_id.in_(person_ids))
    async with db.session() as session:
        rows = (await session.execute(query.order_by(RoomVisit.joined_at))).all()
    found: dict[int, list[tuple[dt.datetime, dt.datetime | None, dt.datetime]]] = {}
    for person, joined, left, own_seen, node_seen in rows:
        found.setdefault(person, []).append((joined, left, _last_seen(own_seen, node_seen)))
    return found


def merge_stays(
    visits: Iterable[tuple[dt.datetime, dt.datetime | None, dt.datetime]],
    *,
    grace: dt.timedelta,
    now: dt.datetime,
) -> list[Stay]:
    """One person's stays from their visits: overlapping visits (two devices) are one
    stay, and a gap shorter than ``grace`` (a reconnect) does not split a stay."""
    intervals: list[tuple[dt.datetime, dt.datetime | None]] = []
    for joined, left, seen in visits:
        if left is None and seen < now - STALE_AFTER:
            left = seen  # its node stopped: the stay ended when last seen
        intervals.append((joined, left))
    intervals.sort(key=lambda interval: interval[0])
    stays: list[Stay] = []
    for joined, left in intervals:
        if stays:
            last = stays[-1]
            if last.left_at is None or joined - last.left_at <= grace:
                end = None if last.left_at is None or left is None else max(last.left_at, left)
                stays[-1] = Stay(last.joined_at, end)
                continue
        stays.append(Stay(joined, left))
    return stays
