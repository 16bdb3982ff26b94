"""``urok bench storm``: run the storm and write the report, summary and chart."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from bench.storm.options import add_arguments
from bench.storm.run import StormRun
from bench.storm.summary import markdown

SOCKETS_PER_SERVER_WORKER = 19_000


def _clean(value: Any) -> Any:
    """NaN is not JSON: write null instead."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "storm",
        help="the 8:30 storm: students joining their lessons at once",
        description="Seed a school, start urok's workers, let students join on a schedule, "
        "chat, kill a worker, and measure; then the same load against two baselines.",
    )
    add_arguments(parser)
    parser.set_defaults(bench_run=run)


def run(args: argparse.Namespace) -> int:
    if args.students < 1 or args.workers < 1 or args.rate <= 0:
        print(
            "urok bench storm: --students, --workers and --rate must be positive", file=sys.stderr
        )
        return 2
    if not args.url and args.students > SOCKETS_PER_SERVER_WORKER * args.workers:
        print(
            f"urok bench storm: {args.students} students over {args.workers} worker(s) is more "
            f"than {SOCKETS_PER_SERVER_WORKER:,} sockets per process (20,000 open files each); "
            "joins will fail with refused connections: add --workers",
            file=sys.stderr,
        )
    report = _clean(StormRun(args).run())
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text + "\n")
    summary = markdown(report)
    if args.markdown:
        args.markdown.write_text(summary)
    if args.chart:
        from bench.storm.chart import draw

        draw(report, args.chart)
    print(summary)
    return 0
