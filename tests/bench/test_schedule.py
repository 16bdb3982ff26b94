"""Arrival schedules of the storm: the right count, in order, peaking at the given rate."""

from __future__ import annotations

import pytest

from bench.storm.schedule import SHAPES, arrivals


def peak_rate(times: list[float]) -> int:
    per_second: dict[int, int] = {}
    for at in times:
        per_second[int(at)] = per_second.get(int(at), 0) + 1
    return max(per_second.values())


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_schedules_everyone_in_order(shape: str) -> None:
    times = arrivals(6000, 200.0, shape, 10.0)
    assert len(times) == 6000
    assert times == sorted(times)
    assert times[0] == pytest.approx(0.0, abs=0.05)
    assert 180 <= peak_rate(times) <= 202


def test_flat_and_ramp_durations() -> None:
    assert arrivals(1000, 100.0, "flat", 0)[-1] == pytest.approx(9.99)
    ramp = arrivals(2000, 100.0, "ramp", 10.0)
    assert ramp[499] < 10.0 <= ramp[500]  # 500 arrive while the rate climbs to 100/s
    assert ramp[-1] == pytest.approx(10.0 + 1499 / 100.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        arrivals(10, 0.0, "flat", 0)
    with pytest.raises(ValueError):
        arrivals(10, 5.0, "zigzag", 0)
