"""Who may publish in a lesson, and whose tracks the teacher muted (no transport here).

The teacher (or an admin standing in) may always publish; a student only after the teacher
allowed it. Only the teacher mutes and unmutes others; a muted track stays muted when its
owner publishes again. Callers say whether the acting person is the lesson's teacher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from classroom.errors import Forbidden
from media.frames import Kind


@dataclass(slots=True)
class Stage:
    allowed: set[int] = field(default_factory=set)
    muted: dict[int, set[Kind]] = field(default_factory=dict)

    def may_publish(self, person_id: int, *, teacher: bool) -> bool:
        return teacher or person_id in self.allowed

    def check_publish(self, person_id: int, *, teacher: bool) -> None:
        if not self.may_publish(person_id, teacher=teacher):
            raise Forbidden(
                "the teacher has not allowed you to share your camera or microphone",
                code="publish_not_allowed",
            )

    @staticmethod
    def check_teacher(teacher: bool) -> None:
        if not teacher:
            raise Forbidden("only the lesson's teacher may do this", code="not_the_teacher")

    def allow(self, person_id: int, allowed: bool, *, by_teacher: bool) -> None:
        self.check_teacher(by_teacher)
        if allowed:
            self.allowed.add(person_id)
        else:
            self.allowed.discard(person_id)

    def mute(
        self, person_id: int, kinds: tuple[Kind, ...], muted: bool, *, by_teacher: bool
    ) -> set[Kind]:
        """Mute or unmute ``kinds`` of a person's tracks; returns what is muted now."""
        self.check_teacher(by_teacher)
        now = self.muted.setdefault(person_id, set())
        if muted:
            now.update(kinds)
        else:
            now.difference_update(kinds)
        return set(now)

    def muted_kinds(self, person_id: int) -> set[Kind]:
        return set(self.muted.get(person_id, ()))
