"""Who a person is to a lesson's board: the teacher, the bound panel, a student, or nobody."""

from __future__ import annotations

from classroom.boards.document import Actor, Standing
from classroom.errors import Forbidden
from classroom.roles import Principal, Role
from classroom.rooms import Room, is_enrolled, is_teacher, panel_bound_to
from classroom.storage.database import Database


async def actor_of(db: Database, room: Room, principal: Principal) -> Actor:
    """The caller as a board actor; ``Forbidden`` for anyone outside the lesson."""
    if is_teacher(room, principal):
        return Actor(principal.person_id, Standing.TEACHER)
    if principal.role is Role.PANEL:
        if await panel_bound_to(db, principal.person_id, room.lesson.id):
            return Actor(principal.person_id, Standing.PANEL)
    elif principal.role is Role.STUDENT and await is_enrolled(
        db, principal.person_id, room.lesson.class_id
    ):
        return Actor(principal.person_id, Standing.STUDENT)
    raise Forbidden("this board belongs to another lesson", code="not_a_participant")
