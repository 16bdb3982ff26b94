"""People: signing in and what a person may know about themselves."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from classroom import audit
from classroom.errors import NotFound, Unauthenticated
from classroom.passwords import verify_password_async
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.models import Enrolment, Guardianship, Person, School, SchoolClass

MAX_USERNAME_LENGTH = 64
MAX_PASSWORD_LENGTH = 256


class ClassRef(msgspec.Struct, frozen=True):
    id: int
    name: str


class SchoolRef(msgspec.Struct, frozen=True):
    id: int
    name: str
    timezone: str


class ChildRef(msgspec.Struct, frozen=True):
    id: int
    display_name: str
    school_class: ClassRef | None


class Profile(msgspec.Struct, frozen=True):
    """What ``GET /api/me`` returns: the caller's own data and, for a parent, their children."""

    id: int
    username: str
    display_name: str
    role: Role
    school: SchoolRef
    school_class: ClassRef | None = None
    children: list[ChildRef] = []


async def authenticate(db: Database, username: str, password: str) -> Principal:
    """The principal for valid credentials; ``Unauthenticated`` otherwise (same reply for both
    an unknown username and a wrong password, and the same time spent)."""
    async with db.session() as session:
        person = (
            await session.execute(select(Person).where(Person.username == username))
        ).scalar_one_or_none()
        stored = person.password_hash if person is not None and person.active else None
        matches = await verify_password_async(stored, password)
        if person is None or stored is None or not matches:
            if person is not None:
                audit.record(session, action="login_failed", actor_id=person.id)
                await session.commit()
            raise Unauthenticated("wrong username or password", code="bad_credentials")
        audit.record(session, action="login", actor_id=person.id)
        await session.commit()
        return Principal(person_id=person.id, role=person.role, school_id=person.school_id)


async def class_of(db: Database, student_id: int) -> ClassRef | None:
    async with db.session() as session:
        row = (
            await session.execute(
                select(SchoolClass.id, SchoolClass.name)
                .join(Enrolment, Enrolment.class_id == SchoolClass.id)
                .where(Enrolment.student_id == student_id)
            )
        ).first()
    return None if row is None else ClassRef(id=row.id, name=row.name)


async def children_of(db: Database, parent_id: int) -> list[ChildRef]:
    """A parent's children with their classes, in a stable order."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Person.id, Person.display_name, SchoolClass.id, SchoolClass.name)
                .join(Guardianship, Guardianship.child_id == Person.id)
                .outerjoin(Enrolment, Enrolment.student_id == Person.id)
                .outerjoin(SchoolClass, SchoolClass.id == Enrolment.class_id)
                .where(Guardianship.parent_id == parent_id)
                .order_by(Person.id)
            )
        ).all()
    return [
        ChildRef(
            id=child_id,
            display_name=name,
            school_class=None if class_id is None else ClassRef(id=class_id, name=class_name),
        )
        for child_id, name, class_id, class_name in rows
    ]


async def profile(db: Database, principal: Principal) -> Profile:
    """The caller's own profile."""
    async with db.session() as session:
        row = (
            await session.execute(
                select(Person, School)
                .join(School, School.id == Person.school_id)
                .where(Person.id == principal.person_id, Person.active.is_(True))
            )
        ).first()
    if row is None:
        raise NotFound("this account no longer exists", code="account_not_found")
    person, school = row
    school_ref = SchoolRef(id=school.id, name=school.name, timezone=school.timezone)
    school_class = await class_of(db, person.id) if person.role is Role.STUDENT else None
    children = await children_of(db, person.id) if person.role is Role.PARENT else []
    return Profile(
        id=person.id,
        username=person.username,
        display_name=person.display_name,
        role=person.role,
        school=school_ref,
        school_class=school_class,
        children=children,
    )
