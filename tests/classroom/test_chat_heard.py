"""A history read while another node still holds messages back to store them: those the
node heard on the room's channel are slotted in by their offsets, deleted ones stay out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from classroom import chat
from classroom.chat import HISTORY_LIMIT, MessageView
from classroom.roles import Role
from classroom.rooms import Author

TEACHER = Author(1, "Анна Петровна", Role.TEACHER)
STUDENT = Author(2, "Миша", Role.STUDENT)
SENT = dt.datetime(2026, 9, 1, 8, 35, tzinfo=dt.UTC)


def view(message_id: str, author: Author = TEACHER, to: Author | None = None) -> MessageView:
    return MessageView(message_id, 7, author, f"text {message_id}", SENT, to=to)


def message(offset: int, item: MessageView) -> tuple[int, str, Any]:
    """The event as a node hears it: decoded from the bus into builtins."""
    return offset, chat.MESSAGE_EVENT, msgspec.to_builtins(item)


def ids(history: list[MessageView]) -> list[str]:
    return [item.id for item in history]


def test_a_stored_history_with_nothing_missing_is_returned_as_it_is() -> None:
    history = [view("a"), view("b")]
    heard = [message(10, history[0]), message(11, history[1]), (12, "room.state", {})]
    assert chat.with_heard(history, heard) is history


def test_a_message_not_stored_yet_comes_back_whole_in_its_place() -> None:
    waiting = view("b", STUDENT)
    history = [view("a"), view("c")]  # "c" was stored by another node before "b"
    heard = [message(10, history[0]), message(11, waiting), message(12, history[1])]
    merged = chat.with_heard(history, heard)
    assert ids(merged) == ["a", "b", "c"]
    assert merged[1] == waiting  # author, text and time as delivered


def test_missing_messages_after_the_history_go_to_its_end_in_their_order() -> None:
    history = [view("a")]
    heard = [message(10, history[0]), message(11, view("b")), message(13, view("c"))]
    assert ids(chat.with_heard(history, heard)) == ["a", "b", "c"]
    assert ids(chat.with_heard([], heard[1:])) == ["b", "c"]


def test_a_private_message_stays_where_the_history_put_it() -> None:
    private = view("p", STUDENT, to=TEACHER)  # not on the room's channel
    history = [view("a"), private]
    heard = [message(10, history[0]), message(12, view("b"))]
    assert ids(chat.with_heard(history, heard)) == ["a", "p", "b"]


def test_a_message_deleted_meanwhile_and_private_ones_heard_stay_out() -> None:
    history = [view("a")]
    heard = [
        message(11, view("gone")),
        message(12, view("p", STUDENT, to=TEACHER)),
        (13, chat.DELETED_EVENT, {"lesson_id": 7, "id": "gone"}),
    ]
    assert ids(chat.with_heard(history, heard)) == ["a"]


def test_undecodable_events_are_skipped_and_the_limit_holds() -> None:
    history = [view(f"s{n}") for n in range(HISTORY_LIMIT)]
    heard = [
        (1, chat.MESSAGE_EVENT, "not a message"),
        (2, chat.MESSAGE_EVENT, {"id": "x", "text": 5}),
        message(300, view("late")),
    ]
    merged = chat.with_heard(history, heard)
    assert len(merged) == HISTORY_LIMIT
    assert ids(merged)[0] == "s1" and ids(merged)[-1] == "late"


def test_a_full_history_does_not_take_back_older_messages_it_left_out() -> None:
    private = [view("p1", STUDENT, to=TEACHER), view("p2", STUDENT, to=TEACHER)]
    history = [*private, *(view(f"s{n}") for n in range(HISTORY_LIMIT - 2))]
    older = [message(n, view(f"old{n}")) for n in range(50)]  # stored, past the history
    kept = [message(100 + n, item) for n, item in enumerate(history[2:])]
    merged = chat.with_heard(history, [*older, *kept, message(400, view("late"))])
    assert ids(merged) == [*ids(history)[1:], "late"]
