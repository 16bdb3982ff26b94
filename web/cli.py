"""The ``urok`` command line."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess

from aiohttp import web

from bench import cli as bench_cli
from classroom.demo import DEMO_PASSWORD, seed_demo_school
from classroom.storage.database import Database
from web.limits import raise_open_files_limit
from web.settings import Settings, SettingsError, load_settings

log = logging.getLogger("urok")

DEMO_ACCOUNTS = ("teacher", "student", "parent", "panel", "admin")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="urok",
        description="urok: a self-hosted real-time classroom and distance-learning server.",
        epilog="Settings come from UROK_* environment variables; see README.md.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="run the server", description="Run the HTTP, Socket.IO and page server."
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port; more than 1 needs a Redis bus",
    )
    serve.add_argument(
        "--media-workers",
        type=int,
        default=None,
        help="media worker processes to start, owning lesson rooms by lesson id (default: "
        "none with one worker, as many as --workers otherwise; needs a Redis bus)",
    )
    serve.add_argument(
        "--worker-ports",
        type=int,
        default=None,
        metavar="FIRST",
        help="also let worker N listen alone on port FIRST+N, so that a balancer can send "
        "all of a lesson's connections to one worker (see docs/capacity.md)",
    )
    media_worker = commands.add_parser(
        "media-worker",
        help="run one media worker (see docs/media.md)",
        description="Own the lesson rooms whose id modulo UROK_MEDIA_WORKERS is INDEX: "
        "for media workers started apart from `urok serve`, on this or another machine.",
    )
    media_worker.add_argument("--index", type=int, required=True, help="this worker's number")
    commands.add_parser("migrate", help="create or upgrade the database schema and exit")
    bench_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "bench":
        logging.basicConfig(level=logging.WARNING)
        return bench_cli.run(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"urok: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "migrate":
        asyncio.run(_prepare_database(settings, seed=False))
        return 0
    if args.command == "media-worker":
        return media_worker(settings, args.index)
    return serve(
        settings,
        host=args.host,
        port=args.port,
        workers=args.workers,
        media_workers=args.media_workers,
        worker_ports=args.worker_ports,
    )


def media_worker(settings: Settings, index: int) -> int:
    """Run one media worker of ``UROK_MEDIA_WORKERS``."""
    if not 0 <= index < settings.media_workers:
        print(
            f"urok: --index must be below UROK_MEDIA_WORKERS ({settings.media_workers})",
            file=sys.stderr,
        )
        return 2
    from web.media_worker import run_media_worker

    _apply_gc(settings)
    return run_media_worker(settings, index)


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    media_workers: int | None = None,
    worker_ports: int | None = None,
) -> int:
    """Prepare the database, then run one server process or supervise several.

    ``media_workers``: media worker processes to start with the server. None: as many as
    ``workers`` when that is above 1 (unless ``UROK_MEDIA_WORKERS`` says that media workers
    run apart), else none (media in the one server process).
    """
    if workers < 1:
        print("urok: --workers must be at least 1", file=sys.stderr)
        return 2
    if media_workers is None:
        media_workers = 0 if workers == 1 or settings.media_workers else workers
    if not 0 <= media_workers <= 256:
        print("urok: --media-workers must be between 0 and 256", file=sys.stderr)
        return 2
    if media_workers:
        settings = dataclasses.replace(settings, media_workers=media_workers)
    if not 0 < port < 65536:
        print("urok: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    problem = worker_ports_problem(worker_ports, workers, port)
    if problem:
        print(f"urok: --worker-ports {problem}", file=sys.stderr)
        return 2
    if (workers > 1 or media_workers) and not settings.uses_redis:
        print(
            "urok: more than one process (--workers above 1, or media workers) needs a shared "
            "bus: set UROK_BUS_URL=redis://host:6379/0 (the in-process bus cannot reach other "
            "processes)",
            file=sys.stderr,
        )
        return 2
    settings = settings.with_secret()
    asyncio.run(_prepare_database(settings, seed=settings.demo))
    if workers == 1 and not media_workers and worker_ports is None:
        return run_worker(settings, host, port, reuse_port=False, announce=True)
    return supervise(settings, host, port, workers, media_workers, worker_ports)


def worker_ports_problem(first: int | None, workers: int, port: int) -> str | None:
    """Why ``--worker-ports`` cannot be used with these workers and shared port, if so."""
    if first is None:
        return None
    if not 0 < first <= 65536 - workers:
        return f"must leave room for {workers} ports below 65536"
    if first <= port < first + workers:
        return "must not include the shared --port"
    return None


async def _prepare_database(settings: Settings, *, seed: bool) -> None:
    db = Database(settings.database_url)
    try:
        await db.migrate()
        if seed:
            await seed_demo_school(db)
    finally:
        await db.close()


def _apply_gc(settings: Settings) -> None:
    if settings.gc_thresholds is not None:
        gc.set_threshold(*settings.gc_thresholds)


def run_worker(
    settings: Settings,
    host: str,
    port: int,
    *,
    reuse_port: bool,
    announce: bool,
    own_port: int | None = None,
) -> int:
    """Run one server process until SIGINT or SIGTERM; on ``own_port`` too if given."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass
    _apply_gc(settings)
    raise_open_files_limit()
    asyncio.run(
        _run(settings, host, port, reuse_port=reuse_port, announce=announce, own_port=own_port)
    )
    return 0


async def _run(
    settings: Settings,
    host: str,
    port: int,
    *,
    reuse_port: bool,
    announce: bool,
    own_port: int | None,
) -> None:
    from web.app import create_app
    from web.listen import start_site

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await start_site(runner, host, port, reuse_port=reuse_port)
    if own_port is not None:
        await start_site(runner, host, own_port)
    if settings.gc_freeze:
        gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if announce:
        _announce(settings, host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _announce(settings: Settings, host: str, port: int) -> None:
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    if ":" in shown:
        shown = f"[{shown}]"
    lines = [f"urok is running: open http://{shown}:{port}/"]
    if settings.demo:
        accounts = ", ".join(DEMO_ACCOUNTS)
        lines.append(f"demo accounts: {accounts} (password: {DEMO_PASSWORD})")
    print("\n".join(lines), flush=True)


def _worker_entry(settings: Settings, host: str, port: int, own_port: int | None) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
    )
    run_worker(settings, host, port, reuse_port=True, announce=False, own_port=own_port)


def _media_worker_entry(settings: Settings, index: int) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
    )
    media_worker(settings, index)


def supervise(
    settings: Settings,
    host: str,
    port: int,
    count: int,
    media_count: int = 0,
    worker_ports: int | None = None,
) -> int:
    """Start ``count`` workers on one port (SO_REUSEPORT) and ``media_count`` media workers,
    and restart any that dies (a media worker again with its own index, a worker on its own
    port ``worker_ports + N`` again on that port)."""
    context = multiprocessing.get_context("spawn")
    stopping = False
    own_ports = [None if worker_ports is None else worker_ports + n for n in range(count)]
    roles: list[tuple[Callable[..., None], tuple[object, ...]]] = [
        (_worker_entry, (settings, host, port, own_port)) for own_port in own_ports
    ] + [(_media_worker_entry, (settings, index)) for index in range(media_count)]

    def start(index: int) -> BaseProcess:
        target, args = roles[index]
        process = context.Process(target=target, args=args, daemon=False)
        process.start()
        return process

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    workers = [start(index) for index in range(len(roles))]
    _announce(settings, host, port)
    media = f", {media_count} media workers" if media_count else ""
    own = "" if worker_ports is None else f", worker N also alone on {worker_ports}+N"
    print(f"{count} workers share the port{own}{media}; bus: Redis", flush=True)
    while not stopping:
        time.sleep(0.5)
        for index, process in enumerate(workers):
            if not process.is_alive() and not stopping:
                log.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                workers[index] = start(index)
    for process in workers:
        if process.is_alive() and process.pid is not None:
            process.terminate()
    for process in workers:
        process.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
