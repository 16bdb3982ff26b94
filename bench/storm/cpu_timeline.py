"""The machine's and the server's CPU second by second while the students arrive, so that
a report shows whether the cores ran out, and whose work took them (the kernel's too)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.storm import procstat


class CpuTimeline:
    """Sampled as often as the caller likes; keeps one point per whole second since
    ``start`` (a ``time.time()``): the machine's user and kernel share of all its cores, and
    the server processes' CPU in cores over the time that really passed between readings.
    The workers are found once, by the caller: finding them by their listening socket reads
    every socket of the machine, which once a second at 40,000 connections took the
    machine's kernel half its cores."""

    def __init__(
        self,
        start: float,
        server_pids: Sequence[int],
        *,
        read_machine: Callable[[], tuple[float, float, float]] = procstat.machine_cpu_seconds,
        read_process: Callable[[int], float] = procstat.cpu_seconds,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._start = start
        self._server_pids = tuple(server_pids)
        self._read_machine = read_machine
        self._read_process = read_process
        self._clock = clock
        self._points: list[dict[str, Any]] = []
        self._last: tuple[int, float, tuple[float, float, float], dict[int, float]] | None = None

    def sample(self) -> None:
        """Close the second that has passed since the last point, if one has."""
        second = math.floor(self._clock() - self._start)
        if self._last is not None and second <= self._last[0]:
            return
        read_at = self._clock()
        machine = self._read_machine()
        server = {pid: self._read_process(pid) for pid in self._server_pids}
        if self._last is not None and second >= 0:
            _second, read_before, (user0, kernel0, total0), server0 = self._last
            elapsed = (machine[2] - total0) or 1e-9
            spent = sum(server[pid] - server0[pid] for pid in server)
            self._points.append(
                {
                    "second": second,
                    "machine_user": round((machine[0] - user0) / elapsed, 3),
                    "machine_kernel": round((machine[1] - kernel0) / elapsed, 3),
                    "server_cores": round(spent / max(read_at - read_before, 1e-3), 3),
                }
            )
        self._last = (second, read_at, machine, server)

    def points(self) -> list[dict[str, Any]]:
        return list(self._points)
