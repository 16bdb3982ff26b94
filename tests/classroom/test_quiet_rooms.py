"""Which room events may have added a message or a hand, and the offsets at which a node
knew rooms empty."""

from __future__ import annotations

from classroom.quiet_rooms import QuietRooms, adds_contents, read_may_miss


def test_only_events_known_to_add_nothing_keep_a_room_quiet() -> None:
    quiet = [
        (1, "room.state", {}),
        (2, "reaction", {}),
        (3, "media.published", {}),
        (4, "board.op", {}),
        (5, "channel.evict", {}),
    ]
    assert not adds_contents(quiet)
    assert not adds_contents([])
    for event in ("chat.message", "hand.changed", "node.chat.private", "something.new"):
        assert adds_contents([*quiet, (6, event, {})]), event


def test_a_read_after_a_hand_or_a_message_finds_it_but_not_a_private_one() -> None:
    for event in ("hand.changed", "chat.message", "chat.deleted", "room.state"):
        assert not read_may_miss([(1, event, {})]), event
    for event in ("node.chat.private", "something.new"):
        assert read_may_miss([(1, "room.state", {}), (2, event, {})]), event


def test_a_room_is_known_empty_up_to_its_latest_offset_until_forgotten() -> None:
    rooms = QuietRooms()
    assert rooms.empty_at(7) is None
    rooms.empty(7, 10)
    rooms.empty(7, 8)  # a slower entry's read: the later one stands
    assert rooms.empty_at(7) == 10
    rooms.empty(7, 12)
    assert rooms.empty_at(7) == 12
    rooms.forget(7)
    assert rooms.empty_at(7) is None


def test_it_holds_a_bounded_number_of_rooms() -> None:
    rooms = QuietRooms(size=3)
    for lesson in range(3):
        rooms.empty(lesson, 1)
    rooms.empty(2, 5)  # a known room does not make room
    assert rooms.empty_at(0) == 1
    rooms.empty(3, 1)
    assert rooms.empty_at(3) == 1
    assert [rooms.empty_at(lesson) for lesson in range(3)] == [None, None, None]
