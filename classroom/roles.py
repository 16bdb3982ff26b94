"""Roles a person can have in a school, and the identity of a signed-in caller."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    """What a person is in the school; each account has exactly one role."""

    ADMIN = "admin"
    TEACHER = "teacher"
    STUDENT = "student"
    PARENT = "parent"
    PANEL = "panel"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a domain operation."""

    person_id: int
    role: Role
    school_id: int
