"""Drives one storm against one server: the phases (join, hold, chat, kill and reconnect,
the lesson's end) and the server's CPU and memory around each."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.storm import procstat, profile
from bench.storm.cpu_timeline import CpuTimeline
from bench.storm.fleet import Fleet
from bench.storm.plan import Arrival, ClientTuning, Target
from bench.storm.stats import join_latency, summary


@dataclass
class Phases:
    """What to run after the joins, and for how long to wait."""

    hold: float = 2.0
    chat_rounds: int = 3
    chat_interval: float = 1.0
    settle: float = 15.0
    kill: bool = True
    reconnect_timeout: float = 120.0
    leave: bool = True
    leave_spread: float = 10.0  # seconds over which everyone leaves when the lesson ends
    profile_seconds: float = 0.0  # py-spy on one worker from the start of a phase
    profile_path: Path | None = None
    profile_phase: str = "joins"  # or "chat", "leave"


@dataclass
class ServerView:
    """How the driver sees the server: its worker pids now, how to kill one, and how many
    room visits its database holds open."""

    pids: Callable[[], list[int]]
    kill_one: Callable[[], int] | None = None
    wait_restart: Callable[[int], None] | None = None
    open_visits: Callable[[], int] | None = None


@dataclass
class Outcome:
    metrics: dict[str, Any] = field(default_factory=dict)
    join_samples: list[tuple[float, float]] = field(default_factory=list)


LEAVE_TIMEOUT = 10.0
"""Seconds a leaving student waits for the server's close frame before dropping."""

IDLE_CPU_PER_CONNECTION = 12e-6
"""CPU-seconds per second a held, idle connection may cost (pings every 25 s: measured
6.8e-6), so that a server holding many counts as quiet."""


def _cpu(pids: list[int]) -> dict[int, float]:
    return {pid: procstat.cpu_seconds(pid) for pid in pids}


def _cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings; a process that appeared in between counts from 0."""
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def _rss(pids: list[int]) -> int:
    return sum(procstat.rss_kb(pid) for pid in pids)


def _per(count: float, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


class Driver(Fleet):
    def __init__(
        self,
        label: str,
        arrivals: list[Arrival],
        target: Target,
        sources: list[str],
        tuning: ClientTuning,
        server: ServerView,
        deadline: float,
    ) -> None:
        super().__init__(label, arrivals, target, sources, tuning, deadline)
        self.server = server

    def quiesce(self, held: int, limit: float = 180.0) -> float:
        """Wait until the server workers are nearly idle for a second (under a tenth of a
        core, plus what ``held`` idle connections cost: their pings); return how long that
        took. A server that fell behind keeps working on joins whose clients already gave
        up; the next phase must not be charged for that."""
        quiet = 0.1 + held * IDLE_CPU_PER_CONNECTION
        started = time.monotonic()
        pids = self.server.pids()  # found once: finding them reads every socket of the machine
        while time.monotonic() - started < limit:
            before = _cpu(pids)
            self._pump(1.0)
            if _cpu_spent(before, _cpu(pids)) < quiet:
                break
            self._show("quiescing")
        return round(time.monotonic() - started, 1)

    # -- phases -------------------------------------------------------------------------

    def run(self, phases: Phases) -> Outcome:
        self.start_workers()
        outcome = Outcome()
        metrics = outcome.metrics
        metrics["students"] = len(self.arrivals)
        metrics["load_workers"] = len(self.workers)

        pids = self.server.pids()
        rss_before, cpu_before, infra_before = _rss(pids), _cpu(pids), procstat.infra_cpu()
        schedule_span = max((a.at for a in self.arrivals), default=0.0)
        start_at = time.time() + 1.0
        self._broadcast("start", at=start_at)
        profiler = self._start_profile(phases, "joins")
        cpu_timeline = CpuTimeline(start_at, pids)
        self.on_tick = cpu_timeline.sample
        try:
            self._wait(
                lambda: self._total("arrivals_done") == len(self.workers),
                schedule_span + 2 * self.tuning.join_timeout + 30,
                "joining",
            )
        finally:
            self.on_tick = None
        metrics["cpu_timeline"] = cpu_timeline.points()
        join_cpu = _cpu_spent(cpu_before, _cpu(self.server.pids()))
        metrics["join_infra_cpu_s"] = procstat.infra_spent(infra_before)
        self._finish_profile(profiler, phases, metrics)
        collected = self.collect()
        joined = sum(c["joined"] for c in collected)
        failed: Counter[str] = Counter()
        for c in collected:
            failed.update(c["failed"])
            outcome.join_samples.extend(c["join_samples"])
        metrics.update(
            joins_ok=joined,
            joins_failed=dict(failed),
            joins_asked_again_when_overloaded=sum(c["join_waits"] for c in collected),
            join_latency_ms=join_latency([ms for _, ms in outcome.join_samples]),
            join_server_cpu_s=round(join_cpu, 2),
            joins_per_server_cpu_s=_per(joined, join_cpu),
            schedule_seconds=round(schedule_span, 1),
        )
        self.progress.note(
            f"{joined} joined, {sum(failed.values())} failed, "
            f"{metrics['joins_per_server_cpu_s']} joins per server CPU-s"
        )

        metrics["server_busy_after_joins_s"] = self.quiesce(joined)
        self._wait(lambda: False, phases.hold, "holding")
        rss_after = _rss(self.server.pids())
        metrics["server_rss_kb"] = {"before": rss_before, "after_hold": rss_after}
        metrics["rss_kb_per_conn"] = round((rss_after - rss_before) / joined, 1) if joined else None

        rooms: Counter[int] = Counter()
        for c in collected:
            rooms.update({int(k): v for k, v in c["rooms"].items()})
        chat_rooms = {lesson for c in collected for lesson in c["chat_rooms"]}
        after_rooms = {lesson for c in collected for lesson in c["after_rooms"]}
        if phases.chat_rounds > 0:
            self._chat(phases, rooms, chat_rooms, metrics)
        if phases.kill and self.server.kill_one is not None:
            self.quiesce(joined)
            self._reconnect(phases, rooms, after_rooms, metrics)
        if phases.leave:
            self.quiesce(joined)
            self._lesson_end(phases, metrics)
        final = self.collect()
        metrics["load_client"] = {
            "cpu_s": round(sum(c["cpu_s"] for c in final), 2),
            "max_rss_kb": [c["max_rss_kb"] for c in final],
            "drops_before_kill": sum(c["drops_before_kill"] for c in final),
        }
        return outcome

    def _start_profile(self, phases: Phases, phase: str) -> subprocess.Popen[bytes] | None:
        pids = self.server.pids()
        wanted = phases.profile_phase == phase and phases.profile_seconds > 0
        if not wanted or not pids or phases.profile_path is None:
            return None
        return profile.start(pids[0], phases.profile_seconds, phases.profile_path)

    @staticmethod
    def _finish_profile(
        profiler: subprocess.Popen[bytes] | None, phases: Phases, metrics: dict[str, Any]
    ) -> None:
        if profiler is None or phases.profile_path is None:
            return
        try:
            profiler.wait(timeout=phases.profile_seconds + 30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()
        project = Path(__file__).resolve().parents[2]
        found = profile.summarise(phases.profile_path, project)
        if found:
            found["phase"] = phases.profile_phase
        metrics["profile"] = found

    def _chat(
        self, phases: Phases, rooms: Counter[int], chat_rooms: set[int], metrics: dict[str, Any]
    ) -> None:
        expected = phases.chat_rounds * sum(
            n for lesson, n in rooms.items() if lesson in chat_rooms
        )
        start = self._total("deliveries")
        cpu_before, infra_before = _cpu(self.server.pids()), procstat.infra_cpu()
        self._broadcast("chat", rounds=phases.chat_rounds, interval=phases.chat_interval)
        profiler = self._start_profile(phases, "chat")
        sending = phases.chat_rounds * phases.chat_interval
        seen = {"count": -1, "at": time.monotonic()}

        def delivered() -> bool:
            count = self._total("deliveries") - start
            if count != seen["count"]:
                seen.update(count=count, at=time.monotonic())
            return count >= expected or time.monotonic() - seen["at"] > phases.settle

        self._wait(delivered, sending + phases.reconnect_timeout, "chatting")
        cpu = _cpu_spent(cpu_before, _cpu(self.server.pids()))
        self._finish_profile(profiler, phases, metrics)
        collected = self.collect()
        received = sum(c["deliveries"] for c in collected)
        chat_failed: Counter[str] = Counter()
        for c in collected:
            chat_failed.update(c["chat_failed"])
        metrics.update(
            deliveries={
                "expected": expected,
                "received": received,
                "messages_sent": sum(c["chat_sent"] for c in collected),
                "send_errors": dict(chat_failed),
            },
            chat_server_cpu_s=round(cpu, 2),
            chat_infra_cpu_s=procstat.infra_spent(infra_before),
            deliveries_per_server_cpu_s=_per(received, cpu),
            room_delivery_latency_ms=summary(
                [ms for c in collected for ms in c["delivery_ms"]], (50, 99)
            ),
        )
        self.progress.note(
            f"{received}/{expected} deliveries, "
            f"{metrics['deliveries_per_server_cpu_s']} per server CPU-s"
        )

    def _reconnect(
        self, phases: Phases, rooms: Counter[int], after_rooms: set[int], metrics: dict[str, Any]
    ) -> None:
        assert self.server.kill_one is not None
        self._broadcast("arm_kill")
        self._pump(0.5)
        cpu_before = _cpu(self.server.pids())
        killed_at = time.time()
        victim = self.server.kill_one()
        self._broadcast("after_kill")
        after_expected = sum(n for lesson, n in rooms.items() if lesson in after_rooms)
        self.progress.note(f"killing a worker; {len(after_rooms)} rooms send after the kill")
        after_senders = len(after_rooms)

        seen = {"received": -1, "at": time.monotonic()}

        def settled() -> bool:
            received = self._total("after_received")
            if received != seen["received"]:
                seen.update(received=received, at=time.monotonic())
            if time.time() - killed_at < 1.0 or self._total("resumed") < self._total("dropped"):
                return False
            if self._total("after_done") < after_senders:
                return False
            # Everyone is back and every sender is done: wait for the last receipts, or
            # until nothing more arrives for a while (then the rest is lost).
            return received >= after_expected or time.monotonic() - seen["at"] > phases.settle

        complete = self._wait(settled, phases.reconnect_timeout, "reconnecting")
        if self.server.wait_restart is not None:
            self.server.wait_restart(victim)
        cpu = _cpu_spent(
            {p: v for p, v in cpu_before.items() if p != victim}, _cpu(self.server.pids())
        )
        collected = self.collect()
        dropped = sum(c["dropped"] for c in collected)
        resumed = sum(c["resumed"] for c in collected)
        last_back = max((c["last_back_at"] for c in collected), default=0.0)
        errors: Counter[str] = Counter()
        send_errors: Counter[str] = Counter()
        for c in collected:
            errors.update(c["reconnect_errors"])
            send_errors.update(c["chat_failed"])
        sent_rooms = {lesson for c in collected for lesson in c["after_sent_rooms"]}
        metrics["reconnect"] = {
            "killed_pid": victim,
            "clients": dropped,
            "resumed": resumed,
            "lost": sum(
                n
                for c in collected
                for lesson, n in c["missing_after"].items()
                if int(lesson) in sent_rooms
            ),
            "duplicated": sum(c["duplicated"] for c in collected),
            "seconds": round(last_back - killed_at, 2) if resumed else None,
            "complete": complete,
            "connected_at_end": sum(c["connected"] for c in collected),
            "after_kill_messages": len(sent_rooms),
            "after_kill_unsent_rooms": len(after_rooms - sent_rooms),
            "chat_send_errors_so_far": dict(send_errors),
            "after_kill_expected_receipts": after_expected,
            "after_kill_receipts": sum(c["after_received"] for c in collected),
            "reloads": sum(c["reloads"] for c in collected),
            "offset_repeats_ignored": sum(c["wire_repeats"] for c in collected),
            "attempt_errors": dict(errors),
            "joins_asked_again_when_overloaded": sum(c["rejoin_waits"] for c in collected),
            "server_cpu_s": round(cpu, 2),
            "rejoins_per_server_cpu_s": _per(resumed, cpu),
        }
        self.progress.note(
            f"killed worker {victim}: {resumed}/{dropped} back in "
            f"{metrics['reconnect']['seconds']} s, lost {metrics['reconnect']['lost']}, "
            f"duplicated {metrics['reconnect']['duplicated']}"
        )

    def _lesson_end(self, phases: Phases, metrics: dict[str, Any]) -> None:
        """Everyone connected leaves within ``leave_spread`` seconds, closing as a browser
        does; the server's CPU until it is quiet again, and the visits it closed."""
        count_open = self.server.open_visits
        open_before = count_open() if count_open is not None else None
        pids = self.server.pids()
        cpu_before, infra_before = _cpu(pids), procstat.infra_cpu()
        started = time.monotonic()
        self._broadcast("leave", spread=phases.leave_spread, timeout=LEAVE_TIMEOUT)
        profiler = self._start_profile(phases, "leave")
        leaving = sum(c["leaving"] for c in self.collect())  # told in order, after "leave"
        self.progress.note(f"the lesson is over: {leaving} leave within {phases.leave_spread} s")
        everyone_out = self._wait(
            lambda: self._total("left") >= leaving,
            phases.leave_spread + LEAVE_TIMEOUT + 30,
            "leaving",
        )
        self.quiesce(0)
        busy = time.monotonic() - started - 1.0  # less the quiet second that ended it
        cpu = _cpu_spent(cpu_before, _cpu(pids))
        self._finish_profile(profiler, phases, metrics)
        collected = self.collect()
        open_after = count_open() if count_open is not None else None
        metrics["lesson_end"] = {
            "clients": leaving,
            "gone_before_leaving": sum(c["gone_before_leaving"] for c in collected),
            "everyone_out": everyone_out,
            "spread_s": phases.leave_spread,
            "server_busy_s": round(busy, 1),
            "server_cpu_s": round(cpu, 2),
            "leaves_per_server_cpu_s": _per(leaving, cpu),
            "infra_cpu_s": procstat.infra_spent(infra_before),
            "visits_open_before": open_before,
            "visits_closed": (
                open_before - open_after
                if open_before is not None and open_after is not None
                else None
            ),
        }
        self.progress.note(
            f"{leaving} left; server busy {busy:.1f} s, "
            f"{metrics['lesson_end']['leaves_per_server_cpu_s']} leaves per server CPU-s"
        )
