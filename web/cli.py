"""The ``urok`` command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess

from aiohttp import web

from classroom.demo import DEMO_PASSWORD, seed_demo_school
from classroom.storage.database import Database
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
    commands.add_parser("migrate", help="create or upgrade the database schema and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
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
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    """Prepare the database, then run one server process or supervise several."""
    if workers < 1:
        print("urok: --workers must be at least 1", file=sys.stderr)
        return 2
    if not 0 < port < 65536:
        print("urok: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    if workers > 1 and not settings.uses_redis:
        print(
            "urok: --workers above 1 needs a shared bus: set UROK_BUS_URL=redis://host:6379/0 "
            "(the in-process bus cannot reach other processes)",
            file=sys.stderr,
        )
        return 2
    settings = settings.with_secret()
    asyncio.run(_prepare_database(settings, seed=settings.demo))
    if workers == 1:
        return run_worker(settings, host, port, reuse_port=False, announce=True)
    return _supervise(settings, host, port, workers)


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
    settings: Settings, host: str, port: int, *, reuse_port: bool, announce: bool
) -> int:
    """Run one server process until SIGINT or SIGTERM."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass
    _apply_gc(settings)
    asyncio.run(_run(settings, host, port, reuse_port=reuse_port, announce=announce))
    return 0


async def _run(
    settings: Settings, host: str, port: int, *, reuse_port: bool, announce: bool
) -> None:
    from web.app import create_app

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
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


def _worker_entry(settings: Settings, host: str, port: int) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
    )
    run_worker(settings, host, port, reuse_port=True, announce=False)


def _supervise(settings: Settings, host: str, port: int, count: int) -> int:
    """Start ``count`` workers on one port (SO_REUSEPORT) and restart any that dies."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=_worker_entry, args=(settings, host, port), daemon=False)
        process.start()
        return process

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    workers = [start() for _ in range(count)]
    _announce(settings, host, port)
    print(f"{count} workers share the port; bus: Redis", flush=True)
    while not stopping:
        time.sleep(0.5)
        for index, process in enumerate(workers):
            if not process.is_alive() and not stopping:
                log.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                workers[index] = start()
    for process in workers:
        if process.is_alive() and process.pid is not None:
            process.terminate()
    for process in workers:
        process.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
