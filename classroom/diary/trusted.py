"""Trusted persons: a parent makes an account for, e.g., a grandparent, who may read the
diary of the children the parent chose, and nothing else, until the parent revokes it.

The account has the role ``parent`` but no guardianship: the diary's grant in
``diary_trusted_access`` is its only right, so it cannot report absences, get notices or
act for the child. Revoking ends every grant of that parent and, when no grant is left,
deactivates the account. Every read checks the grants, so a revoked person sees nothing
from the next request on, and can no longer sign in."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from classroom import audit
from classroom.diary.tables import DiaryTrustedAccess
from classroom.errors import Conflict, Forbidden, InvalidInput, NotFound
from classroom.passwords import hash_password
from classroom.people import children_of
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.models import Guardianship, Person

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MAX_TRUSTED = 5


class NewTrusted(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=64)]
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
    child_ids: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]],
        msgspec.Meta(min_length=1, max_length=20),
    ]


class TrustedView(msgspec.Struct, frozen=True):
    id: int
    username: str
    display_name: str
    child_ids: list[int]
    granted_at: dt.datetime


class TrustedList(msgspec.Struct, frozen=True):
    trusted: list[TrustedView]


async def _own_children(db: Database, principal: Principal) -> set[int]:
    if principal.role is not Role.PARENT:
        raise Forbidden("only a parent adds trusted persons", code="not_a_parent")
    own = {child.id for child in await children_of(db, principal.person_id)}
    if not own:
        raise Forbidden("only a parent of a child adds trusted persons", code="not_a_parent")
    return own


async def add(
    db: Database, principal: Principal, body: NewTrusted, *, now: dt.datetime
) -> TrustedView:
    own = await _own_children(db, principal)
    children = sorted(set(body.child_ids))
    if not set(children) <= own:
        raise NotFound("you have no such child", code="child_not_found")
    username = body.username.strip().casefold()
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            "a username is 3–64 letters a–z, digits, '.', '_' or '-'", code="bad_username"
        )
    if not body.display_name.strip():
        raise InvalidInput("give the person's name", code="bad_name")
    password_hash = await asyncio.to_thread(hash_password, body.password)
    async with db.session() as session:
        count = len(
            (
                await session.scalars(
                    select(DiaryTrustedAccess.trusted_id)
                    .where(
                        DiaryTrustedAccess.granted_by == principal.person_id,
                        DiaryTrustedAccess.revoked_at.is_(None),
                    )
                    .distinct()
                )
            ).all()
        )
        if count >= MAX_TRUSTED:
            raise Conflict(f"at most {MAX_TRUSTED} trusted persons", code="too_many_trusted")
        if await session.scalar(select(Person.id).where(Person.username == username)):
            raise Conflict("this username is taken", code="username_taken")
        person = Person(
            school_id=principal.school_id,
            username=username,
            password_hash=password_hash,
            display_name=body.display_name.strip(),
            role=Role.PARENT,
            active=True,
        )
        session.add(person)
        try:
            await session.flush()
        except IntegrityError:  # the same username taken a moment ago
            raise Conflict("this username is taken", code="username_taken") from None
        for child in children:
            session.add(
                DiaryTrustedAccess(
                    trusted_id=person.id,
                    child_id=child,
                    granted_by=principal.person_id,
                    granted_at=now,
                )
            )
            audit.record(
                session,
                action="trusted_granted",
                actor_id=principal.person_id,
                subject_id=child,
                detail=f"trusted:{person.id}",
            )
        await session.commit()
        return TrustedView(person.id, username, person.display_name, children, now)


async def list_for(db: Database, principal: Principal) -> TrustedList:
    await _own_children(db, principal)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    Person.id,
                    Person.username,
                    Person.display_name,
                    DiaryTrustedAccess.child_id,
                    DiaryTrustedAccess.granted_at,
                )
                .join(DiaryTrustedAccess, DiaryTrustedAccess.trusted_id == Person.id)
                .where(
                    DiaryTrustedAccess.granted_by == principal.person_id,
                    DiaryTrustedAccess.revoked_at.is_(None),
                )
                .order_by(Person.id, DiaryTrustedAccess.child_id)
            )
        ).all()
    found: dict[int, TrustedView] = {}
    for pid, username, name, child, granted in rows:
        if pid in found:
            found[pid].child_ids.append(child)
        else:
            found[pid] = TrustedView(pid, username, name, [child], granted)
    return TrustedList(list(found.values()))


async def revoke(
    db: Database, principal: Principal, trusted_id: int, *, now: dt.datetime
) -> TrustedList:
    await _own_children(db, principal)
    async with db.session() as session:
        done = await session.execute(
            update(DiaryTrustedAccess)
            .where(
                DiaryTrustedAccess.trusted_id == trusted_id,
                DiaryTrustedAccess.granted_by == principal.person_id,
                DiaryTrustedAccess.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise NotFound("you have no such trusted person", code="trusted_not_found")
        left = await session.scalar(
            select(DiaryTrustedAccess.id)
            .where(
                DiaryTrustedAccess.trusted_id == trusted_id, DiaryTrustedAccess.revoked_at.is_(None)
            )
            .limit(1)
        )
        guardian = await session.scalar(
            select(Guardianship.child_id).where(Guardianship.parent_id == trusted_id).limit(1)
        )
        if left is None and guardian is None:
            await session.execute(
                update(Person).where(Person.id == trusted_id).values(active=False)
            )
        audit.record(
            session,
            action="trusted_revoked",
            actor_id=principal.person_id,
            detail=f"trusted:{trusted_id}",
        )
        await session.commit()
    return await list_for(db, principal)
