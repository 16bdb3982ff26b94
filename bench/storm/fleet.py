"""The load worker processes of one storm: started with their share of arrivals, told
what to do next, and read for progress and results."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bench.storm.loadworker import worker_main
from bench.storm.plan import Arrival, ClientTuning, Target
from bench.storm.progress import Progress

SOCKETS_PER_LOAD_WORKER = 18_000


class StormTimeout(TimeoutError):
    """The run went past its deadline."""


def load_worker_count(students: int, wanted: int) -> int:
    return max(wanted, -(-students // SOCKETS_PER_LOAD_WORKER), 1)


def split(arrivals: list[Arrival], workers: int) -> list[list[Arrival]]:
    """Deal arrivals round-robin so that every worker's share stays in time order."""
    return [arrivals[i::workers] for i in range(workers)]


class Fleet:
    """Load worker processes, one per source address, and what they report."""

    def __init__(
        self,
        label: str,
        arrivals: list[Arrival],
        target: Target,
        sources: list[str],
        tuning: ClientTuning,
        deadline: float,
    ) -> None:
        self.label = label
        self.arrivals = arrivals
        self.target = target
        self.sources = sources
        self.tuning = tuning
        self.deadline = deadline
        self.progress = Progress(label)
        self.reports: multiprocessing.Queue[Any] = multiprocessing.get_context("spawn").Queue()
        self.workers: list[BaseProcess] = []
        self.commands: list[Connection] = []
        self.state: dict[int, dict[str, int]] = {}  # each worker's latest progress
        self._ready: set[int] = set()
        self.on_tick: Callable[[], None] | None = None
        """Called every turn of ``_wait`` (a tenth of a second): for sampling alongside."""

    # -- load workers -------------------------------------------------------------------

    def start_workers(self) -> None:
        context = multiprocessing.get_context("spawn")
        shares = split(self.arrivals, len(self.sources))
        for index, (share, source) in enumerate(zip(shares, self.sources, strict=True)):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(index, share, self.target, source, self.tuning, theirs, self.reports),
                daemon=True,
            )
            process.start()
            theirs.close()
            self.workers.append(process)
            self.commands.append(ours)
        self._wait(lambda: len(self._ready) == len(self.workers), 60, "load workers")

    def _broadcast(self, command: str, **args: Any) -> None:
        for connection in self.commands:
            connection.send((command, args))

    def _pump(self, timeout: float) -> list[tuple[str, int, Any]]:
        """Read the workers' reports for up to ``timeout`` seconds; keep progress; return
        the other reports."""
        other: list[tuple[str, int, Any]] = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            try:
                kind, index, body = self.reports.get(timeout=max(left, 0.0))
            except queue.Empty:
                return other
            if kind == "ready":
                self._ready.add(index)
            elif kind == "progress":
                self.state[index] = body
            else:
                other.append((kind, index, body))
            if time.monotonic() >= end:
                return other

    def _total(self, key: str) -> int:
        return sum(body.get(key, 0) for body in self.state.values())

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> bool:
        """Pump reports until ``done`` or ``timeout``; raise past the run's deadline."""
        end = time.monotonic() + timeout
        while not done():
            if time.time() > self.deadline:
                raise StormTimeout(f"{self.label}: the run's --timeout passed while {what}")
            if time.monotonic() > end:
                return False
            self._pump(0.1)
            self._show(what)
            if self.on_tick is not None:
                self.on_tick()
        return True

    def _show(self, phase: str) -> None:
        total = len(self.arrivals)
        joined, failed = self._total("joined"), self._total("failed")
        extra = f"failed {failed} deliveries {self._total('deliveries')}"
        if self._total("dropped"):
            extra += f" back {self._total('resumed')}/{self._total('dropped')}"
        self.progress.show(phase, joined + failed, total, extra)

    def collect(self) -> list[dict[str, Any]]:
        self._broadcast("collect")
        got: dict[int, dict[str, Any]] = {}
        end = time.monotonic() + 60
        while len(got) < len(self.workers) and time.monotonic() < end:
            for kind, index, body in self._pump(0.2):
                if kind == "collected":
                    got[index] = body
        if len(got) < len(self.workers):
            raise StormTimeout(f"{self.label}: load workers did not report")
        return [got[i] for i in sorted(got)]

    def stop_workers(self) -> None:
        for connection in self.commands:
            with contextlib.suppress(OSError):
                connection.send(("stop", {}))
        for process in self.workers:
            process.join(timeout=10)
        for process in self.workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGKILL)
                process.join(timeout=5)
        for connection in self.commands:
            connection.close()
        self.reports.close()
        self.reports.join_thread()
