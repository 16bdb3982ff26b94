"""The storm's CPU timeline: one point per second, shares of the machine and the server."""

from __future__ import annotations

from bench.storm import procstat
from bench.storm.cpu_timeline import CpuTimeline


class Readings:
    """Counters that move as the test says (the seam: /proc)."""

    def __init__(self) -> None:
        self.now = 100.6
        self.machine = (0.0, 0.0, 0.0)
        self.server = {7: 0.0}

    def clock(self) -> float:
        return self.now

    def read_machine(self) -> tuple[float, float, float]:
        return self.machine

    def read_process(self, pid: int) -> float:
        return self.server[pid]


def test_one_point_per_second_with_the_shares_of_that_second() -> None:
    readings = Readings()
    timeline = CpuTimeline(
        100.5,
        [7],
        read_machine=readings.read_machine,
        read_process=readings.read_process,
        clock=readings.clock,
    )
    timeline.sample()  # in second 0: the baseline only
    readings.now, readings.machine, readings.server = 101.6, (0.6, 0.2, 2.0), {7: 0.5}
    timeline.sample()
    readings.now = 101.9  # the same second: nothing new
    timeline.sample()
    readings.now, readings.machine, readings.server = 103.7, (1.0, 1.4, 6.0), {7: 1.5}
    timeline.sample()
    assert timeline.points() == [
        {"second": 1, "machine_user": 0.3, "machine_kernel": 0.1, "server_cores": 0.5},
        # 2.1 s since the last reading, however the seconds are numbered.
        {"second": 3, "machine_user": 0.1, "machine_kernel": 0.3, "server_cores": 0.476},
    ]


def test_the_machine_is_read_from_proc() -> None:
    user, kernel, total = procstat.machine_cpu_seconds()
    assert 0 < user < total and 0 <= kernel < total
