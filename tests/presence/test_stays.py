"""Stays from room visits: reconnects inside the grace do not split a stay, two devices
make one attendee, and a node that stopped does not leave a ghost."""

from __future__ import annotations

import datetime as dt

from presence.visits import STALE_AFTER, Stay, merge_stays

T0 = dt.datetime(2026, 9, 1, 8, 30, tzinfo=dt.UTC)
GRACE = dt.timedelta(seconds=15)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_reconnect_inside_the_grace_is_one_stay() -> None:
    visits = [(at(0), at(100), at(100)), (at(110), at(600), at(600))]
    assert merge_stays(visits, grace=GRACE, now=at(700)) == [Stay(at(0), at(600))]


def test_a_longer_gap_splits_the_stay() -> None:
    visits = [(at(0), at(100), at(100)), (at(116), None, at(200))]
    assert merge_stays(visits, grace=GRACE, now=at(210)) == [
        Stay(at(0), at(100)),
        Stay(at(116), None),
    ]


def test_two_devices_overlapping_are_one_stay() -> None:
    phone = (at(0), at(300), at(300))
    laptop = (at(60), at(200), at(200))
    assert merge_stays([laptop, phone], grace=GRACE, now=at(400)) == [Stay(at(0), at(300))]
    still_on_phone = (at(0), None, at(390))
    assert merge_stays([laptop, still_on_phone], grace=GRACE, now=at(400)) == [Stay(at(0), None)]


def test_a_visit_whose_node_stopped_ends_when_last_seen() -> None:
    ghost = (at(0), None, at(100))
    now = at(100) + STALE_AFTER + dt.timedelta(seconds=1)
    assert merge_stays([ghost], grace=GRACE, now=now) == [Stay(at(0), at(100))]
    fresh = (at(0), None, at(100))
    assert merge_stays([fresh], grace=GRACE, now=at(110)) == [Stay(at(0), None)]
