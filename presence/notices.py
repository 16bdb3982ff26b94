"""Notices to parents: kept in the database first, then shown live and sent to a webhook.

A notice is made once (its ``dedupe_key`` is unique) in the same transaction as the mark
that caused it, so none is lost when a node stops. A dispatcher on every node takes
pending notices under a short lease, publishes each to the parent's live channel, and hands
it to the webhook with retries and backoff until it is accepted.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from classroom import audit
from classroom.errors import NotFound
from classroom.roles import Principal
from classroom.rooms import LessonFacts
from classroom.storage.database import Database
from classroom.storage.direct import DirectRead
from classroom.storage.models import Guardianship, Notice, Person

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=30)
MAX_WEBHOOK_ATTEMPTS = 30
MAX_BACKOFF = dt.timedelta(minutes=10)
BATCH = 50

# Every node asks every few seconds, mostly to find nothing: built once, run directly.
_DUE_NOTICES = DirectRead(
    select(Notice.id)
    .where(
        Notice.pending.is_(True),
        Notice.next_attempt_at <= bindparam("now"),
        or_(Notice.lease_until.is_(None), Notice.lease_until < bindparam("now")),
    )
    .order_by(Notice.next_attempt_at)
    .limit(BATCH)
)
NOTICE_EVENT = "notice"


class StudentRef(msgspec.Struct, frozen=True):
    id: int
    display_name: str


class LessonRef(msgspec.Struct, frozen=True):
    id: int
    subject: str
    starts_at: dt.datetime
    ends_at: dt.datetime


class NoticeView(msgspec.Struct, frozen=True):
    """What a parent is told: ``absent`` or ``late``, about which child and lesson."""

    id: str
    kind: str
    student: StudentRef
    lesson: LessonRef
    created_at: dt.datetime


class NoticeList(msgspec.Struct, frozen=True):
    notices: list[NoticeView]


PublishLive = Callable[[int, NoticeView], Awaitable[None]]
"""Publish a notice to a person's live channel."""

SendWebhook = Callable[[str, bytes], Awaitable[None]]
"""Hand a notice (its id and JSON body) to the webhook; raises when it was not accepted."""


async def parents_of(session: AsyncSession, student_id: int) -> list[int]:
    rows = await session.scalars(
        select(Guardianship.parent_id).where(Guardianship.child_id == student_id)
    )
    return list(rows.all())


async def queue(
    session: AsyncSession,
    *,
    kind: str,
    student_id: int,
    lesson: LessonFacts,
    now: dt.datetime,
) -> int:
    """Add a notice of this kind for each parent of the student, once ever; return how many
    were new. Runs in the caller's transaction."""
    return await queue_many(session, kind=kind, student_ids=[student_id], lesson=lesson, now=now)


async def queue_many(
    session: AsyncSession,
    *,
    kind: str,
    student_ids: Sequence[int],
    lesson: LessonFacts,
    now: dt.datetime,
) -> int:
    """``queue`` for many students of one lesson with four statements at most (names,
    parents, notices made before, the new ones); return how many were new."""
    if not student_ids:
        return 0
    names = dict(
        (
            await session.execute(
                select(Person.id, Person.display_name).where(Person.id.in_(student_ids))
            )
        ).all()
    )
    guardians = (
        await session.execute(
            select(Guardianship.child_id, Guardianship.parent_id)
            .where(Guardianship.child_id.in_(student_ids))
            .order_by(Guardianship.child_id, Guardianship.parent_id)
        )
    ).all()
    wanted = {
        f"{kind}:{lesson.id}:{child}:{parent}": (child, parent) for child, parent in guardians
    }
    if not wanted:
        return 0
    made_before = set(
        (
            await session.scalars(select(Notice.dedupe_key).where(Notice.dedupe_key.in_(wanted)))
        ).all()
    )
    about = LessonRef(lesson.id, lesson.subject, lesson.starts_at, lesson.ends_at)
    rows: list[dict[str, Any]] = []
    for key, (child, parent) in wanted.items():
        if key in made_before:
            continue
        view = NoticeView(
            id=uuid.uuid4().hex,
            kind=kind,
            student=StudentRef(child, names.get(child) or ""),
            lesson=about,
            created_at=now,
        )
        rows.append(
            {
                "id": view.id,
                "dedupe_key": key,
                "recipient_id": parent,
                "student_id": child,
                "lesson_id": lesson.id,
                "kind": kind,
                "created_at": now,
                "payload": msgspec.json.encode(view).decode(),
                "pending": True,
                "webhook_attempts": 0,
                "webhook_error": "",
                "next_attempt_at": now,
            }
        )
    if rows:
        await session.execute(insert(Notice), rows)
    return len(rows)


def _view(row: Notice) -> NoticeView:
    return msgspec.json.decode(row.payload, type=NoticeView)


async def notices_for(db: Database, principal: Principal, limit: int = 50) -> NoticeList:
    """The caller's own notices, newest first."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Notice)
            .where(Notice.recipient_id == principal.person_id)
            .order_by(Notice.created_at.desc(), Notice.id)
            .limit(limit)
        )
        views = [_view(row) for row in rows.all()]
        for student_id in sorted({view.student.id for view in views}):
            audit.record(
                session, action="notices_read", actor_id=principal.person_id, subject_id=student_id
            )
        await session.commit()
    return NoticeList(views)


async def notice_for(db: Database, principal: Principal, notice_id: str) -> NoticeView:
    """One notice of the caller's own; another person's is reported as not found."""
    async with db.session() as session:
        row = await session.get(Notice, notice_id[:32])
        if row is None or row.recipient_id != principal.person_id:
            raise NotFound("there is no such notice", code="notice_not_found")
        audit.record(
            session, action="notice_read", actor_id=principal.person_id, subject_id=row.student_id
        )
        await session.commit()
        return _view(row)


def webhook_body(row: Notice) -> bytes:
    """The JSON a webhook receives: the notice and whom it is for."""
    notice: dict[str, Any] = msgspec.json.decode(row.payload)
    return msgspec.json.encode({"recipient_id": row.recipient_id, **notice})


def backoff(attempts: int) -> dt.timedelta:
    """1 s, 2 s, 4 s … up to ten minutes between webhook attempts."""
    return min(dt.timedelta(seconds=2 ** min(attempts - 1, 20)), MAX_BACKOFF)


@dataclass(slots=True)
class NoticeDispatcher:
    """Delivers pending notices; many nodes may run one against the same database."""

    db: Database
    node_id: str
    publish_live: PublishLive
    send_webhook: SendWebhook | None

    async def run_once(self, now: dt.datetime) -> int:
        """Deliver what is due now; return how many notices were worked on."""
        async with self.db.direct() as connection:
            due = [row[0] for row in await _DUE_NOTICES.rows(connection, {"now": now})]
        worked = 0
        for notice_id in due:
            if await self._lease(notice_id, now):
                await self._deliver(notice_id, now)
                worked += 1
        return worked

    async def _lease(self, notice_id: str, now: dt.datetime) -> bool:
        async with self.db.session() as session:
            taken = await session.execute(
                update(Notice)
                .where(
                    Notice.id == notice_id,
                    Notice.pending.is_(True),
                    or_(Notice.lease_until.is_(None), Notice.lease_until < now),
                )
                .values(lease_until=now + LEASE, lease_owner=self.node_id)
            )
            await session.commit()
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    async def _deliver(self, notice_id: str, now: dt.datetime) -> None:
        async with self.db.session() as session:
            row = await session.get(Notice, notice_id)
            assert row is not None
            if row.live_sent_at is None:
                try:
                    await self.publish_live(row.recipient_id, _view(row))
                    row.live_sent_at = now
                except Exception:
                    log.exception("notice %s: live delivery failed", notice_id)
            if self.send_webhook is not None and row.webhook_done_at is None:
                try:
                    await self.send_webhook(row.id, webhook_body(row))
                    row.webhook_done_at = now
                    row.webhook_error = ""
                except Exception as exc:
                    row.webhook_attempts += 1
                    row.webhook_error = str(exc)[:255]
                    row.next_attempt_at = now + backoff(row.webhook_attempts)
                    log.warning(
                        "notice %s: webhook attempt %d failed", notice_id, row.webhook_attempts
                    )
            webhook_settled = (
                self.send_webhook is None
                or row.webhook_done_at is not None
                or row.webhook_attempts >= MAX_WEBHOOK_ATTEMPTS
            )
            row.pending = not (row.live_sent_at is not None and webhook_settled)
            if row.live_sent_at is None:
                row.next_attempt_at = now + backoff(1)
            row.lease_until = None
            row.lease_owner = None
            await session.commit()

    async def release(self) -> None:
        """Give back this node's leases (it is stopping) so that others need not wait."""
        async with self.db.session() as session:
            await session.execute(
                update(Notice)
                .where(Notice.lease_owner == self.node_id)
                .values(lease_until=None, lease_owner=None)
            )
            await session.commit()
