"""Where a held connection's memory goes (``python -m bench.conn_memory``).

A urok server runs in this process under tracemalloc (SQLite, in-process bus, no demo
school); a child process opens N Socket.IO connections with student tokens and holds them.
The heap grown between before and after is printed per connection, by allocation site and
by the module that allocated it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import tempfile
import tracemalloc
from collections import Counter
from multiprocessing.synchronize import Event

from aiohttp import web

SECRET = "conn-memory-bench-" + "k" * 32
GROUPS = ("aiohttp", "engineio", "socketio", "realtime", "web", "asyncio", "uvloop", "multidict")


def _hold(port: int, count: int, ready: Event) -> None:
    import uvloop

    from bench.storm.socketio_wire import SocketIO
    from classroom.roles import Principal, Role
    from classroom.tokens import TokenService

    async def hold() -> None:
        tokens = TokenService(SECRET, 3600)
        held = []
        for n in range(count):
            token = tokens.issue(Principal(1_000_000 + n, Role.STUDENT, 1))
            held.append(
                await SocketIO.connect(
                    "127.0.0.1",
                    port,
                    {"token": token},
                    lambda _name, _data: None,
                    source="127.0.0.2",
                    timeout=30,
                )
            )
        ready.set()
        await asyncio.sleep(3600)

    uvloop.run(hold())


def _where(frame: tracemalloc.Frame) -> str:
    name = frame.filename.split("site-packages/")[-1]
    for root in GROUPS:
        marker = f"/{root}/"
        if marker in frame.filename and "site-packages/" not in frame.filename:
            name = root + "/" + frame.filename.split(marker, 1)[1]
    return f"{name}:{frame.lineno}"


def _module(traceback: tracemalloc.Traceback) -> str:
    for frame in reversed(traceback):  # the most recent frame first
        where = _where(frame)
        if where.split("/", 1)[0] in GROUPS:
            return where.split(":", 1)[0]
    return "(elsewhere)"


async def measure(count: int, top: int, front: str) -> None:
    from web.app import create_app
    from web.listen import start_site
    from web.settings import load_settings

    settings = load_settings(
        {
            "UROK_DATA_DIR": tempfile.mkdtemp(),
            "UROK_SECRET_KEY": SECRET,
            "UROK_DEMO": "0",
            "UROK_WEBSOCKET_FRONT": front,
        }
    )
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await start_site(runner, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    gc.collect()
    gc.freeze()
    tracemalloc.start(30)
    before = tracemalloc.take_snapshot()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold, args=(port, count, ready))
    holder.start()
    try:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, ready.wait, 300):
            raise SystemExit("the connections were not all opened within 300 s")
        await asyncio.sleep(2)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        holder.kill()
        holder.join()
    stats = after.compare_to(before, "traceback")
    total = sum(stat.size_diff for stat in stats)
    print(f"{count} connections held ({front}): {total / count / 1024:.2f} KB of Python heap each")
    print("\nby allocation site (bytes and objects per connection; most recent frames first):")
    for stat in sorted(stats, key=lambda s: -s.size_diff)[:top]:
        chain = " <- ".join(_where(f) for f in list(reversed(stat.traceback))[:3])
        print(f"{stat.size_diff / count:8.1f} B {stat.count_diff / count:6.2f}  {chain}")
    modules: Counter[str] = Counter()
    for stat in stats:
        modules[_module(stat.traceback)] += stat.size_diff
    print("\nby the module that allocated it:")
    for module, size in modules.most_common(top):
        print(f"{size / count:8.1f} B  {module}")
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=3000, help="held (default: 3000)")
    parser.add_argument("--top", type=int, default=25, help="lines per table (default: 25)")
    parser.add_argument(
        "--front",
        choices=("door", "aiohttp"),
        default="door",
        help="how WebSockets are served (UROK_WEBSOCKET_FRONT; default: door)",
    )
    args = parser.parse_args()
    if not 1 <= args.connections <= 15_000:
        parser.error("--connections must be between 1 and 15,000 (one process holds each end)")
    import uvloop

    uvloop.run(measure(args.connections, args.top, args.front))


if __name__ == "__main__":
    main()
