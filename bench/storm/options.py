"""The command line of ``urok bench storm``."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.storm.schedule import SHAPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    load = parser.add_argument_group("the storm")
    load.add_argument("--students", type=int, default=600, help="virtual students (default 600)")
    load.add_argument("--rate", type=float, default=300.0, help="peak joins per second")
    load.add_argument("--shape", choices=SHAPES, default="ramp", help="arrival curve")
    load.add_argument("--ramp", type=float, default=10.0, help="seconds to reach the peak rate")
    load.add_argument(
        "--load-workers", type=int, default=0, help="load processes (default: 1 per 18k sockets)"
    )
    load.add_argument("--join-timeout", type=float, default=60.0, help="seconds per join attempt")
    load.add_argument("--chat-rounds", type=int, default=3, help="chat messages per room")
    load.add_argument("--chat-interval", type=float, default=1.0, help="seconds between rounds")
    load.add_argument(
        "--hold", type=float, default=2.0, help="seconds to hold before measuring RSS"
    )
    load.add_argument("--no-kill", action="store_true", help="skip killing a server worker")
    load.add_argument("--reconnect-timeout", type=float, default=120.0)
    load.add_argument(
        "--leave-spread",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="at the lesson's end everyone leaves within this time (default 10)",
    )
    load.add_argument("--no-leave", action="store_true", help="skip the lesson's end")
    load.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="py-spy one urok worker for this long from the start of a phase",
    )
    load.add_argument(
        "--profile-phase",
        choices=("joins", "chat", "leave"),
        default="joins",
        help="the phase --profile starts with",
    )
    load.add_argument(
        "--profile-raw", type=Path, help="keep py-spy's raw samples (collapsed stacks) here"
    )
    load.add_argument("--seed", type=int, default=830, help="random seed of the arrival order")
    load.add_argument(
        "--bell-at",
        type=float,
        metavar="SECONDS",
        help="lessons start this long after seeding (negative: before); default: when the "
        "last arrival is due, so nobody is late (five minutes after the bell, arrivals are "
        "marked late and parents told)",
    )

    server = parser.add_argument_group("the server")
    server.add_argument("--workers", type=int, default=1, help="urok server processes")
    server.add_argument(
        "--placement",
        choices=("any", "lesson"),
        default="any",
        help="any: every connection to the shared port (the kernel picks a worker); lesson: "
        "to the port of the worker holding the lesson, as a balancer routing by lesson does",
    )
    server.add_argument(
        "--database", choices=("postgresql", "sqlite"), default="postgresql", help="storage"
    )
    server.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        help="an existing database to create the bench's own database from",
    )
    server.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    server.add_argument("--gc-thresholds", default="100000,50,100", help="or 'default'")
    server.add_argument("--gc-freeze", type=int, choices=(0, 1), default=1)
    server.add_argument("--ping-interval", type=float, default=25.0, help="Engine.IO heartbeat")
    server.add_argument(
        "--write-linger",
        type=float,
        default=0.02,
        help="seconds urok's visit and chat writes wait for company (UROK_WRITE_LINGER)",
    )
    server.add_argument(
        "--websocket-front",
        choices=("door", "aiohttp"),
        default="door",
        help="how urok serves new WebSockets (UROK_WEBSOCKET_FRONT; default: door)",
    )
    server.add_argument(
        "--baselines", default="raw,stock", help="baselines to run too: raw,stock or none"
    )
    server.add_argument(
        "--url",
        help="a running urok on loopback instead (needs --database-url and UROK_SECRET_KEY)",
    )
    server.add_argument("--database-url", help="the running server's database (with --url)")
    server.add_argument(
        "--server-pids", default="", help="with --url: worker pids to read CPU and RSS from"
    )

    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, help="write the report as JSON")
    out.add_argument("--markdown", type=Path, help="write a Markdown summary")
    out.add_argument("--chart", type=Path, help="draw arrivals and join latency (PNG)")
    out.add_argument("--timeout", type=float, default=900.0, help="stop everything after this")
