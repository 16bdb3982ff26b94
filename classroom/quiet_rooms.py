"""Rooms a node knows to be empty, so that who enters them is not read the database for.

At the bell thirty people enter each room where nothing has been said and no hand is up. A
node that read a room's contents as empty at an offset of the room's channel, and has since
heard every event of the channel up to where a new member's stream begins, none of which
could have added a message or a hand, knows what that member would read: nothing. Every
way a message or a hand comes into a room announces itself on the channel first or at once
(a message is published before it is stored, a private one with a note for the nodes; a
hand is published right after it is stored, so one stored but not yet announced reaches
the new member live).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from classroom import chat, hands

EVENTS_WITHOUT_CONTENTS = frozenset(
    {"room.state", "reaction", "board.op", "recording.state", "channel.evict"}
)
"""Room events that add neither a message nor a hand (``media.*`` ones neither)."""


EVENTS_A_READ_REFLECTS = frozenset({hands.CHANGED_EVENT, chat.MESSAGE_EVENT, chat.DELETED_EVENT})
"""Events of contents that a read of the room after them finds: a hand is stored before it
is announced, and so is a deletion; a message not stored yet is taken as heard
(``chat.with_heard``). A private message's note for the nodes is not among them: the
message may be stored after the read."""


def _quiet(event: str) -> bool:
    return event in EVENTS_WITHOUT_CONTENTS or event.startswith("media.")


def adds_contents(events: Iterable[tuple[int, str, Any]]) -> bool:
    """Whether any of these ``(offset, event, data)`` may have added a message or a hand;
    an event not known to add neither counts as one that may."""
    return any(not _quiet(event) for _, event, _ in events)


def read_may_miss(events: Iterable[tuple[int, str, Any]]) -> bool:
    """Whether a read of the room after these events may lack what one of them added."""
    return any(not _quiet(event) and event not in EVENTS_A_READ_REFLECTS for _, event, _ in events)


class QuietRooms:
    """The offset of each lesson's room channel at which the node last knew it empty."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._empty_at: dict[int, int] = {}

    def empty_at(self, lesson_id: int) -> int | None:
        return self._empty_at.get(lesson_id)

    def empty(self, lesson_id: int, offset: int) -> None:
        """The room was empty up to ``offset`` (a later offset than one known replaces it)."""
        if offset >= self._empty_at.get(lesson_id, offset):
            if len(self._empty_at) >= self._size and lesson_id not in self._empty_at:
                self._empty_at.clear()  # a day's rooms at most; forgetting only costs reads
            self._empty_at[lesson_id] = offset

    def forget(self, lesson_id: int) -> None:
        self._empty_at.pop(lesson_id, None)
