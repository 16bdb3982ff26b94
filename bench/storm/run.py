"""One ``urok bench storm`` run: a scratch database and Redis prefix, urok's workers, the
storm, the baselines, and everything stopped and removed at the end, even on error."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import secrets
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from bench.storm import procstat, scratch_db
from bench.storm.driver import Driver, Phases, ServerView
from bench.storm.fleet import load_worker_count
from bench.storm.plan import Arrival, ClientTuning, Seat, Target
from bench.storm.schedule import arrivals
from bench.storm.seed import seed_storm
from bench.storm.servers import ServerGroup, python_module
from bench.storm.stats import per_second
from classroom.storage.database import Database
from presence import visits

TOKEN_TTL = 4 * 3600
ROOM_OVERRUN = dt.timedelta(minutes=10)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


LOWEST_LISTENING_PORT = 10_000


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes outgoing connections' local ports from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port free on loopback now, for a server to listen on (see ``free_port_run``)."""
    return free_port_run(1)[0]


def free_port_run(count: int) -> tuple[int, ...]:
    """``count`` consecutive ports free on loopback now, outside the range of outgoing
    connections' ports: a worker binds its own port only as it starts (and again when it
    is started again), and a port in that range may by then be a connection's (to Redis,
    to PostgreSQL, of the load client); every join routed to that worker was refused."""
    low, high = _ephemeral_ports()
    ranges = [(LOWEST_LISTENING_PORT, low), (high + 1, 65536)]
    candidates = [(start, end) for start, end in ranges if end - start > count]
    if not candidates:
        raise SystemExit("no ports outside the range of outgoing connections")
    for _attempt in range(200):
        start, end = random.choice(candidates)
        first = random.randrange(start, end - count)
        try:
            with contextlib.ExitStack() as probes:
                for port in range(first, first + count):
                    probe = probes.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return tuple(range(first, first + count))
    raise SystemExit("no run of free ports for the workers")


def source_addresses(count: int) -> list[str]:
    return [f"127.0.0.{2 + i}" for i in range(count)]


def _bell_in(options: argparse.Namespace) -> dt.timedelta:
    """When the lessons start, from the seeding: ``--bell-at`` seconds into the arrival
    schedule, by default at its end (every student on time, nobody marked late)."""
    if options.bell_at is not None:
        return dt.timedelta(seconds=options.bell_at)
    span = max(arrivals(options.students, options.rate, options.shape, options.ramp), default=0)
    return dt.timedelta(seconds=span)


async def _count_open_visits(url: str) -> int:
    db = Database(url)
    try:
        return await visits.open_count(db)
    finally:
        await db.close()


async def _seed(url: str, students: int, secret: str, bell_in: dt.timedelta) -> list[Seat]:
    db = Database(url)
    try:
        await db.migrate()
        return await seed_storm(
            db,
            students,
            secret_key=secret,
            token_ttl=TOKEN_TTL,
            room_overrun=ROOM_OVERRUN,
            bell_in=bell_in,
        )
    finally:
        await db.close()


def _delete_keys(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def _plan(seats: list[Seat], options: argparse.Namespace) -> list[Arrival]:
    order = list(seats)
    random.Random(options.seed).shuffle(order)  # classes fill up in no particular order
    times = arrivals(len(order), options.rate, options.shape, options.ramp)
    return [Arrival(seat, at) for seat, at in zip(order, times, strict=True)]


def _phases(options: argparse.Namespace, kill: bool, profile_path: Path | None) -> Phases:
    return Phases(
        profile_seconds=options.profile if profile_path else 0.0,
        profile_path=profile_path,
        profile_phase=options.profile_phase,
        hold=options.hold,
        chat_rounds=options.chat_rounds,
        chat_interval=options.chat_interval,
        kill=kill,
        reconnect_timeout=options.reconnect_timeout,
        leave=not options.no_leave,
        leave_spread=options.leave_spread,
    )


POSTGRES_CONNECTIONS_FOR_WORKERS = 80
"""Of PostgreSQL's default 100 connections, what the workers' pools may hold together."""


def db_pool_size(workers: int) -> int:
    """Each worker's pool: 20 (the server's default) unless the workers would hold more
    than PostgreSQL accepts together."""
    return max(2, min(20, POSTGRES_CONNECTIONS_FOR_WORKERS // max(1, workers)))


def _server_env(options: argparse.Namespace, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UROK_")}
    env.update(
        UROK_GC_THRESHOLDS=options.gc_thresholds,
        UROK_GC_FREEZE=str(options.gc_freeze),
        UROK_PING_INTERVAL=str(options.ping_interval),
        UROK_WRITE_LINGER=str(options.write_linger),
        UROK_WEBSOCKET_FRONT=options.websocket_front,
        UROK_DEMO="0",
        UROK_DEMO_LESSON_NOW="0",
        UROK_LOG_LEVEL="WARNING",
        **values,
    )
    return env


class StormRun:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.deadline = time.time() + options.timeout
        self.cleanup = contextlib.ExitStack()
        self.tuning = ClientTuning(join_timeout=options.join_timeout)
        self.report: dict[str, Any] = {
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "students": options.students,
            "workers": options.workers,
            "rate": options.rate,
            "shape": options.shape,
            "ramp": options.ramp,
            "database": options.database,
            "bell_after_seeding_s": _bell_in(options).total_seconds(),
            "gc": {"thresholds": options.gc_thresholds, "freeze": bool(options.gc_freeze)},
            "heartbeat": {"ping_interval_s": options.ping_interval, "ping_timeout_s": 20.0},
            "write_linger_s": options.write_linger,
            "websocket_front": None if options.url else options.websocket_front,
            "db_pool_size_per_worker": db_pool_size(options.workers),
            "placement": options.placement,
            "cpus": os.cpu_count(),
        }

    def run(self) -> dict[str, Any]:
        with contextlib.ExitStack() as outer:
            self._alarm(outer)
            with self.cleanup:
                seats = self._seed_and_serve()
                plan = _plan(seats, self.options)
                self.report["arrival_schedule_seconds"] = round(max(a.at for a in plan), 1)
                self._storm("urok", plan, self.urok_view, kill=not self.options.no_kill)
            for name in self._baselines():
                self.cleanup = contextlib.ExitStack()
                with self.cleanup:
                    self._baseline(name, plan)
        return self.report

    def _alarm(self, stack: contextlib.ExitStack) -> None:
        """A last resort past the deadline: SIGALRM raises, and the cleanup still runs."""

        def expired(_signum: int, _frame: object) -> None:
            raise TimeoutError("urok bench storm: --timeout expired")

        def stopped(signum: int, _frame: object) -> None:
            raise KeyboardInterrupt(f"urok bench storm: signal {signum}")

        for signum, handler in (
            (signal.SIGALRM, expired),
            (signal.SIGTERM, stopped),
            (signal.SIGINT, stopped),  # also when started in the background, where it is ignored
        ):
            stack.callback(signal.signal, signum, signal.signal(signum, handler))
        signal.alarm(int(self.options.timeout) + 30)
        stack.callback(signal.alarm, 0)

    def _baselines(self) -> list[str]:
        wanted = [b.strip() for b in self.options.baselines.split(",") if b.strip()]
        return [b for b in wanted if b in {"raw", "stock"}]

    # -- urok ---------------------------------------------------------------------------

    def _seed_and_serve(self) -> list[Seat]:
        options = self.options
        secret = os.environ.get("UROK_SECRET_KEY") or secrets.token_urlsafe(48)
        if options.url:
            return self._external(secret)
        if options.database == "postgresql":
            url = asyncio.run(scratch_db.create_postgres(options.postgres_url))
            self.cleanup.callback(
                lambda: asyncio.run(scratch_db.drop_postgres(url, options.postgres_url))
            )
        else:
            folder = Path(self.cleanup.enter_context(tempfile.TemporaryDirectory()))
            url = scratch_db.sqlite_url(folder)
        prefix = f"urok-bench-{secrets.token_hex(6)}:"
        self.cleanup.callback(_delete_keys, options.redis_url, prefix)
        started = time.monotonic()
        seats = asyncio.run(_seed(url, options.students, secret, _bell_in(options)))
        self.report["seed_seconds"] = round(time.monotonic() - started, 1)
        port = free_port()
        worker_ports: tuple[int, ...] = ()
        if options.placement == "lesson":
            worker_ports = free_port_run(options.workers)
        self.target = Target("127.0.0.1", port, worker_ports)
        env = _server_env(
            options,
            UROK_DATABASE_URL=url,
            UROK_BUS_URL=options.redis_url,
            UROK_BUS_PREFIX=prefix,
            UROK_SECRET_KEY=secret,
            UROK_DATA_DIR=self.cleanup.enter_context(tempfile.TemporaryDirectory()),
            UROK_DB_POOL_SIZE=str(db_pool_size(options.workers)),
        )
        argv = python_module(
            "bench.storm.serve_urok", "--port", str(port), "--workers", str(options.workers)
        )
        if worker_ports:
            argv += ["--worker-ports", str(worker_ports[0])]
        server = ServerGroup("urok", argv, env, port, self._log_dir() / "urok.log")
        self.cleanup.callback(self._note_log, "server_log", server)
        self.cleanup.callback(server.stop)
        server.start(options.workers)

        def kill_one() -> int:
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            return victim

        def wait_restart(victim: int) -> None:
            server.wait_workers(options.workers, 60, exclude={victim})

        self.urok_view = ServerView(
            server.worker_pids,
            kill_one,
            wait_restart,
            open_visits=lambda: asyncio.run(_count_open_visits(url)),
        )
        return seats

    def _external(self, secret: str) -> list[Seat]:
        options = self.options
        parts = urlsplit(options.url)
        if parts.hostname not in LOOPBACK or not options.database_url:
            raise SystemExit("--url must be on loopback and needs --database-url")
        if options.placement != "any":
            raise SystemExit("--placement lesson needs the bench's own workers (not --url)")
        if not os.environ.get("UROK_SECRET_KEY"):
            raise SystemExit("--url needs the server's UROK_SECRET_KEY in the environment")
        self.target = Target("127.0.0.1", parts.port or 80)
        pids = [int(p) for p in options.server_pids.split(",") if p.strip()]
        self.urok_view = ServerView(
            lambda: [p for p in pids if procstat.cpu_seconds(p) > 0],
            open_visits=lambda: asyncio.run(_count_open_visits(options.database_url)),
        )
        self.report["workers"] = len(pids) or None
        return asyncio.run(_seed(options.database_url, options.students, secret, _bell_in(options)))

    def _log_dir(self) -> Path:
        return Path(self.cleanup.enter_context(tempfile.TemporaryDirectory()))

    def _note_log(self, key: str, server: ServerGroup) -> None:
        self.report[key] = server.log_summary()

    urok_view: ServerView
    target: Target

    # -- the storm ----------------------------------------------------------------------

    def _storm(
        self, name: str, plan: list[Arrival], view: ServerView, *, kill: bool
    ) -> dict[str, Any]:
        count = load_worker_count(len(plan), self.options.load_workers)
        driver = Driver(
            name, plan, self.target, source_addresses(count), self.tuning, view, self.deadline
        )
        self.cleanup.callback(driver.stop_workers)
        profile_path = None
        if name == "urok":
            profile_path = self.options.profile_raw or self._log_dir() / "profile.txt"
        outcome = driver.run(_phases(self.options, kill, profile_path))
        metrics = outcome.metrics
        metrics["join_timeline"] = per_second(outcome.join_samples, [a.at for a in plan])
        if name == "urok":
            self.report.update(metrics)
        else:
            self.report[f"baseline_{name}"] = metrics
        return metrics

    def _baseline(self, name: str, plan: list[Arrival]) -> None:
        options = self.options
        port = free_port()
        self.target = Target("127.0.0.1", port)
        argv = python_module(
            f"bench.storm.baseline_{name}",
            "--port",
            str(port),
            "--ping-interval",
            str(options.ping_interval),
            "--gc-thresholds",
            options.gc_thresholds,
            "--gc-freeze",
            str(options.gc_freeze),
        )
        log = self._log_dir() / f"{name}.log"
        server = ServerGroup(f"baseline_{name}", argv, _server_env(options), port, log)
        self.cleanup.callback(server.stop)
        server.start(1)
        self._storm(name, plan, ServerView(server.worker_pids), kill=False)
