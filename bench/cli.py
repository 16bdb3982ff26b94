"""``urok bench …``: load and capacity harnesses, registered on urok's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.storm import command as storm


def add_commands(subparsers: Any) -> None:
    """Add ``bench`` and its harnesses: ``storm``, ``media``, ``record`` and ``board``."""
    bench = subparsers.add_parser(
        "bench", help="load and capacity harnesses (see docs/benchmarks.md)"
    )
    harnesses = bench.add_subparsers(dest="bench_command", metavar="HARNESS", required=True)
    storm.register(harnesses)
    _register_media(harnesses)
    _register_record(harnesses)
    _register_board(harnesses)


def _register_media(harnesses: Any) -> None:
    media = harnesses.add_parser(
        "media",
        help="media forwarding cost per subscriber, against aiortc's MediaRelay",
        description="One publisher, N subscribers, all aiortc on loopback; the media server "
        "runs in a process of its own and its CPU time is measured.",
    )
    media.add_argument("--subscribers", type=int, default=10, help="subscribers (default: 10)")
    media.add_argument(
        "--baseline-subscribers",
        type=int,
        default=None,
        help="subscribers of the MediaRelay baseline (default: the same, at most 4: it encodes)",
    )
    media.add_argument("--seconds", type=float, default=10.0, help="measuring window (default: 10)")
    media.add_argument("--json", type=Path, default=None, help="write the results to this file")
    media.set_defaults(bench_run=_run_media)


def _run_media(args: argparse.Namespace) -> int:
    from bench.media import main as bench_media

    if args.subscribers < 1 or args.seconds <= 0:
        print("urok: --subscribers must be at least 1 and --seconds positive", file=sys.stderr)
        return 2
    baseline = args.baseline_subscribers or min(args.subscribers, 4)
    return bench_media(args.subscribers, args.json, baseline, args.seconds)


def _register_record(harnesses: Any) -> None:
    record = harnesses.add_parser(
        "record",
        help="recording cost per recorded stream, against aiortc's MediaRecorder",
        description="Recorders remux N 640x480 VP8 + Opus streams arriving at their real pace "
        "into WebM; aiortc's MediaRecorder (decode + encode) records the same clip as the "
        "baseline in the same run. CPU time of this process is measured.",
    )
    record.add_argument("--streams", type=int, default=8, help="recorded streams (default: 8)")
    record.add_argument(
        "--baseline-streams",
        type=int,
        default=1,
        help="streams of the MediaRecorder baseline (default: 1: it encodes)",
    )
    record.add_argument(
        "--seconds", type=float, default=10.0, help="measuring window (default: 10)"
    )
    record.add_argument("--json", type=Path, default=None, help="write the results to this file")
    record.set_defaults(bench_run=_run_record)


def _run_record(args: argparse.Namespace) -> int:
    from bench.record import main as bench_record

    if args.streams < 1 or args.baseline_streams < 1 or args.seconds <= 0:
        print("urok: --streams must be at least 1 and --seconds positive", file=sys.stderr)
        return 2
    return bench_record(args.streams, args.baseline_streams, args.seconds, args.json)


def _register_board(harnesses: Any) -> None:
    board = harnesses.add_parser(
        "board",
        help="board stroke latency from a panel to students, and a long-lesson soak",
        description="Strokes from the teacher's connection to N students over Socket.IO on "
        "loopback, then many operations in one lesson through the board store.",
    )
    board.add_argument("--students", type=int, default=30, help="students (default: 30)")
    board.add_argument("--strokes", type=int, default=300, help="strokes timed (default: 300)")
    board.add_argument(
        "--operations", type=int, default=200_000, help="soak operations (default: 200000)"
    )
    board.add_argument(
        "--writers", type=int, default=8, help="concurrent senders in the soak (default: 8)"
    )
    board.add_argument(
        "--database-url",
        default="",
        help="an empty database to use (default: a temporary SQLite file per part)",
    )
    board.add_argument(
        "--parts", default="fan-out,soak", help="what to run: fan-out, soak or both (default)"
    )
    board.add_argument("--json", type=Path, default=None, help="write the results to this file")
    board.set_defaults(bench_run=_run_board)


def _run_board(args: argparse.Namespace) -> int:
    from bench.board import main as bench_board

    return bench_board(
        args.students,
        args.strokes,
        args.operations,
        args.json,
        writers=args.writers,
        database_url=args.database_url,
        parts=args.parts,
    )


def run(args: argparse.Namespace) -> int:
    """Run the harness chosen on the command line."""
    result: int = args.bench_run(args)
    return result
